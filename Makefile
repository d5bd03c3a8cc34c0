# Two commands do everything: `make run` and `make test` (`make check` is its quick part).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: install install-dev node run serve test check lint typecheck bench bench-webhooks bench-layers bench-statements profile fuzz loadtest slowloris postman screenshots clean \
	container-tools image compose-up compose-down compose-test \
	galera-up galera-down

install: $(STAMP)

$(STAMP): requirements.txt requirements-mysqlclient.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	@$(BIN)/pip install --quiet -r requirements-mysqlclient.txt >/dev/null 2>&1 || \
		echo "install: mysqlclient could not be built (Debian: apt-get install libmariadb-dev pkg-config); PyMySQL serves MariaDB instead"
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install-dev: $(DEV_STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(DEV_STAMP)

# Node tools from package-lock.json into node_modules/: axe-core (the web console's
# accessibility check in the browser tests), newman (make postman) and ESLint (make lint).
NODE_STAMP := node_modules/.package-lock.json
node: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm is missing: the browser tests skip their accessibility checks (fail with REQUIRE_BROWSER=1)"; fi

run: install
	$(BIN)/python app.py

# Production serving: migrations first, then granian (see src/shopapi/serving.py).
serve: install
	$(BIN)/flask --app app db upgrade
	$(BIN)/python -m shopapi.serving

# A webhook receiver that hangs 10 s per request does not slow reads or writes down: their p99
# with no endpoint and with one whose receiver hangs, on `make serve`'s server and a scratch
# MariaDB database (scripts/bench_webhooks.py; needs wrk).
bench-webhooks: install-dev
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python scripts/bench_webhooks.py

# Benchmark against the local MariaDB (needs wrk: apt-get install wrk): the service against
# a bare Flask app (its /healthz, and the floors of a read: one product, a page of 50) under
# each server of BENCH_SERVERS (default: make serve's granian) on each driver of
# BENCH_DRIVERS (default: PyMySQL and, when installed, mysqlclient). BENCH_ROWS=1000000 for the scale run, BENCH_DURATION (seconds per
# measurement) to bound it, JWT_ALGORITHM=EdDSA to sign with Ed25519. Prints tables and writes
# bench-results.json. Then the catalogue run: the list's query shapes at BENCH_CATALOGUE_PRODUCTS
# (1000000) products (scripts/bench_catalogue.py; --products N runs it smaller). Last the CSV
# files through make serve's server: an import of BENCH_IMPORT_LINES (100000) lines, created
# then updated, and an export of BENCH_CATALOGUE_PRODUCTS, with the worker's memory.
bench: install-dev
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python scripts/bench.py
	@if [ "$${BENCH_CATALOGUE_PRODUCTS:-1000000}" != 0 ]; then \
		$(BIN)/python scripts/bench_catalogue.py --products $${BENCH_CATALOGUE_PRODUCTS:-1000000} && \
		$(BIN)/python scripts/bench_csv.py --lines $${BENCH_IMPORT_LINES:-100000} \
			--export $${BENCH_CATALOGUE_PRODUCTS:-1000000}; fi

# A flame graph (py-spy) of the first server's workers while wrk drives the page of 50
# products (BENCH_PROFILE_TARGET=one: one product; healthz: the per-request floor).
# What each layer of the service costs a request that reaches no view's database (GET /healthz),
# in one process: the bare app, the service, and the service without each layer in turn.
bench-layers: install-dev
	$(BIN)/python scripts/bench_layers.py

bench-statements: install-dev
	$(BIN)/python scripts/bench_statements.py

profile: install-dev
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	BENCH_PROFILE=$${BENCH_PROFILE:-profile.svg} $(BIN)/python scripts/bench.py

# ruff for the Python; ESLint (eslint.config.js, from node_modules/) for the console's modules.
lint: install-dev node
	$(BIN)/ruff check src tests scripts app.py
	$(BIN)/ruff format --check src tests scripts app.py
	@if [ -x node_modules/.bin/eslint ]; then node_modules/.bin/eslint; \
	elif [ -n "$$REQUIRE_BROWSER" ]; then echo "ESLint is missing (npm ci failed?)"; exit 1; \
	else echo "npm is missing: the console's modules are not linted (CI installs it)"; fi

typecheck: install-dev
	$(BIN)/mypy

# pytest on both cores (pytest-xdist), a module's tests on one worker (so its module-scoped
# servers start once): each worker has its own scratch databases, ports and files; the tests
# marked `redis` share one Redis database and take turns (tests/conftest.py).
# PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
XDIST = $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadscope)
# pytest's exit code 5 means it collected no tests: a failure here, not a pass.
NO_TESTS_FAIL = status=$$?; if [ $$status -eq 5 ]; then echo "no tests ran: that is a failure"; exit 1; fi; exit $$status

