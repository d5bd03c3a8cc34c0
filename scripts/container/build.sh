#!/usr/bin/env bash
# `make image`: build the service's image (deploy/Containerfile) with podman, making the
# Debian base image first when it is missing and cannot be pulled. IMAGE names the result
# (default shopapi:latest). pip in the build uses the index this machine's pip uses (its
# index URL and CA bundle, as build secrets that stay out of every layer).
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE=${IMAGE:-localhost/shopapi:latest}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/deploy/podman/containers.conf}

bash scripts/container/base-image.sh

secrets=$(mktemp -d)
trap 'rm -rf "$secrets"' EXIT
python3 - "$secrets/pipconf" <<'PY'
# Only the host's network indexes: local file:// ones mean nothing inside the build.
import subprocess, sys
lines = subprocess.run(["python3", "-m", "pip", "config", "list"], capture_output=True,
                       text=True).stdout.splitlines()
conf = {}
for line in lines:
    key, _, value = line.partition("=")
    name = key.rsplit(".", 1)[-1]
    value = value.strip().strip("'")
    if name in ("index-url", "extra-index-url", "trusted-host"):
        urls = [u for u in value.split() if not u.startswith("file:")]
        if urls:
            conf[name] = " ".join(urls)
import os
for env, name in (("PIP_INDEX_URL", "index-url"), ("PIP_EXTRA_INDEX_URL", "extra-index-url")):
    if os.environ.get(env):
        conf[name] = os.environ[env]
with open(sys.argv[1], "w") as fh:
    fh.write("[global]\n" + "".join(f"{k} = {v}\n" for k, v in conf.items()))
PY
cert=$(python3 -m pip config get global.cert 2>/dev/null || true)
cert=${PIP_CERT:-${cert:-}}
if [ -n "$cert" ] && [ -r "$cert" ]; then cp "$cert" "$secrets/pipcert"; else : >"$secrets/pipcert"; fi

start=$(date +%s)
# --format docker: the OCI format has no HEALTHCHECK, and podman would drop it.
podman build --format docker --layers -f deploy/Containerfile -t "$IMAGE" \
  --secret id=pipconf,src="$secrets/pipconf" --secret id=pipcert,src="$secrets/pipcert" .
echo "image: $IMAGE built in $(( $(date +%s) - start )) s," \
  "$(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
