"""Helpers of the scale-out and fault tests: real servers, a scratch MariaDB, a cuttable link.

Every request of these tests goes to 127.0.0.1. A client may send from another loopback
address (127.x.y.z) so that its per-address budget is its own, whatever else runs.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests
from conftest import (
    FAST_ARGON2,
    REDIS_URL,
    HttpAuth,
    LiveServer,
    start_server,
    unavailable,
)
from requests.adapters import HTTPAdapter

# --- where the state lives ---------------------------------------------------------------


def shared_redis() -> Any:
    """The tests' Redis database, emptied (or skip / fail)."""
    import redis

    try:
        store = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        store.ping()
        store.flushdb()
    except redis.RedisError as error:
        unavailable("Redis", "REQUIRE_REDIS", error)
    return store


def base_env(database_url: str, secrets_env: dict[str, str], instance: Path, **extra: str) -> dict:
    return {
        **secrets_env,
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance),
        "ARGON2_TIME_COST": str(FAST_ARGON2["argon2_time_cost"]),
        "ARGON2_MEMORY_COST": str(FAST_ARGON2["argon2_memory_cost"]),
        "PURGE_INTERVAL": "0",  # a test that wants the background purge asks for it
        **extra,
    }


# --- production serving ------------------------------------------------------------------


def start_production(env: dict[str, str], log_path: Path, workers: int = 2) -> LiveServer:
    """The production server, started as `make serve` starts it, on a free port; returns
    once every worker has started (each listens only from then on)."""
    server = start_server(
        {**env, "WEB_CONCURRENCY": str(workers), "THREADS": "4"},
        log_path,
        [sys.executable, "-m", "shopapi.serving"],
    )
    deadline = time.monotonic() + 60
    while server.log().count("Started worker-") < workers:
        if time.monotonic() > deadline:
            stop_production(server)
            raise RuntimeError(f"not every worker started: {server.log()}")
        time.sleep(0.1)
    return server


def stop_production(server: LiveServer) -> None:
    """Stop the server as a deployment does (SIGTERM); it stops its workers. One that is
    not done in 40 s (longer than its own 30 s bound) is killed, workers first."""
    if server.process.poll() is not None:
        return
    pid = server.process.pid
    workers = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(worker), signal.SIGKILL)
        server.process.kill()
        server.process.wait(timeout=5)


# --- clients -----------------------------------------------------------------------------


def loopback_address() -> str:
    """A random loopback address other than 127.0.0.1, to send requests from."""
    return f"127.{random.randint(10, 250)}.{random.randint(1, 250)}.{random.randint(1, 250)}"  # noqa: S311


class _FromAddress(HTTPAdapter):
    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def http_session(source: str | None = None) -> requests.Session:
    """A requests session sending from `source` (default: a fresh loopback address)."""
    session = requests.Session()
    session.mount("http://", _FromAddress(source or loopback_address()))
    return session


def http_auth(base_url: str, source: str | None = None) -> HttpAuth:
    """The conftest sign-in helper over HTTP, sending from its own loopback address."""
    auth = HttpAuth(base_url)
    auth.http.mount("http://", _FromAddress(source or loopback_address()))
    return auth


def is_problem(response: requests.Response, status: int) -> bool:
    return response.status_code == status and response.headers.get("Content-Type", "").startswith(
        "application/problem+json"
    )


# --- a link to MariaDB that a test can cut -----------------------------------------------


class CuttableLink:
    """A TCP proxy 127.0.0.1:<port> -> target, in threads, that the test can cut.

    `cut()` closes every connection and refuses new ones (the port stays bound but
    connections are reset at once); `stall()` keeps every connection open but carries
    nothing either way (a server that hangs); `restore()` forwards again. `cut_at_commit(after=...)`
    arms a cut for the next COMMIT a client sends: before it reaches the server
    (the transaction is lost) or right after (committed, but the answer never arrives).
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port: int = self.listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._cut = False
        self._stalled = False
        self._held: list[socket.socket] = []
        self._armed: str | None = None
        self._stopped = False
        self.cuts_at_commit = 0
        threading.Thread(target=self._accept, daemon=True).start()

    # controls
    def cut(self) -> None:
        with self._lock:
            self._cut = True
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            _close(a)
            _close(b)

    def stall(self) -> None:
        with self._lock:
            self._stalled = True

    def restore(self) -> None:
        with self._lock:
            stalled, self._stalled = self._stalled, False
        if stalled:  # what was in flight is lost: those connections cannot go on
            self.cut()
            with self._lock:
                held, self._held = self._held, []
            for sock in held:
                _close(sock)
        with self._lock:
            self._cut = False
            self._armed = None

    def cut_at_commit(self, after: bool) -> None:
        with self._lock:
            self._armed = "after" if after else "before"

    def close(self) -> None:
        self._stopped = True
        self.cut()
        _close(self.listener)

    # forwarding
    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                refused, stalled = self._cut, self._stalled
                if stalled:
                    self._held.append(client)
            if refused:
                _reset(client)
                continue
            if stalled:
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        sockets = [client, upstream]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 1.0)
                if self._stopped:
                    return
                if self._stalled:
                    time.sleep(0.05)
                    continue
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    if source is client and b"\x03COMMIT" in data and self._take_commit():
                        if self._armed_mode == "after":
                            upstream.sendall(data)
                            time.sleep(0.2)  # let the server read the COMMIT first
                        self.cut()
                        return
                    (upstream if source is client else client).sendall(data)
        except (OSError, ValueError):
            return
        finally:
            _close(client)
            _close(upstream)

    _armed_mode: str | None = None

    def _take_commit(self) -> bool:
        with self._lock:
            if self._armed is None:
                return False
            self._armed_mode, self._armed = self._armed, None
            self._cut = True
            self.cuts_at_commit += 1
            return True


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # takes effect even while a pump thread selects on it
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def _reset(sock: socket.socket) -> None:
    """Close with RST, as a refused or broken connection looks to the client."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    _close(sock)
