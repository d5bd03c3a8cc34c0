"""What the tests and the benchmark and load-test drivers share: a free port, a scratch
MariaDB database, and one way to start a server and stop it.

The tests reach this module through pytest's `pythonpath`; the drivers in scripts/ import it
from their own folder.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
# Loopback requests never go through a proxy from the environment.
_LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def scratch_database(server_url: str, prefix: str) -> tuple[str, Callable[[], None]]:
    """Create an empty utf8mb4 database with a unique name; returns its URL and a drop()."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    server = create_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(
            text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        )

    def drop() -> None:
        with server.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()

    return make_url(server_url).set(database=name).render_as_string(hide_password=False), drop


class ServerDidNotStart(RuntimeError):
    """The server exited, or did not answer in time; the message ends with its log."""


@dataclass
class RunningServer:
    """A server process on the loopback, its base URL, and the file its output goes to."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path | None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def workers(self) -> list[int]:
        """The process ids of its worker processes (none for a single-process server)."""
        pid = self.process.pid
        try:
            return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except FileNotFoundError:  # it has exited
            return []

    def stop(self, grace: float = 10) -> None:
        """SIGTERM, as a deployment stops a server; whatever is still running after `grace`
        seconds (workers first, then the server) is killed."""
        if self.process.poll() is not None:
            return
        workers = self.workers()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            for worker in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker, signal.SIGKILL)
            self.process.kill()
            self.process.wait(timeout=10)


def launch(
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    log_path: Path | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    ready_path: str = "/healthz",
    wait: float = 30,
    cwd: Path = ROOT,
) -> RunningServer:
    """Run `command` from `cwd` (the repository's root) with `env` (the whole environment) plus HOST
    (`host`, 127.0.0.1 or another loopback address such as ::1) and PORT (`port`, else a free
    one); return once `ready_path` answers 200.

    Output goes to `log_path` (nowhere without one). A server that exits, or does not answer
    within `wait` seconds, is stopped and ServerDidNotStart is raised.
    """
    port = port or free_port(host)
    full_env = {**env, "HOST": host, "PORT": str(port)}
    # The child keeps its own copy of the file handle; ours is closed at once.
    with log_path.open("wb") if log_path else open(os.devnull, "wb") as out:
        process = subprocess.Popen(
            list(command), cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT
        )
    address = f"[{host}]" if ":" in host else host
    server = RunningServer(f"http://{address}:{port}", process, log_path)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerDidNotStart(f"{shlex.join(command)} exited while starting:\n{server.log()}")
        if _answers(server.url + ready_path):
            return server
        time.sleep(0.1)
    server.stop()
    raise ServerDidNotStart(
        f"{shlex.join(command)} did not answer {ready_path} in {wait:.0f} s:\n{server.log()}"
    )


def _answers(url: str) -> bool:
    try:
        with _LOOPBACK.open(url, timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):  # not listening yet, refused, or a busy machine
        return False
