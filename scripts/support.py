"""What the benchmark and load-test drivers share: a free port and a scratch database."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
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
