#!/usr/bin/env bash
# `make compose-up` / `make compose-down`: deploy/compose.yaml with podman-compose, in the
# order its depends_on conditions say (podman-compose 1.0 starts services without waiting
# for health checks or for the migration job, so this waits for them): the database and
# Redis healthy, the migrations done, both instances healthy, then the proxy.
#   scripts/container/compose.sh up | upgrade | down [--volumes] | ps | logs SERVICE
# `upgrade` rolls the set onto the image SHOPAPI_IMAGE names now: the migrations with it,
# then each instance replaced in turn while the other serves, then the proxy reloaded.
# PROJECT (default shopapi) names the containers, SHOPAPI_SECRETS the secrets' folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/deploy/podman/containers.conf}
PROJECT=${PROJECT:-shopapi}
compose() { podman-compose -f deploy/compose.yaml -p "$PROJECT" "$@"; }
container() { echo "${PROJECT}_$1_1"; }

# Podman runs health checks from systemd timers and says so on every start where there is no
# systemd; the checks are run here instead (see healthy), so that line is left out.
quiet() {
  "$@" 2>&1 | { grep -v 'unable to get systemd connection' || true; }
  return "${PIPESTATUS[0]}"
}

healthy() {  # healthy SERVICE [SECONDS]: run its health check until it passes
  local name deadline=$((SECONDS + ${2:-120}))
  name=$(container "$1")
  until podman healthcheck run "$name" >/dev/null 2>&1; do
    if [ "$(podman inspect --format '{{.State.Running}}' "$name" 2>/dev/null)" != true ] \
      || [ $SECONDS -ge $deadline ]; then
      echo "compose: $1 is not healthy; its last lines:" >&2
      podman logs --tail 30 "$name" >&2 || true
      return 1
    fi
    sleep 1
  done
  echo "compose: $1 healthy"
}

start() { for service in "$@"; do quiet podman start "$(container "$service")" >/dev/null; done; }

up() {
  if [ -z "${SHOPAPI_SECRETS:-}" ]; then bash scripts/container/secrets.sh >/dev/null; fi
  # Every container created (none started), then each started once what it needs is ready.
  quiet compose up --no-start >/dev/null
  start db redis
  healthy db
  healthy redis
  migrate
  start app1 app2
  healthy app1
  healthy app2
  start proxy
  echo "compose: up; the service answers at http://${SHOPAPI_LISTEN:-127.0.0.1:8080}"
}

migrate() {
  start migrate
  status=$(podman wait "$(container migrate)")
  if [ "$status" != 0 ]; then
    podman logs "$(container migrate)" >&2
    echo "compose: the migrations failed ($status)" >&2
    return 1
  fi
  echo "compose: migrations done"
}

recreate() {  # recreate SERVICE: a new container from the image configured now
  podman rm -f -t 35 "$(container "$1")" >/dev/null  # SIGTERM: in-flight requests finish
  quiet compose up --no-start >/dev/null 2>&1 || true  # creates the missing ones only
}

# routed SERVICE yes|no: whether the proxy sends SERVICE new requests; nginx reloads (its
# old workers finish the requests they have), and looks the instances' addresses up again.
routed() {
  local mark=""
  if [ "$2" = no ]; then mark=" down"; fi
  quiet podman exec "$(container proxy)" \
    sed -i -E "s/server $1:8000( down)?;/server $1:8000$mark;/" /etc/nginx/conf.d/default.conf
  quiet podman exec "$(container proxy)" nginx -s reload >/dev/null
}

upgrade() {
  recreate migrate
  migrate
  for service in app1 app2; do
    # Drained first: nginx retries no POST on another instance, so none may meet one
    # that is going away.
    routed "$service" no
    sleep 2
    recreate "$service"
    start "$service"
    healthy "$service"
    # A new container has a new address, which nginx looks up when it reloads.
    routed "$service" yes
  done
  echo "compose: upgraded to ${SHOPAPI_IMAGE:-localhost/shopapi:latest}"
}

case ${1:-up} in
  up) up ;;
  upgrade) upgrade ;;
  down)
    shift
    quiet compose down "$@" >/dev/null
    podman network rm -f "${PROJECT}_default" >/dev/null 2>&1 || true
    echo "compose: down"
    ;;
  *) compose "$@" ;;
esac
