"""Live servers for the end-to-end tests, and HTTP clients that talk to them.

Servers start through scripts/harness.py, as the benchmark and the load test start theirs:
`python app.py`, or the production server as `make serve` starts it. They listen on the
loopback (127.0.0.1 unless a test asks for ::1); a client may send from another loopback
address (127.x.y.z) so that its per-address budget is its own, whatever else runs.
"""

from __future__ import annotations

import os
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

import requests
from harness import ROOT, RunningServer, launch
from requests.adapters import HTTPAdapter

from shopapi.config import Settings
from support.database import FAST_ARGON2

LiveServer = RunningServer  # url, process, log(), workers(), stop()


def server_env(settings: Settings, secrets_env: dict[str, str], **extra: str) -> dict[str, str]:
    """The environment of a server on the database and instance folder of `settings`."""
    return {
        **secrets_env,
        "APP_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "INSTANCE_PATH": settings.instance_path,
        "ARGON2_TIME_COST": str(FAST_ARGON2["argon2_time_cost"]),
        "ARGON2_MEMORY_COST": str(FAST_ARGON2["argon2_memory_cost"]),
        "PURGE_INTERVAL": str(settings.purge_interval),
        # Room for every racing sign-in of a test (their races are about counting, not
        # capacity); tests of the hashing bounds pass small ones in `extra`.
        "HASH_QUEUE": "64",
        "LOGIN_RATE_LIMIT_GLOBAL": "100000/minute",
        **extra,
    }


def start_server(
    env: dict[str, str],
    log_path: Path,
    command: list[str] | None = None,
    host: str = "127.0.0.1",
) -> LiveServer:
    """`python app.py` (or `command`) on a free port of `host`; returns once /healthz
    answers."""
    return launch(
        command or [sys.executable, str(ROOT / "app.py")],
        {**os.environ, **env},
        log_path=log_path,
        host=host,
    )


def stop_server(server: LiveServer) -> None:
    server.stop(grace=10)


def start_production(
    env: dict[str, str], log_path: Path, workers: int = 2, host: str = "127.0.0.1"
) -> LiveServer:
    """The production server, started as `make serve` starts it, on a free port of `host`;
    returns once every worker has started (each listens only from then on)."""
    server = start_server(
        {**env, "WEB_CONCURRENCY": str(workers), "THREADS": "4"},
        log_path,
        [sys.executable, "-m", "shopapi.serving"],
        host,
    )
    deadline = time.monotonic() + 60
    while workers_started(server) < workers:
        if time.monotonic() > deadline:
            stop_production(server)
            raise RuntimeError(f"not every worker started: {server.log()}")
        time.sleep(0.1)
    return server


def workers_started(server: LiveServer) -> int:
    """How many worker processes the production server has started so far (each also
    logs its runtime's start, `Started worker-1 runtime-1`, which is not counted)."""
    return len(re.findall(r"Started worker-\d+$", server.log(), re.MULTILINE))


def stop_production(server: LiveServer) -> None:
    """Stop the server as a deployment does (SIGTERM); it stops its workers. One that is
    not done in 40 s (longer than its own 30 s bound) is killed, workers first."""
    server.stop(grace=40)


# --- clients -----------------------------------------------------------------------------


def loopback_address() -> str:
    """A random loopback address other than 127.0.0.1, to send requests from."""
    return f"127.{random.randint(10, 250)}.{random.randint(1, 250)}.{random.randint(1, 250)}"


class FromAddress(HTTPAdapter):
    """Sends from `source` (a loopback address)."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def http_session(source: str | None = None) -> requests.Session:
    """A requests session sending from `source` (default: a fresh loopback address)."""
    session = requests.Session()
    session.mount("http://", FromAddress(source or loopback_address()))
    return session
