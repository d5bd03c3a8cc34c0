"""`make slowloris`: slow request bodies against `make serve`'s server, and what users see.

A benchmark, not a test. It starts the production server as `make serve` does
(`python -m shopapi.serving`, APP_ENV=production, generated secrets) on a scratch SQLite
database (SLOWLORIS_MARIADB_URL=mysql+pymysql://root@127.0.0.1:3306/: a scratch MariaDB
database instead), signs one user in, then for DURATION seconds holds CONNECTIONS
connections that each send `POST /auth/login` with `Content-Length: 200` and then one byte a
second; when the server cuts one off, it connects again at once. Meanwhile one client polls
`GET /healthz` and another an authenticated `GET /api/products`, each on a new connection
every 100 ms with a 3 s timeout. It prints how the slow connections ended and the probes'
latency (p50, p99, max, failures), and exits 1 when a probe failed or a p99 exceeds 1 s.

    make slowloris                                   # 256 connections for 60 s
    .venv/bin/python scripts/slowloris.py --connections 64 --duration 10

tests/e2e/test_slow_clients.py runs `attack()` with fewer connections for a few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests
from harness import ROOT, RunningServer, launch, scratch_database

BODY_LENGTH = 200
PROBE_EVERY = 0.1
PROBE_TIMEOUT = 3.0


@dataclass
class SlowClients:
    """How the slow connections went."""

    opened: int = 0
    answered_408: int = 0
    closed: int = 0  # by the server, without an answer
    other_answers: list[bytes] = field(default_factory=list)
    seconds_to_cut: list[float] = field(default_factory=list)


@dataclass
class Probe:
    """One kind of legitimate request, sent again and again during the attack."""

    name: str
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def p(self, percentile: float) -> float:
        if not self.latencies:
            return float("inf")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * percentile / 100))]


@dataclass
class Report:
    slow: SlowClients
    probes: list[Probe]


async def _slow_client(host: str, port: int, until: float, slow: SlowClients) -> None:
    head = (
        f"POST /auth/login HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {BODY_LENGTH}\r\n\r\n"
    ).encode()
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        opened = time.monotonic()
        slow.opened += 1
        try:
            writer.write(head)
            while time.monotonic() < until:
                writer.write(b" ")  # JSON allows whitespace: a body that is never done
                await writer.drain()
                try:
                    data = await asyncio.wait_for(reader.read(4096), 1.0)
                except TimeoutError:
                    continue
                slow.seconds_to_cut.append(time.monotonic() - opened)
                if data.startswith(b"HTTP/1.1 408"):
                    slow.answered_408 += 1
                elif data:
                    slow.other_answers.append(data[:64])
                else:
                    slow.closed += 1
                break
        except OSError:  # reset by the server
            slow.seconds_to_cut.append(time.monotonic() - opened)
            slow.closed += 1
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _slow_clients(url: str, connections: int, seconds: float) -> SlowClients:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    slow = SlowClients()
    until = time.monotonic() + seconds
    await asyncio.gather(*(_slow_client(host, port, until, slow) for _ in range(connections)))
    return slow


def _probe(probe: Probe, url: str, headers: dict[str, str], until: float) -> None:
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            # A new connection each time, as a new client's would be.
            r = requests.get(url, headers={**headers, "Connection": "close"}, timeout=PROBE_TIMEOUT)
            if r.status_code == 200:
                probe.latencies.append(time.monotonic() - started)
            else:
                probe.failures.append(f"status {r.status_code}")
        except requests.RequestException as error:
            probe.failures.append(type(error).__name__)
        time.sleep(max(0.0, PROBE_EVERY - (time.monotonic() - started)))


def attack(url: str, token: str, connections: int, seconds: float) -> Report:
    """Hold `connections` slow bodies for `seconds` while probing /healthz and a read."""
    probes = [Probe("GET /healthz"), Probe("GET /api/products (signed in)")]
    until = time.monotonic() + seconds
    targets = [
        (probes[0], f"{url}/healthz", {}),
        (probes[1], f"{url}/api/products?limit=10", {"Authorization": f"Bearer {token}"}),
    ]
    threads = [
        threading.Thread(target=_probe, args=(probe, target, headers, until))
        for probe, target, headers in targets
    ]
    for thread in threads:
        thread.start()
    slow = asyncio.run(_slow_clients(url, connections, seconds))
    for thread in threads:
        thread.join()
    return Report(slow, probes)


def sign_in(url: str) -> str:
    """A new editor's access token (register, password, TOTP code)."""
    from bench_http import Account

    token = Account(url, f"slowloris_{secrets.token_hex(4)}").sign_in()
    assert token is not None
    return token


@contextlib.contextmanager
def production_server(database_url: str) -> Iterator[RunningServer]:
    from cryptography.fernet import Fernet

    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "APP_ENV": "production",
        "DATABASE_URL": database_url,
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "TOTP_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "INSTANCE_PATH": tempfile.mkdtemp(prefix="shopapi-slowloris-"),
        "NEW_USER_ROLE": "editor",
    }
    subprocess.run(
        [str(bin_dir / "flask"), "--app", "app", "db", "upgrade"], cwd=ROOT, env=env, check=True
    )
    log = Path(env["INSTANCE_PATH"]) / "server.log"
    server = launch([str(bin_dir / "python"), "-m", "shopapi.serving"], env, log_path=log)
    try:
        yield server
    finally:
        server.stop(grace=40)


def print_report(report: Report, connections: int, seconds: float) -> bool:
    slow = report.slow
    print(f"{connections} slow connections held for {seconds:.0f} s (reconnecting when cut):")
    print(f"  opened {slow.opened}, answered 408 {slow.answered_408}, closed {slow.closed}")
    if slow.other_answers:
        print(f"  other answers: {slow.other_answers[:3]}")
    if slow.seconds_to_cut:
        cuts = slow.seconds_to_cut
        print(f"  seconds until cut: median {statistics.median(cuts):.1f}, max {max(cuts):.1f}")
    ok = True
    print(f"{'probe':<32}{'answered':>9}{'failed':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for probe in report.probes:
        worst = max(probe.latencies, default=float("inf"))
        print(
            f"{probe.name:<32}{len(probe.latencies):>9}{len(probe.failures):>8}"
            f"{probe.p(50) * 1000:>9.1f}{probe.p(99) * 1000:>9.1f}{worst * 1000:>9.1f}"
        )
        ok = ok and not probe.failures and probe.p(99) <= 1.0
    print("PASS: every probe answered, p99 within 1 s" if ok else "FAIL")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--duration", type=float, default=60)
    args = parser.parse_args()
    mariadb = os.environ.get("SLOWLORIS_MARIADB_URL")
    if mariadb:
        database_url, drop = scratch_database(mariadb, "shopapi_slowloris")
    else:
        folder = tempfile.mkdtemp(prefix="shopapi-slowloris-db-")
        database_url, drop = f"sqlite:///{folder}/slowloris.sqlite3", lambda: None
    try:
        with production_server(database_url) as server:
            token = sign_in(server.url)
            report = attack(server.url, token, args.connections, args.duration)
            return 0 if print_report(report, args.connections, args.duration) else 1
    finally:
        drop()


if __name__ == "__main__":
    raise SystemExit(main())
