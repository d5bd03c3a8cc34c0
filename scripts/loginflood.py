"""A login flood against `python -m shopapi.serving`, and what it costs legitimate users.

The flood: ADDRESSES loopback addresses (127.0.x.y) with 2 connections each, every request
a login with a fresh username (so each costs an Argon2 hash, of the dummy hash of unknown
users), each address just within its per-address budget (100 a minute). Meanwhile one
legitimate user signs in with the right password about once a second (from a new address
each time, as many users would), and a reader reads one product about 20 times a second.
Each is measured while quiet, then during the flood, for each configuration:

- unbounded: HASH_QUEUE and LOGIN_RATE_LIMIT_GLOBAL so large they never refuse (what the
  service did before the bounds; with --before-src, that older checkout's src/ instead);
- defaults: the settings a deployment gets without setting anything.

The server runs as in production (APP_ENV=production, OWASP's Argon2 cost, make serve's
workers and threads) on a scratch SQLite database, or MariaDB with --mariadb (the test
server, TEST_MARIADB_URL). Prints medians and p99 in milliseconds, and what was answered.

    .venv/bin/python scripts/loginflood.py [--seconds 20] [--addresses 16] [--mariadb]

A benchmark, not a test: its figures depend on the machine and what else runs on it.
"""

from __future__ import annotations

import argparse
import itertools
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
import requests
from cryptography.fernet import Fernet
from harness import ROOT, RunningServer, free_port, launch, scratch_database
from requests.adapters import HTTPAdapter

BIN = Path(sys.executable).parent
PASSWORD = "violet-harbour-lantern"  # noqa: S105 - the benchmark's own scratch account
UNBOUNDED = {"HASH_QUEUE": "100000", "LOGIN_RATE_LIMIT_GLOBAL": "100000000/minute"}
SIGN_IN_EVERY, READ_EVERY = 1.0, 0.05
PER_ADDRESS_PER_MINUTE = 100  # LOGIN_RATE_LIMIT_PER_ADDRESS's default


class FromAddress(HTTPAdapter):
    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(source: str) -> requests.Session:
    http = requests.Session()
    http.mount("http://", FromAddress(source))
    return http


