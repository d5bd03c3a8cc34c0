"""What the Galera cluster of scripts/galera.sh gives and costs: prints figures, asserts
nothing (docs/operations/galera.md, docs/development/performance.md).

- Causal reads: a primary-key read on node 2 through the service's engine, with
  wsrep_sync_wait 0 (none), 1 (reads) and 3 (the service's: reads, updates and deletes), on
  an idle cluster and while node 1 commits without pause; and the same read on the
  single MariaDB server for comparison.
- One node or all: reads, inserts and contended updates (10 hot rows) per second from
  THREADS connections, all on node 1, then spread over the three nodes; with the updates
  the database aborted (deadlocks, lost certifications) per second.

Run with the cluster up (`make galera-up`):
  .venv/bin/python scripts/bench_galera.py [--seconds 5] [--threads 8]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from harness import scratch_database  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.exc import DBAPIError  # noqa: E402

from shopapi.db import hosts, make_engine  # noqa: E402

NODES = ["127.0.0.1:3311", "127.0.0.1:3312", "127.0.0.1:3313"]
SINGLE = "127.0.0.1:3306"
ROWS, HOT = 10_000, 10  # ROWS: as many as setup() inserts


def url(host: str, database: str = "") -> str:
    return f"mysql://root@{host}/{database}"


def setup(host: str, database: str) -> None:
    """The tables the figures use: `item` with ROWS rows, and an empty `note`."""
    engine = make_engine(url(host, database))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE item (id INT PRIMARY KEY, n INT NOT NULL)"))
        conn.execute(text("CREATE TABLE note (id INT AUTO_INCREMENT PRIMARY KEY, body TEXT)"))
        conn.execute(text("INSERT INTO item (id, n) SELECT seq, 0 FROM seq_1_to_10000"))
    engine.dispose()


def read_costs(host: str, database: str, settings: tuple[int, ...], rounds: int) -> list[float]:
    """Microseconds per primary-key read with each wsrep_sync_wait of `settings` (median of
    `rounds` batches of 100 each): one connection per setting, their batches taken in turn,
    so that other load on the machine weighs on each alike."""
    engines, connections = [], []
    for sync_wait in settings:
        hosts.WSREP_SYNC_WAIT = sync_wait  # read when a connection opens
        engines.append(make_engine(url(host, database), read_only=True))
        connections.append(engines[-1].connect())
    hosts.WSREP_SYNC_WAIT = 3
    query = text("SELECT n FROM item WHERE id = :id")
    batches: list[list[float]] = [[] for _ in settings]
    for _ in range(rounds):
        for conn, spent in zip(connections, batches, strict=True):
            started = time.perf_counter()
            for _ in range(100):
                conn.execute(query, {"id": random.randint(1, ROWS)}).scalar_one()  # noqa: S311
            spent.append((time.perf_counter() - started) / 100)
    for conn, engine in zip(connections, engines, strict=True):
        conn.close()
        engine.dispose()
    return [statistics.median(spent) * 1e6 for spent in batches]


def busy_writer(database: str, stop: threading.Event) -> threading.Thread:
    """Node 1 committing one-row updates without pause until `stop`."""

    def run() -> None:
        engine = make_engine(url(NODES[0], database))
        with engine.connect() as conn:
            while not stop.is_set():
                conn.execute(
                    text("UPDATE item SET n = n + 1 WHERE id = :id"),
                    {"id": random.randint(HOT + 1, ROWS)},  # noqa: S311
                )
                conn.commit()
        engine.dispose()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def causal_reads(database: str, single_database: str) -> None:
    settings = (0, 1, 3)
    idle = read_costs(NODES[1], database, settings, 60)
    stop = threading.Event()
    writer = busy_writer(database, stop)
    busy = read_costs(NODES[1], database, settings, 60)
    stop.set()
    writer.join()
    print("Causal reads: microseconds per primary-key read on node 2 (median of 60 x 100)")
    print(f"{'wsrep_sync_wait':>16} {'idle':>8} {'node 1 writing':>15}")
    for sync_wait, quiet, loaded in zip(settings, idle, busy, strict=True):
        print(f"{sync_wait:>16} {quiet:>8.0f} {loaded:>15.0f}")
    (single,) = read_costs(SINGLE, single_database, (0,), 60)
    print(f"{'single server':>16} {single:>8.0f}")


def per_second(
    targets: list[str], database: str, threads: int, seconds: float, work: Callable[..., None]
) -> tuple[float, float]:
    """Operations and aborted transactions per second of `work(conn)` from `threads`
    connections, thread i on targets[i % len(targets)]."""
    engines = [make_engine(url(t, database), pool_size=threads) for t in targets]
    done, aborted = [0] * threads, [0] * threads
    until = time.monotonic() + seconds

    def run(i: int) -> None:
        with engines[i % len(engines)].connect() as conn:
            while time.monotonic() < until:
                try:
                    work(conn)
                    conn.commit()
                    done[i] += 1
                except DBAPIError as error:
                    conn.rollback()
                    if error.orig is None or error.orig.args[0] not in (1213, 1205):
                        raise
                    aborted[i] += 1

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for engine in engines:
        engine.dispose()
    return sum(done) / seconds, sum(aborted) / seconds


def read(conn: Any) -> None:
    conn.execute(text("SELECT n FROM item WHERE id = :id"), {"id": random.randint(1, ROWS)})  # noqa: S311


def insert(conn: Any) -> None:
    conn.execute(text("INSERT INTO note (body) VALUES ('a note of some thirty characters')"))


def contended(conn: Any) -> None:
    conn.execute(text("UPDATE item SET n = n + 1 WHERE id = :id"), {"id": random.randint(1, HOT)})  # noqa: S311


def one_node_or_all(database: str, threads: int, seconds: float) -> None:
    print(f"\nOne node or all: operations per second from {threads} connections ({seconds:.0f} s)")
    print(f"{'':>22} {'node 1':>10} {'3 nodes':>10}   aborted/s (node 1, 3 nodes)")
    for name, work in (("reads", read), ("inserts", insert), ("hot-row updates", contended)):
        one, one_aborted = per_second(NODES[:1], database, threads, seconds, work)
        spread, spread_aborted = per_second(NODES, database, threads, seconds, work)
        print(f"{name:>22} {one:>10.0f} {spread:>10.0f}   {one_aborted:.0f}, {spread_aborted:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    cluster_url, drop = scratch_database(f"mysql+pymysql://root@{NODES[0]}/", "shopapi_bench")
    single_url, drop_single = scratch_database(f"mysql+pymysql://root@{SINGLE}/", "shopapi_bench")
    try:
        database = make_url(cluster_url).database or ""
        setup(NODES[0], database)
        single = make_url(single_url).database or ""
        setup(SINGLE, single)
        causal_reads(database, single)
        one_node_or_all(database, args.threads, args.seconds)
    finally:
        drop()
        drop_single()


if __name__ == "__main__":
    main()
