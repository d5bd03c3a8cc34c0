"""`make bench-webhooks`: a webhook receiver that hangs does not slow the API down.

Starts `make serve`'s server (granian, production settings, its workers delivering webhooks
from their background threads) on a scratch MariaDB database, and measures with wrk the p99
of a read (`GET /api/products/{id}`) and of a write (`POST /api/products`, which records a
`product.created` and a `stock.moved` event in its transaction) three times: with no
webhook endpoint; with an endpoint whose receiver is down (its port refuses at once: the
events are recorded, each attempt ends at once); and with the endpoint moved to a receiver
on the loopback that accepts every connection and holds it for 10 seconds without a word
(the delivery's own timeout), so every attempt the workers make hangs. The last two differ
only in the receiver. Prints the figures, and what the receiver and the deliveries saw. The
scratch database is dropped at the end.

Settings (environment): BENCH_DURATION (seconds per measurement, 10), BENCH_CONNECTIONS
(16), BENCH_ROWS (products seeded, 10000), BENCH_MARIADB_URL
(mysql+pymysql://root@127.0.0.1:3306/), WEB_CONCURRENCY and THREADS as for `make serve`.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
from bench_http import Account, lua_get, lua_post, run_wrk
from cryptography.fernet import Fernet
from harness import ROOT, RunningServer, launch, scratch_database
from sqlalchemy import create_engine, make_url, text

from shopapi.config import Settings

BIN = Path(sys.executable).parent
ROWS = int(os.environ.get("BENCH_ROWS", "10000"))
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
SERVER_URL = os.environ.get("BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")
WORKERS = int(os.environ.get("WEB_CONCURRENCY", str(Settings.web_concurrency)))
HANG_SECONDS = 10.0
NONE = "no endpoint"
REFUSED = "receiver refuses at once"
HANGS = "receiver hangs 10 s"
ORDER = (NONE, REFUSED, HANGS, HANGS, REFUSED, NONE)
EVENTS = ["product.created", "product.updated", "product.deleted", "stock.moved"]


class HangingReceiver:
    """Accepts every connection on the loopback and holds it `HANG_SECONDS` without
    answering (not even a TLS handshake), then closes it: a receiver that hangs."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.5)
            deadline = time.monotonic() + HANG_SECONDS
            while time.monotonic() < deadline and not self._stop.is_set():
                try:
                    if not conn.recv(65536):
                        return  # the sender gave up first
                except TimeoutError:
                    continue
                except OSError:
                    return

    def close(self) -> None:
        self._stop.set()
        self.listener.close()


def closed_port() -> int:
    """A loopback port nothing listens on: a receiver that is down (refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Endpoint:
    """The one webhook endpoint of the run, for all the event types writes make: added,
    moved to another URL, or deleted (no endpoint) between measurements."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.base, self.headers = base, headers
        self.id: int | None = None

    def point_at(self, url: str | None) -> None:
        if url is None and self.id is not None:
            r = requests.delete(self._one(), headers=self.headers, timeout=30)
            self.id = None
        elif url is not None and self.id is None:
            body = {"url": url, "events": EVENTS}
            r = requests.post(
                f"{self.base}/admin/webhooks", json=body, headers=self.headers, timeout=30
            )
            self.id = int(r.json()["id"])
        elif url is not None:
            r = requests.patch(self._one(), json={"url": url}, headers=self.headers, timeout=30)
        else:
            return
        r.raise_for_status()

    def _one(self) -> str:
        return f"{self.base}/admin/webhooks/{self.id}"


def environment(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "APP_ENV": "production",
        "DATABASE_URL": database_url,
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "TOTP_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "INSTANCE_PATH": tempfile.mkdtemp(prefix="shopapi-bench-webhooks-"),
        # The per-address limits would stop a load generator on one address.
        "LOGIN_RATE_LIMIT_PER_ADDRESS": "1000000/minute",
        "REGISTER_RATE_LIMIT_PER_ADDRESS": "1000000/minute",
        "NEW_USER_ROLE": "editor",
        # The receiver listens on the loopback, which is otherwise refused.
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
    }


def flask(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=env, check=True)


