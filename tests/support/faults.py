"""Faults the tests inject: a TCP link to MariaDB they can cut, and a Redis they can kill.

`CuttableLink` sits between the service and MariaDB: the test cuts it, stalls it, or cuts it
exactly at a COMMIT. `conflicts_at_commit` makes an engine's COMMITs fail as the database
fails one it aborted to resolve a conflict. `redis_server` is a Redis of the test's own.
"""

from __future__ import annotations

import select
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from support.database import unavailable


def conflict_error(dialect: Any) -> Exception:
    """The driver's own error for a transaction the database aborted to resolve a conflict:
    InnoDB's deadlock (1213) on MariaDB (from PyMySQL or mysqlclient, whichever the engine
    uses), "database is locked" on SQLite."""
    if dialect.name == "mysql":
        error: Exception = dialect.loaded_dbapi.OperationalError(
            1213, "Deadlock found when trying to get lock; try restarting transaction"
        )
        return error
    import sqlite3

    return sqlite3.OperationalError("database is locked")


@contextmanager
def conflicts_at_commit(engine: Any, times: int) -> Iterator[list[int]]:
    """The next `times` COMMITs of `engine` fail with the backend's conflict error instead
    of committing (the transaction is then rolled back, as the server does); yields the
    count of COMMITs failed so far, in a one-item list."""
    dialect = engine.dialect
    real_commit = dialect.do_commit
    failed = [0]

    def do_commit(dbapi_connection: Any) -> None:
        if failed[0] < times:
            failed[0] += 1
            raise conflict_error(dialect)
        real_commit(dbapi_connection)

    dialect.do_commit = do_commit
    try:
        yield failed
    finally:
        dialect.do_commit = real_commit


def redis_server(port: int, folder: Path) -> subprocess.Popen[bytes]:
    """A redis-server of the test's own on 127.0.0.1:`port`, keeping nothing on disk."""
    import redis

    try:
        process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except FileNotFoundError as error:
        unavailable("redis-server", "REQUIRE_REDIS", error)
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # No retries inside redis-py (its backoff sleeps for seconds): this loop is the wait,
    # up to 30 s for a busy machine.
    store = redis.Redis(
        host="127.0.0.1", port=port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    for _ in range(600):
        try:
            store.ping()
            store.close()
            return process
        except redis.RedisError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start")


class CuttableLink:
    """A TCP proxy 127.0.0.1:<port> -> target, in threads, that the test can cut.

    `cut()` closes every connection and refuses new ones (the port stays bound but
    connections are reset at once); `stall()` keeps every connection open but carries
    nothing either way (a server that hangs); `restore()` forwards again. `cut_at_commit(after=...)`
    arms a cut for the next COMMIT a client sends: before it reaches the server
    (the transaction is lost) or right after (committed, but the answer never arrives).
    With `of=b"UPDATE products"`, only the COMMIT of a transaction that sent those bytes
    is cut: a COMMIT of anything else the server does meanwhile passes.
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
        self._armed_of: bytes | None = None
        self._stopped = False
        self.cuts_at_commit = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def connections(self) -> int:
        """How many client connections the link carries now."""
        with self._lock:
            return len(self._pairs)

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

    def cut_at_commit(self, after: bool, of: bytes | None = None) -> None:
        with self._lock:
            self._armed = "after" if after else "before"
            self._armed_of = of

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
        # What the client sent since its last COMMIT or ROLLBACK (its last 256 KiB: a
        # connection in autocommit mode sends neither).
        sent = bytearray()
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
                    if source is client:
                        sent += data
                        del sent[:-_KEPT_SENT]
                        commit = b"\x03COMMIT" in data
                        if commit and self._take_commit(sent):
                            if self._armed_mode == "after":
                                upstream.sendall(data)
                                time.sleep(0.2)  # let the server read the COMMIT first
                            self.cut()
                            return
                        if commit or b"\x03ROLLBACK" in data:
                            sent.clear()
                    (upstream if source is client else client).sendall(data)
        except (OSError, ValueError):
            return
        finally:
            _close(client)
            _close(upstream)

    _armed_mode: str | None = None

    def _take_commit(self, transaction: bytearray) -> bool:
        with self._lock:
            if self._armed is None:
                return False
            if self._armed_of is not None and self._armed_of not in transaction:
                return False
            self._armed_mode, self._armed = self._armed, None
            self._cut = True
            self.cuts_at_commit += 1
            return True


_KEPT_SENT = 256 * 1024


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