@dataclass
class Probe:
    """Latencies (ms) and statuses of one kind of request."""

    millis: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    def add(self, started: float, status: int) -> None:
        self.millis.append((time.perf_counter() - started) * 1000)
        self.statuses[status] += 1

    def summary(self) -> str:
        if not self.millis:
            return "-"
        ranked = sorted(self.millis)
        p50 = ranked[len(ranked) // 2]
        p99 = ranked[min(len(ranked) - 1, int(len(ranked) * 0.99))]
        answers = " ".join(f"{s}x{n}" for s, n in sorted(self.statuses.items()))
        return f"p50 {p50:7.1f}  p99 {p99:7.1f}  ({answers})"


class Run:
    def __init__(self, server: RunningServer, token: str, product: str, username: str) -> None:
        self.server, self.token, self.product, self.username = server, token, product, username
        self.stop = threading.Event()
        self.addresses = (f"127.77.{i // 250}.{i % 250 + 1}" for i in itertools.count())

    def signer(self, probe: Probe) -> None:
        body = {"username": self.username, "password": PASSWORD}
        while not self.stop.is_set():
            http = session_from(next(self.addresses))
            started = time.perf_counter()
            r = http.post(f"{self.server.url}/auth/login", json=body, timeout=60)
            probe.add(started, r.status_code)
            self.stop.wait(SIGN_IN_EVERY)

    def reader(self, probe: Probe) -> None:
        http = requests.Session()
        headers = {"Authorization": f"Bearer {self.token}"}
        url = f"{self.server.url}/api/products/{self.product}"
        while not self.stop.is_set():
            started = time.perf_counter()
            probe.add(started, http.get(url, headers=headers, timeout=60).status_code)
            self.stop.wait(READ_EVERY)

    def flooder(self, source: str, probe: Probe) -> None:
        http = session_from(source)
        every = 60 / (PER_ADDRESS_PER_MINUTE / 2)  # two connections share the address's budget
        due = time.monotonic()
        while not self.stop.wait(max(0.0, due - time.monotonic())):
            due += every
            body = {"username": f"flood_{uuid.uuid4().hex[:12]}", "password": "guess-guess"}
            started = time.perf_counter()
            try:
                r = http.post(f"{self.server.url}/auth/login", json=body, timeout=60)
            except requests.RequestException:
                probe.statuses[0] += 1
                continue
            probe.add(started, r.status_code)

    def phase(self, seconds: float, addresses: int) -> tuple[Probe, Probe, Probe]:
        sign_ins, reads, flood = Probe(), Probe(), Probe()
        self.stop.clear()
        threads = [
            threading.Thread(target=self.signer, args=(sign_ins,)),
            threading.Thread(target=self.reader, args=(reads,)),
        ]
        for i in range(addresses):
            for _ in range(2):
                source = f"127.0.{i // 250 + 10}.{i % 250 + 1}"
                threads.append(threading.Thread(target=self.flooder, args=(source, flood)))
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        self.stop.set()
        for thread in threads:
            thread.join()
        return sign_ins, reads, flood


def environment(database_url: str, work: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {
        **os.environ,
        "APP_ENV": "production",
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "TOTP_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(work / "instance"),
        "NEW_USER_ROLE": "editor",
        **extra,
    }
    env.pop("REDIS_URL", None)
    return env


def start(env: dict[str, str], log: Path) -> RunningServer:
    for command in (["db", "upgrade"], ["seed-products", "100", "--seed", "1"]):
        subprocess.run(
            [str(BIN / "flask"), "--app", "app", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    return launch(
        [str(BIN / "python"), "-m", "shopapi.serving"],
        env,
        log_path=log,
        port=free_port(),
        ready_path="/readyz",
        wait=60,
    )


def sign_up(base: str) -> tuple[str, str, str]:
    """A legitimate account, its access token and a product id to read."""
    http = session_from("127.66.0.1")
    username = f"shopper_{uuid.uuid4().hex[:8]}"
    r = http.post(f"{base}/auth/register", json={"username": username, "password": PASSWORD})
    r.raise_for_status()
    secret = r.json()["totp"]["secret"]
    r = http.post(f"{base}/auth/login", json={"username": username, "password": PASSWORD})
    r.raise_for_status()
    code = pyotp.TOTP(secret).now()
    r = http.post(f"{base}/auth/verify", json={"mfa_token": r.json()["mfa_token"], "otp": code})
    r.raise_for_status()
    token = r.json()["access_token"]
    r = http.get(f"{base}/api/products?limit=1", headers={"Authorization": f"Bearer {token}"})
    r.raise_for_status()
    return username, token, str(r.json()["items"][0]["id"])


def measure(name: str, extra: dict[str, str], args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="shopapi-flood."))
    if args.mariadb:
        server_url = os.environ.get("TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")
        database_url, drop = scratch_database(server_url, "shopapi_flood")
    else:
        database_url, drop = f"sqlite:///{work / 'flood.sqlite3'}", lambda: None
    env = environment(database_url, work, extra)
    server = start(env, work / "server.log")
    try:
        username, token, product = sign_up(server.url)
        run = Run(server, token, product, username)
        print(f"\n{name}", flush=True)
        for phase, addresses in (("quiet", 0), ("flood", args.addresses)):
            sign_ins, reads, flood = run.phase(args.seconds, addresses)
            print(f"  {phase:5}  sign-in {sign_ins.summary()}")
            print(f"         read    {reads.summary()}")
            if addresses:
                hashed = flood.statuses[401]
                print(
                    f"         flood   {sum(flood.statuses.values())} logins, {hashed} hashed "
                    f"({hashed / args.seconds:.1f}/s); {flood.summary()}",
                    flush=True,
                )
    finally:
        server.stop(grace=40)
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="length of each phase")
    parser.add_argument("--addresses", type=int, default=16, help="flooding addresses")
    parser.add_argument("--mariadb", action="store_true", help="MariaDB instead of SQLite")
    parser.add_argument("--before-src", help="measure this checkout's src/ as 'before'")
    args = parser.parse_args()
    before = {"PYTHONPATH": args.before_src} if args.before_src else UNBOUNDED
    print(
        f"login flood: {args.addresses} addresses x 2 connections, {args.seconds:.0f} s a "
        "phase; sign-in = POST /auth/login, right password; read = GET /api/products/{id}; "
        "milliseconds"
    )
    measure("before (" + ("--before-src" if args.before_src else "unbounded") + ")", before, args)
    measure("after (default bounds)", {}, args)


if __name__ == "__main__":
    main()
