"""`make bench`: the service against fixed yardsticks, under each server and driver, in one run.

The yardsticks are a bare Flask app (scripts/bare_app.py: no middleware) served by the same
server with the same settings as the service: its `GET /healthz` (the floor of any
request), and the floors of a database read, one product by id and a page of 50, the
statements the service's reads run on the same engine and driver, without the account
check or anything else. For every server in BENCH_SERVERS and every driver in
BENCH_DRIVERS the run measures each floor and the service's figure against it in turn,
BENCH_ROUNDS times (2) with both servers up, keeping the best round of each (so a drifting
load moves both alike), then the service's other hot paths on a scratch MariaDB database
(writes, sign-ins, reads during a burst of sign-ins), then the bare `/healthz` again.
Every rate is reported as a ratio of the bare `/healthz`, of its own floor where it has
one, and of the service's own `/healthz`; rates are comparable across servers and drivers
because they come from the same run. Prints a table per server and
driver, the targets met or missed, and writes the figures as JSON. The scratch database is
dropped at the end.

Settings (environment): BENCH_SERVERS (`NAME:WORKERSxTHREADS`, comma-separated; default:
`make serve`'s server), BENCH_DRIVERS (`pymysql,mysqldb`: both when mysqlclient is
installed), BENCH_ROWS (10000),
BENCH_DURATION (seconds per measurement, 10), BENCH_CONNECTIONS (16), BENCH_MARIADB_URL
(mysql+pymysql://root@127.0.0.1:3306/), BENCH_OUT (bench-results.json), BENCH_PYTHONPATH
(put before the service's own code in the servers' path: another checkout's `src`, to
measure it with this harness). JWT_ALGORITHM=EdDSA signs the tokens with Ed25519 (a key is
generated for the run unless JWT_PRIVATE_KEY_FILES names one).

`make profile` (BENCH_PROFILE=profile.svg) instead samples the first server's workers
with py-spy while wrk drives one endpoint (BENCH_PROFILE_TARGET: page, one or healthz).
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from bench_http import Account, lua_get, lua_patch, lua_post, run_wrk, sign_in_load
from bench_servers import ROOT, SERVICE, YARDSTICK, Server, Spec, parse_specs
from cryptography.fernet import Fernet
from harness import ServerDidNotStart, free_port, scratch_database
from sqlalchemy import create_engine, make_url, text

from shopapi import signing
from shopapi.config import Settings
from shopapi.serving import PRODUCTION_SERVER

BIN = Path(sys.executable).parent
ROWS = int(os.environ.get("BENCH_ROWS", "10000"))
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
# Rounds of each floor and the service's figure against it, taken in turn (the best kept).
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
SERVER_URL = os.environ.get("BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")
OUT = Path(os.environ.get("BENCH_OUT", "bench-results.json"))
PROFILE = os.environ.get("BENCH_PROFILE")
# `make serve`'s declared defaults: one worker per core, THREADS threads each.
DEFAULT_SERVERS = f"{PRODUCTION_SERVER}:{Settings.web_concurrency}x{Settings.threads}"
SPECS = parse_specs(os.environ.get("BENCH_SERVERS", DEFAULT_SERVERS))
NOISE = 0.15
# Each account signs in once per run of the sign-in load (a TOTP step is good once), so
# there must be more accounts than sign-ins in BENCH_DURATION seconds.
SIGN_IN_ACCOUNTS = 60 * DURATION
YARD = "yardstick: bare Flask GET /healthz"
FLOOR_ONE = "floor: bare Flask, one product by id"
FLOOR_PAGE = "floor: bare Flask, a page of 50"
HEALTHZ = "GET /healthz"
ONE = "GET /api/products/{id}"
PAGE = "GET /api/products?limit=50"
# Each service figure, and the floor it is measured against.
FLOORS = {ONE: FLOOR_ONE, PAGE: FLOOR_PAGE, HEALTHZ: YARD}
# The targets: the service's read at least this share of its floor.
TARGETS = {ONE: 0.85, PAGE: 1.0, HEALTHZ: 0.85}


def _drivers() -> list[str]:
    try:
        import MySQLdb  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return ["pymysql"]
    return ["pymysql", "mysqldb"]


DRIVERS = [d for d in os.environ.get("BENCH_DRIVERS", ",".join(_drivers())).split(",") if d]
ONE_WITH_KEY = "GET /api/products/{id} with an API key"
BURST = "GET /api/products/{id} during sign-ins"


class Rig:
    """The scratch database, seeded once, and what every server's run shares."""

    def __init__(self) -> None:
        self.database_url, self.drop = scratch_database(SERVER_URL, "shopapi_bench")
        self.jwt_key = secrets.token_urlsafe(48)
        self.env = {
            **os.environ,
            "APP_ENV": "production",
            "DATABASE_URL": self.database_url,
            "JWT_SECRET_KEY": self.jwt_key,
            "TOTP_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "INSTANCE_PATH": tempfile.mkdtemp(prefix="shopapi-bench-"),
            # The per-address limits would stop a load generator on one address.
            "LOGIN_RATE_LIMIT_PER_ADDRESS": "1000000/minute",
            "REGISTER_RATE_LIMIT_PER_ADDRESS": "1000000/minute",
            # ... and so would the global one, or the hashing pool's short queue, its
            # sign-in runs (scripts/loginflood.py measures those bounds).
            "LOGIN_RATE_LIMIT_GLOBAL": "1000000/minute",
            "HASH_QUEUE": "64",
            # Production makes new accounts viewers; the benchmark's reader also writes.
            "NEW_USER_ROLE": "editor",
            # One key drives the API-key read; its budget would stop the load generator.
            "API_KEY_RATE_LIMIT": "100000000/minute",
        }
        if os.environ.get("BENCH_PYTHONPATH"):  # another checkout's src/, to compare with
            self.env["PYTHONPATH"] = os.environ["BENCH_PYTHONPATH"]
        self.algorithm = os.environ.get("JWT_ALGORITHM") or signing.HS256
        if self.algorithm.lower() == "eddsa" and not os.environ.get("JWT_PRIVATE_KEY_FILES"):
            key = Path(self.env["INSTANCE_PATH"]) / "signing.pem"
            signing.write_new_key(key)  # production mode needs a key file
            self.env["JWT_PRIVATE_KEY_FILES"] = str(key)
        self.reader: Account | None = None
        self.accounts: list[Account] = []
        self.first_id = 0
        self.key: str | None = None

    def flask(self, *args: str) -> None:
        subprocess.run(
            [str(BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=self.env, check=True
        )

    def seed(self) -> float:
        self.flask("db", "upgrade")
        started = time.monotonic()
        self.flask("seed-products", str(ROWS), "--seed", "1")
        took = time.monotonic() - started
        engine = create_engine(make_url(self.database_url))
        with engine.connect() as conn:
            self.first_id = conn.execute(text("SELECT MIN(id) FROM products")).scalar_one()
        engine.dispose()
        return took

    def with_driver(self, driver: str) -> dict[str, str]:
        """The servers' environment, with DATABASE_URL on `driver` (pymysql or mysqldb)."""
        url = make_url(self.database_url).set(drivername=f"mysql+{driver}")
        return {**self.env, "DATABASE_URL": url.render_as_string(hide_password=False)}

    def signers(self, url: str) -> list[Account]:
        """The accounts of the sign-in runs, registered once for every server."""
        if not self.accounts:
            print("  registering accounts for the sign-in runs ...", flush=True)
            with ThreadPoolExecutor(4) as executor:
                self.accounts = list(
                    executor.map(lambda i: Account(url, f"bench_{i}"), range(2 * SIGN_IN_ACCOUNTS))
                )
        for account in self.accounts:
            account.base = url
        return self.accounts

    def bearer(self, url: str) -> str:
        """A fresh access token (tokens live 10 minutes; a run of several servers is longer)."""
        if self.reader is None:
            self.reader = Account(url, "bench_reader")
        self.reader.base = url
        token = self.reader.sign_in()
        assert token is not None
        if self.key is None:  # kept in the database: one key serves every server's run
            self.key = self.reader.api_key(token, ["products:read"])
        return token


def main() -> int:
    rig = Rig()
    print(f"access tokens signed {rig.algorithm}; seeding {ROWS} products ...", flush=True)
    runs: dict[str, dict[str, Any]] = {}
    try:
        print(f"seeded in {rig.seed():.1f} s", flush=True)
        if PROFILE:
            from bench_profile import profile

            # The driver `mysql://` URLs use: the last of DRIVERS (mysqlclient when installed).
            profile(rig, SPECS[0], DRIVERS[-1], Path(PROFILE), DURATION, CONNECTIONS)
            return 0
        for spec in SPECS:
            for driver in DRIVERS:
                if spec.pythonpath and driver != "pymysql":
                    continue  # another checkout's code: on PyMySQL, which every version ran on
                label = f"{spec.label} on {driver}"
                print(f"\n{label}", flush=True)
                try:
                    runs[label] = measure(rig, spec, rig.with_driver(driver))
                except ServerDidNotStart as error:  # the other runs' figures still count
                    print(f"  not measured: {error}", flush=True)
    finally:
        rig.drop()
    report(runs, rig.algorithm)
    return 0


def costed(server: Server, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`run()`'s figures, plus the server's CPU time per request (microseconds)."""
    before = server.cpu_seconds()
    result = run()
    used = server.cpu_seconds() - before
    result["cpu_us"] = round(used / max(result["requests"], 1) * 1e6, 1)
    return result


def wrk(
    server: Server, script: str, threads: int = 2, connections: int = CONNECTIONS
) -> dict[str, Any]:
    return costed(server, lambda: run_wrk(server.url, script, threads, connections, DURATION))


def yardstick(spec: Spec, env: dict[str, str]) -> dict[str, Any]:
    """The bare app's `/healthz`, on a server of its own."""
    server = Server(spec, YARDSTICK, free_port(), env)
    try:
        return wrk(server, 'wrk.path = "/healthz"\n')
    finally:
        server.stop()


def best(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round that served the most requests a second, with how many rounds there were."""
    found = max(rounds, key=lambda r: r["rps"])
    return {**found, "rounds": len(rounds)}


def paired(floor: Server, service: Server, scripts: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """Each floor and the service's figure against it, measured in turn (floor, service,
    floor, service, ...) ROUNDS times with both servers up, the best round of each kept:
    a machine whose load drifts moves both figures of a pair alike."""
    rounds: dict[str, list[dict[str, Any]]] = {}
    for _ in range(ROUNDS):
        for name, (floor_script, service_script) in scripts.items():
            rounds.setdefault(FLOORS[name], []).append(wrk(floor, floor_script))
            rounds.setdefault(name, []).append(wrk(service, service_script))
    return {name: best(found) for name, found in rounds.items()}


def cursor_after(url: str, token: str, start: int, target: int) -> str:
    """The service's own cursor for the page after id `target` (ids are contiguous from
    `start` + 1), found by following pages: any version of the service understands it."""
    headers = {"Authorization": f"Bearer {token}"}
    after, cursor = start, None
    while after < target:
        params: dict[str, Any] = {"limit": min(200, target - after)}
        if cursor:
            params["cursor"] = cursor
        page = requests.get(f"{url}/api/products", params=params, headers=headers, timeout=30)
        page.raise_for_status()
        cursor, after = page.json()["next_cursor"], page.json()["items"][-1]["id"]
    assert cursor is not None and after == target
    return str(cursor)


def measure(rig: Rig, spec: Spec, env: dict[str, str]) -> dict[str, Any]:
    floor = Server(spec, YARDSTICK, free_port(), env)
    server = Server(spec, SERVICE, free_port(), env)
    try:
        url = server.url
        token, first_id = rig.bearer(url), rig.first_id
        key = rig.key or ""
        signers = rig.signers(url)
        last_id = first_id + ROWS - 1
        middle = first_id + ROWS // 2
        deep = cursor_after(url, token, first_id - 1, last_id - 60)
        print(f"  the floors and the service's reads, {ROUNDS} rounds in turn ...", flush=True)
        results: dict[str, Any] = paired(
            floor,
            server,
            {
                HEALTHZ: ('wrk.path = "/healthz"\n', 'wrk.path = "/healthz"\n'),
                ONE: (
                    f'wrk.path = "/floor/products/{middle}"\n',
                    lua_get(token, f"/api/products/{middle}"),
                ),
                PAGE: (
                    'wrk.path = "/floor/products?limit=50"\n',
                    lua_get(token, "/api/products?limit=50"),
                ),
            },
        )
        results[YARD]["rss_mib"] = floor.worker_rss_mib()
        floor.stop()
        endpoints = [
            (
                "GET /api/products?limit=50 (deep page)",
                lambda: wrk(server, lua_get(token, f"/api/products?limit=50&cursor={deep}")),
            ),
            (ONE_WITH_KEY, lambda: wrk(server, lua_get(key, f"/api/products/{middle}"))),
            ("POST /api/products", lambda: wrk(server, lua_post(token))),
            (
                "PATCH /api/products/{id} with If-Match",
                lambda: wrk(server, lua_patch(token, first_id), 8, 8),
            ),
        ]
        for name, run in endpoints:
            print(f"  {name} ...", flush=True)
            results[name] = run()
        print("  sign-in (login + verify) ...", flush=True)
        results["sign-in (login + verify, 8 clients)"] = costed(
            server, lambda: sign_in_load(signers[:SIGN_IN_ACCOUNTS], DURATION, 8)
        )
        print("  one product during a burst of sign-ins ...", flush=True)
        burst = threading.Thread(
            target=sign_in_load, args=(signers[SIGN_IN_ACCOUNTS:], DURATION, 8)
        )
        burst.start()
        results[BURST] = wrk(server, lua_get(token, f"/api/products/{first_id + 1}"))
        burst.join()
        rss = server.worker_rss_mib()
    finally:
        floor.stop()
        server.stop()
    print("  yardstick again ...", flush=True)
    results["yardstick again"] = yardstick(spec, env)
    results["_rss_mib"] = rss
    return results


def report(runs: dict[str, dict[str, Any]], algorithm: str) -> None:
    summary: dict[str, Any] = {}
    for label, results in runs.items():
        rss = results.pop("_rss_mib")
        yard = results[YARD]["rps"]
        own = results[HEALTHZ]["rps"]
        print(f"\n{label}")
        print(
            f"{'':50} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'x bare':>7} {'x floor':>7} "
            f"{'x healthz':>9} {'CPU us':>7} {'non-2xx':>7}"
        )
        for name, r in results.items():
            r["x_yardstick"] = round(r["rps"] / yard, 3)
            r["x_healthz"] = round(r["rps"] / own, 3)
            floor = FLOORS.get(name)
            if floor is not None:
                r["x_floor"] = round(r["rps"] / results[floor]["rps"], 3)
            x_floor = f"{r['x_floor']:7.3f}" if "x_floor" in r else f"{'':7}"
            print(
                f"{name:50} {r['rps']:8.1f} {r['p50_ms']:7.2f} {r['p99_ms']:7.2f} "
                f"{r['x_yardstick']:7.3f} {x_floor} {r['x_healthz']:9.3f} {r['cpu_us']:7.0f} "
                f"{r['non_2xx']:7d}"
            )
        for name, target in TARGETS.items():
            ratio = results[name]["x_floor"]
            verdict = "met" if ratio >= target else "MISSED"
            print(f"target {name}: {ratio:.2f}x its floor (at least {target:.2f}x): {verdict}")
        burst = results[BURST]["p99_ms"] / results[ONE]["p99_ms"]
        drift = abs(results["yardstick again"]["rps"] - yard) / yard
        print(f"read p99 during sign-ins: {burst:.2f}x its quiet value")
        key_cpu = results[ONE_WITH_KEY]["cpu_us"] / results[ONE]["cpu_us"]
        print(f"a read with an API key: {key_cpu:.2f}x the CPU per request of a token read")
        print(
            f"resident memory per worker (MiB): service {rss}, yardstick {results[YARD]['rss_mib']}"
        )
        print(
            f"yardstick at start {yard:.0f} req/s, at end {results['yardstick again']['rps']:.0f}"
            f" ({drift:.0%} apart)" + ("  WARNING: noisy machine" if drift > NOISE else "")
        )
        summary[label] = {
            "endpoints": results,
            "rss_mib_per_worker": rss,
            "read_p99_burst_ratio": round(burst, 2),
            "api_key_read_cpu_ratio": round(key_cpu, 3),
            "yardstick_drift": round(drift, 3),
            "noisy": drift > NOISE,
        }
    before = next(
        (
            runs[f"{s.label} on pymysql"]
            for s in SPECS
            if s.pythonpath and f"{s.label} on pymysql" in runs
        ),
        None,
    )
    for spec in SPECS:
        fast, slow = runs.get(f"{spec.label} on mysqldb"), runs.get(f"{spec.label} on pymysql")
        if fast and slow:
            gain = fast[ONE]["rps"] / slow[ONE]["rps"]
            print(f"\n{spec.label}: one product on mysqlclient {gain:.2f}x this code on PyMySQL")
        if fast and before:
            # The target's reference: the code before (BENCH_BASELINE) on PyMySQL, this run.
            gain = fast[ONE]["rps"] / before[ONE]["rps"]
            verdict = "met" if gain >= 1.3 else "MISSED"
            print(
                f"{spec.label}: one product on mysqlclient {gain:.2f}x the code before on "
                f"PyMySQL (target at least 1.30x): {verdict}"
            )
    if len(runs) > 1:
        print("\nacross servers (same run): req/s, and CPU us per request in the server")
        names = [n for n in next(iter(runs.values())) if not n.startswith("_")]
        print(f"{'':50}" + "".join(f"{label:>22}" for label in runs))
        for name in names:
            cells = [
                f"{runs[label][name]['rps']:9.1f} {runs[label][name]['cpu_us']:7.0f}us"
                for label in runs
            ]
            print(f"{name:50}" + "".join(f"{cell:>22}" for cell in cells))
    OUT.write_text(
        json.dumps(
            {
                "machine": {
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                    "load_average": os.getloadavg(),
                },
                "jwt_algorithm": algorithm,
                "rows": ROWS,
                "duration_s": DURATION,
                "connections": CONNECTIONS,
                "servers": summary,
            },
            indent=2,
        )
    )
    print(f"figures written to {OUT}")


if __name__ == "__main__":
    sys.exit(main())
