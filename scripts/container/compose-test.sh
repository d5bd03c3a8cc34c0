#!/usr/bin/env bash
# `make compose-test`: build the image, start deploy/compose.yaml with podman-compose (the
# official MariaDB, Redis and nginx images, or stand-ins built from Debian's packages when
# they cannot be pulled), run scripts/container/smoke.py through the proxy (sign-in with
# TOTP, products CRUD, one instance killed, the database killed and restarted), check the
# image's hardening, and take everything down again, volumes included.
# Scratch secrets, a project name of its own (shopapi-test) and port 127.0.0.1:18080 keep
# it apart from a set started with `make compose-up`.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/deploy/podman/containers.conf}
export PROJECT=${PROJECT:-shopapi-test} SHOPAPI_LISTEN=${SHOPAPI_LISTEN:-127.0.0.1:18080}
export NEW_USER_ROLE=editor  # the smoke account creates products; production's default is viewer
export WEB_CONCURRENCY=${WEB_CONCURRENCY:-1}
PYTHON=${PYTHON:-.venv/bin/python}
started=$SECONDS

bash scripts/container/build.sh
eval "$(bash scripts/container/standins.sh)"
export SHOPAPI_IMAGE=localhost/shopapi:latest MARIADB_IMAGE REDIS_IMAGE NGINX_IMAGE

secrets=$(mktemp -d)
export SHOPAPI_SECRETS=$secrets/secrets
bash scripts/container/secrets.sh "$SHOPAPI_SECRETS" >/dev/null
cleanup() {
  bash scripts/container/compose.sh down --volumes >/dev/null 2>&1 || true
  rm -rf "$secrets"
}
trap cleanup EXIT

bash scripts/container/compose.sh down --volumes >/dev/null 2>&1 || true
up_started=$SECONDS
bash scripts/container/compose.sh up
echo "compose-test: the set was up in $((SECONDS - up_started)) s"

# The hardening the image promises, as podman reports it.
app="${PROJECT}_app1_1"
[ "$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$app")" = true ] \
  || { echo "compose-test: $app's root filesystem is writable" >&2; exit 1; }
uid=$(podman exec "$app" id -u)
[ "$uid" != 0 ] || { echo "compose-test: $app runs as root" >&2; exit 1; }
environment=$(podman inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$app")
for name in jwt_secret_key totp_encryption_key database_url; do
  if grep -qF "$(cat "$SHOPAPI_SECRETS/$name")" <<<"$environment"; then
    echo "compose-test: the secret $name shows in podman inspect's environment" >&2; exit 1
  fi
done
# The build's secrets (pip's index and CA bundle) stay in the build stage's RUN alone.
leftovers=$(podman run --rm --entrypoint sh "$SHOPAPI_IMAGE" -c \
  'ls -A /run/secrets; ls /etc/pip.conf /etc/xdg/pip 2>/dev/null; command -v pip pip3 || true')
[ -z "$leftovers" ] || { echo "compose-test: the image keeps: $leftovers" >&2; exit 1; }
echo "compose-test: $app runs as uid $uid on a read-only root; no secret in its environment"

"$PYTHON" scripts/container/smoke.py --url "http://$SHOPAPI_LISTEN" --project "$PROJECT" \
  --upgrade "bash scripts/container/compose.sh upgrade"
echo "compose-test: passed in $((SECONDS - started)) s"
