#!/usr/bin/env bash
# `make fuzz`: schemathesis against the service's own /openapi.json.
#
# Starts a fresh server (as `make serve` does) on a scratch SQLite database, signs
# in with real TOTP codes for every authenticated request (scripts/fuzz_hooks.py), and
# fails on any server error, undocumented status, wrong content type, response that does
# not match its schema, or invalid input that is accepted. Bounded: at most
# FUZZ_MAX_EXAMPLES cases per operation and phase (default 50), a fixed seed (FUZZ_SEED)
# so a CI run is repeatable. Extra schemathesis arguments: FUZZ_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=$(cd "${BIN:-.venv/bin}" && pwd)
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/shopapi-fuzz.XXXXXX")
PORT=$("$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
SERVER_PID=
SCRATCH_DB=

mariadb_scratch() {  # mariadb_scratch SQL: run SQL on the FUZZ_MARIADB_URL server
  "$BIN/python" -c 'import sys, sqlalchemy as sa
with sa.create_engine(sys.argv[1], isolation_level="AUTOCOMMIT").connect() as c:
    c.execute(sa.text(sys.argv[2]))' "$FUZZ_MARIADB_URL" "$1"
}

stop() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  if [ -n "$SCRATCH_DB" ]; then mariadb_scratch "DROP DATABASE IF EXISTS \`$SCRATCH_DB\`" || true; fi
  rm -rf "$SCRATCH"
}
trap stop EXIT

export APP_ENV=test INSTANCE_PATH="$SCRATCH/instance" HOST=127.0.0.1 PORT
# FUZZ_MARIADB_URL (a server, like TEST_MARIADB_URL): fuzz on a scratch MariaDB database
# instead, dropped at the end; the driver and the database see the same inputs as SQLite.
if [ -n "${FUZZ_MARIADB_URL:-}" ]; then
  SCRATCH_DB="shopapi_fuzz_$(basename "$SCRATCH" | tr -dc 'a-zA-Z0-9')"
  export DATABASE_URL="${FUZZ_MARIADB_URL%/}/$SCRATCH_DB"
  mariadb_scratch "CREATE DATABASE \`$SCRATCH_DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
else
  export DATABASE_URL="sqlite:///$SCRATCH/fuzz.sqlite3"
fi
# Cheap hashing and generous per-address limits: the fuzzer signs in very often from one
# address, and should reach the API's logic rather than the limiter.
export ARGON2_TIME_COST=1 ARGON2_MEMORY_COST=256
export LOGIN_RATE_LIMIT_PER_ADDRESS=100000/minute REGISTER_RATE_LIMIT_PER_ADDRESS=100000/minute
export LOGIN_RATE_LIMIT_GLOBAL=100000/minute HASH_QUEUE=64
export WEB_CONCURRENCY=2 THREADS=4
# Every fuzzing account is an admin, so the administration operations are reached too.
export NEW_USER_ROLE=admin
unset REDIS_URL

"$BIN/flask" --app app db upgrade >"$SCRATCH/migrate.log" 2>&1
"$BIN/python" -m shopapi.serving >"$SCRATCH/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  if "$BIN/python" -c "import urllib.request as u; u.urlopen('$BASE/healthz', timeout=1)" 2>/dev/null; then
    break
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$SCRATCH/server.log" >&2; exit 1; }
  sleep 0.2
done
echo "fuzz: server up at $BASE (scratch database $DATABASE_URL)"

status=0
# From the scratch folder, where schemathesis keeps its cache (.schemathesis/).
# too_slow is Hypothesis judging its own data generation on a busy machine (CI failed once on
# POST /auth/logout, which takes no body), not the service: it is not a finding.
cd "$SCRATCH"
FUZZ_BASE_URL="$BASE" SCHEMATHESIS_HOOKS="$ROOT/scripts/fuzz_hooks.py" \
  "$BIN/schemathesis" run "$BASE/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection \
  --max-examples "${FUZZ_MAX_EXAMPLES:-50}" \
  --seed "${FUZZ_SEED:-20261125}" \
  --request-timeout 30 \
  --suppress-health-check=too_slow \
  --no-color \
  ${FUZZ_ARGS:-} || status=$?

if grep -q '"level": "error"' "$SCRATCH/server.log"; then
  echo "fuzz: the server logged errors:" >&2
  grep '"level": "error"' "$SCRATCH/server.log" | head -20 >&2
  status=1
fi
exit $status