# Everything CI runs: lint, types, every test on SQLite and on MariaDB (skipped when it is
# not reachable, unless REQUIRE_MARIADB=1), end-to-end and browser tests, with coverage.
test: install-dev node lint typecheck
	$(BIN)/pytest $(XDIST) --cov --cov-report=term-missing:skip-covered $(PYTEST_ARGS); \
	$(NO_TESTS_FAIL)

# The inner loop: unit and API tests, in process, on SQLite (no server is started).
check: install-dev
	$(BIN)/pytest $(XDIST) -q -m "not mariadb and not e2e and not browser" tests/unit tests/api \
		$(PYTEST_ARGS); \
	$(NO_TESTS_FAIL)

# schemathesis against /openapi.json on a fresh server and scratch SQLite database (CI runs it).
fuzz: install-dev
	BIN=$(BIN) bash scripts/fuzz.sh

# Benchmark, not a test: 64 locust clients for 60 s against make serve's server on a scratch
# MariaDB database, then a consistency check (see scripts/loadtest.py). Not part of CI.
loadtest: install-dev
	$(BIN)/python scripts/loadtest.py $(LOADTEST_ARGS)

# Benchmark, not a test: 256 connections sending request bodies one byte a second for 60 s
# against make serve's server, while /healthz and a signed-in read are timed (see
# scripts/slowloris.py). SLOWLORIS_ARGS="--connections 64 --duration 10" for a shorter run;
# SLOWLORIS_MARIADB_URL=mysql+pymysql://root@127.0.0.1:3306/ for a scratch MariaDB database.
slowloris: install-dev
	$(BIN)/python scripts/slowloris.py $(SLOWLORIS_ARGS)

# The web console's pictures in docs/console.md (docs/screenshots/), taken by its browser test;
# QR codes, keys and recovery codes are blurred. Commit them when they change.
screenshots: install-dev node
	CONSOLE_SCREENSHOTS=docs/screenshots REQUIRE_BROWSER=1 $(BIN)/pytest -q -k sqlite tests/browser/test_console.py tests/browser/test_console_account.py \
		tests/browser/test_console_passkeys.py tests/browser/test_console_stock.py tests/browser/test_console_catalogue.py tests/browser/test_console_webhooks.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage

# The Postman collection (postman/) run by newman against a fresh server on scratch SQLite.
postman: install
	scripts/postman.sh

# The container image and the compose set (docs/operations/container.md), with Debian's
# podman and podman-compose; deploy/podman/containers.conf holds the settings this kind of
# machine needs. `make image` builds localhost/shopapi:latest (and the Debian base image
# with debootstrap when it cannot be pulled); `make compose-up` starts deploy/compose.yaml
# in order, `make compose-down` stops it (its volumes stay). `make compose-test` builds,
# starts a scratch set, runs scripts/container/smoke.py through the proxy and removes it all.
CONTAINER_TOOLS := podman podman-compose debootstrap runc iptables
container-tools:
	@missing=""; for tool in $(CONTAINER_TOOLS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(CONTAINER_TOOLS) fuse-overlayfs; fi

image: container-tools
	bash scripts/container/build.sh

compose-up: image
	eval "$$(bash scripts/container/standins.sh)" && bash scripts/container/compose.sh up

compose-down:
	bash scripts/container/compose.sh down

compose-test: install-dev container-tools
	PYTHON=$(BIN)/python bash scripts/container/compose-test.sh

# A three-node MariaDB Galera cluster on 127.0.0.1:3311-3313 from Debian's packages
# (docs/operations/galera.md): `make galera-up` starts it (installing galera-4 and rsync when
# missing) and waits until every node is synced, `make galera-down` stops it. Its data stays
# in GALERA_DIR (/tmp/shopapi-galera) until `scripts/galera.sh wipe`.
galera-up:
	bash scripts/galera.sh start

galera-down:
	bash scripts/galera.sh stop