def serve(env: dict[str, str], log: Path) -> RunningServer:
    """`make serve`'s server, once each of its workers has started."""
    server = launch([sys.executable, "-m", "shopapi.serving"], env, log_path=log, wait=60)
    deadline = time.monotonic() + 60
    while len(re.findall(r"Started worker-\d+$", server.log(), re.MULTILINE)) < WORKERS:
        if time.monotonic() > deadline:
            server.stop(grace=40)
            raise RuntimeError(f"not every worker started:\n{server.log()}")
        time.sleep(0.1)
    return server


def measure(url: str, token: str, product_id: int) -> dict[str, dict[str, Any]]:
    read, write = lua_get(token, f"/api/products/{product_id}"), lua_post(token)
    run_wrk(url, read, 2, CONNECTIONS, 2)  # warm-up
    return {
        "read": run_wrk(url, read, 2, CONNECTIONS, DURATION),
        "write": run_wrk(url, write, 2, CONNECTIONS, DURATION),
    }


def deliveries(database_url: str) -> dict[str, int]:
    engine = create_engine(make_url(database_url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status")
            ).all()
    finally:
        engine.dispose()
    found = {str(status): int(count) for status, count in rows}
    found["recorded"] = sum(int(count) for _, count in rows)
    return found


def main() -> int:
    database_url, drop = scratch_database(SERVER_URL, "shopapi_bench_hooks")
    env = environment(database_url)
    hanging = HangingReceiver()
    server: RunningServer | None = None
    runs: dict[str, list[dict[str, dict[str, Any]]]] = {}
    seen: dict[str, int] = {}
    try:
        flask(env, "db", "upgrade")
        flask(env, "seed-products", str(ROWS), "--seed", "1")
        log = Path(env["INSTANCE_PATH"]) / "server.log"
        server = serve(env, log)
        print(
            f"make serve's server: {WORKERS} workers, {ROWS} products; wrk -c{CONNECTIONS}, "
            f"{DURATION} s a measurement",
            flush=True,
        )
        admin = Account(server.url, "bench_admin")
        flask(env, "users", "set-role", "bench_admin", "admin")
        token = admin.sign_in()
        assert token is not None
        headers = {"Authorization": f"Bearer {token}"}
        made = requests.post(
            f"{server.url}/api/products",
            json={"name": "Bench clock", "price": "9.90", "quantity": 5},
            headers={**headers, "Idempotency-Key": secrets.token_hex(16)},
            timeout=30,
        )
        made.raise_for_status()
        product_id = int(made.json()["id"])

        hooks = Endpoint(server.url, headers)
        urls = {
            NONE: None,
            REFUSED: f"https://127.0.0.1:{closed_port()}/hook",
            HANGS: f"https://127.0.0.1:{hanging.port}/hook",
        }
        # Each case twice, in an order that is its own mirror: a drift of the machine or of
        # the growing tables weighs on every case alike.
        for case in ORDER:
            print(f"{case} ...", flush=True)
            hooks.point_at(urls[case])
            runs.setdefault(case, []).append(measure(server.url, token, product_id))
            if case == HANGS:
                seen = deliveries(database_url)
    finally:
        if server is not None:
            server.stop(grace=40)
        hanging.close()
        drop()
    report(runs, hanging.connections, seen)
    return 0


def report(
    runs: dict[str, list[dict[str, dict[str, Any]]]], connections: int, seen: dict[str, int]
) -> None:
    print(f"\n{'':50} {'pass':>4} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'non-2xx':>8}")
    for kind, label in (("read", "GET /api/products/{id}"), ("write", "POST /api/products")):
        for case, passes in runs.items():
            for n, figures in enumerate(passes, 1):
                f = figures[kind]
                print(
                    f"{label + ', ' + case:50} {n:4d} {f['p50_ms']:8.2f} {f['p99_ms']:8.2f} "
                    f"{f['rps']:8.0f} {f['non_2xx']:8d}"
                )
    print("\nmean p99 (ms) of both passes:")
    for kind in ("read", "write"):
        mean = {
            case: sum(f[kind]["p99_ms"] for f in passes) / len(passes)
            for case, passes in runs.items()
        }
        shown = ", ".join(f"{case} {value:.1f}" for case, value in mean.items())
        print(f"  {kind}: {shown}; hangs / refuses at once: {mean[HANGS] / mean[REFUSED]:.2f}")
    print(
        f"after the receiver hung: {seen.get('recorded', 0)} deliveries recorded, "
        f"{seen.get('pending', 0)} pending; "
        f"the receiver held {connections} connections {HANG_SECONDS:.0f} s each"
    )


if __name__ == "__main__":
    sys.exit(main())
