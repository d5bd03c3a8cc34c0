"""The three-node Galera cluster of scripts/galera.sh, as the tests use it: whether it runs
(skip, or fail with REQUIRE_GALERA=1), a scratch database on it, the DATABASE_URL of an
instance that prefers one node, killing and restarting a node, and reading each node.

TEST_GALERA_NODES names the nodes (default `127.0.0.1:3311,127.0.0.1:3312,127.0.0.1:3313`,
the script's); node N of the tests is the Nth of them and scripts/galera.sh's node N.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pymysql
from harness import ROOT, scratch_database
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from shopapi.db import upgrade
from support.database import absent
from support.servers import LiveServer

NODES = os.environ.get("TEST_GALERA_NODES", "127.0.0.1:3311,127.0.0.1:3312,127.0.0.1:3313").split(
    ","
)
SCRIPT = ROOT / "scripts" / "galera.sh"


@dataclass
class Cluster:
    """Two instances on one scratch database of the cluster."""

    a: LiveServer  # on node 1
    b: LiveServer  # on node 2
    database: str
    admin: dict[str, str]  # headers of the database's first account, its admin

    @property
    def bases(self) -> tuple[str, str]:
        return self.a.url, self.b.url


def node_url(node: int, database: str = "") -> str:
    """A URL of node `node` alone (1-based)."""
    return f"mysql+pymysql://root@{NODES[node - 1]}/{database}"


def status(node: int, name: str) -> str | None:
    """A wsrep status variable of `node`, or None when it does not answer."""
    try:
        conn = driver_connection(node)
    except pymysql.Error:
        return None
    try:
        with conn.cursor() as cursor:
            cursor.execute("SHOW GLOBAL STATUS LIKE %s", (name,))
            row = cursor.fetchone()
        return None if row is None else str(row[1])
    finally:
        conn.close()


def driver_connection(node: int) -> Any:
    """A connection to `node` through the driver alone: SQLAlchemy's first queries on a
    connection would meet the 1047 of a node out of the cluster."""
    host, port = NODES[node - 1].rsplit(":", 1)
    return pymysql.connect(host=host, port=int(port), user="root", connect_timeout=1)


def synced(node: int) -> bool:
    return status(node, "wsrep_local_state_comment") == "Synced" and status(
        node, "wsrep_cluster_size"
    ) == str(len(NODES))


def require_cluster() -> None:
    """Skip (or fail, with REQUIRE_GALERA=1) unless every node is synced in one cluster."""
    for node in range(1, len(NODES) + 1):
        if not synced(node):
            absent(
                f"the Galera cluster is not running (node {node} at {NODES[node - 1]} is not "
                "synced; start it with `make galera-up`)",
                "REQUIRE_GALERA",
            )


@contextmanager
def scratch_cluster_database() -> Iterator[str]:
    """A database of its own on the cluster (made through node 1, migrated), dropped
    afterwards through whichever node serves; yields its name."""
    url, drop = scratch_database(node_url(1), "shopapi_galera")
    name = make_url(url).database or ""
    try:
        upgrade(url)
        yield name
    finally:
        drop_anywhere(name, drop)


def drop_anywhere(name: str, drop: Any) -> None:
    try:
        drop()
    except Exception:  # noqa: BLE001 - node 1 may be the one a test left down
        for node in range(2, len(NODES) + 1):
            engine = create_engine(node_url(node), isolation_level="AUTOCOMMIT")
            try:
                with engine.connect() as conn:
                    conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
                return
            finally:
                engine.dispose()


def instance_url(database: str, first: int) -> str:
    """The DATABASE_URL of an instance that talks to node `first`, and to the next nodes
    in turn when it cannot."""
    order = [NODES[(first - 1 + k) % len(NODES)] for k in range(len(NODES))]
    return f"mysql://root@{','.join(order)}/{database}"


def galera(*args: str) -> str:
    """scripts/galera.sh with `args` (kill N, start-node N); its output."""
    done = subprocess.run(  # noqa: S603 - the repository's own script
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def count_on(node: int, database: str, sql: str, **params: Any) -> int:
    """The integer `sql` reads on node `node` alone, once the node has applied everything
    the cluster committed before the read (wsrep_sync_wait)."""
    engine = create_engine(node_url(node, database))
    try:
        with engine.connect() as conn:
            conn.execute(text("SET SESSION wsrep_sync_wait = 1"))
            return int(conn.execute(text(sql), params).scalar_one())
    finally:
        engine.dispose()


def isolate(node: int, isolated: bool) -> None:
    """Cut node `node` off from the others (gmcast.isolate), or let it back: cut off, it
    leaves the primary component and answers 1047 to what reads or writes data."""
    conn = driver_connection(node)
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SET GLOBAL wsrep_provider_options = %s", (f"gmcast.isolate={int(isolated)}",)
            )
    finally:
        conn.close()
