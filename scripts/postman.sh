#!/usr/bin/env bash
# Run the Postman collection (postman/) with newman against a fresh server: `python app.py`
# on a free port (or $PORT) with a scratch SQLite database in a temporary INSTANCE_PATH.
# The server is stopped and the scratch files removed on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=.venv/bin/python
NEWMAN=node_modules/.bin/newman
COLLECTION=postman/shopapi.postman_collection.json
ENVIRONMENT=postman/shopapi.postman_environment.json

if [ ! -x "$PYTHON" ]; then
  echo "postman: $PYTHON is missing; run \`make install\` first" >&2
  exit 1
fi
# newman comes from package-lock.json (npm ci), installed in this repository, never globally.
if [ ! -x "$NEWMAN" ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "postman: installing newman (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

PORT=${PORT:-$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
BASE_URL="http://127.0.0.1:$PORT"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/shopapi-postman.XXXXXX")
server_pid=""

cleanup() {
  local status=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -s "$scratch/server.log" ]; then
    echo "postman: last lines of the server log:" >&2
    tail -n 40 "$scratch/server.log" >&2
  fi
  rm -rf "$scratch"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Explicit values win over a developer's .env (python-dotenv does not override them):
# fresh secrets are generated under the scratch instance folder, no Redis. Webhooks may go to
# the loopback only (folder 7's endpoint, where nothing listens), so that every other internal
# address is still refused as in any deployment.
echo "postman: starting the server on $BASE_URL (database: $scratch/shopapi.sqlite3)"
env APP_ENV=development \
    INSTANCE_PATH="$scratch/instance" \
    DATABASE_URL="sqlite:///$scratch/shopapi.sqlite3" \
    JWT_SECRET_KEY= TOTP_ENCRYPTION_KEY= REDIS_URL= CORS_ORIGINS= TRUSTED_PROXIES=0 \
    WEBHOOK_ALLOWED_NETWORKS=127.0.0.0/8 \
    HOST=127.0.0.1 PORT="$PORT" \
    "$PYTHON" app.py >"$scratch/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 150); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "postman: the server exited during start-up" >&2
    exit 1
  fi
  if "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
      "$BASE_URL/healthz" >/dev/null 2>&1; then
    break
  fi
  sleep 0.2
done
"$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
  "$BASE_URL/healthz" >/dev/null || { echo "postman: the server did not come up" >&2; exit 1; }

mkdir -p test-output
"$NEWMAN" run "$COLLECTION" \
  --environment "$ENVIRONMENT" \
  --env-var "baseUrl=$BASE_URL" \
  --reporters cli,junit \
  --reporter-junit-export test-output/newman.xml \
  --color off \
  "$@"
