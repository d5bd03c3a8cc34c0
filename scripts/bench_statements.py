"""`make bench-statements`: what the database spends on the service's reads, alone and with
the account check that rides in them.

`make bench` compares the service with its floors, which run the same statements without
the account check. This script measures the database's side of that difference on its own:
each read statement of the service (one product by id; the first page of 50 in id order)
is run BENCH_STATEMENT_RUNS times (3000) on one connection, as it is and combined with the
account check as `checked_read` combines them (`db.together`: a join for one product, a
`UNION ALL` for a page), and the script prints the MariaDB server's CPU time per statement
(read from /proc, so the server must run on this machine) and the client's wall time per
round trip. Best of BENCH_STATEMENT_ROUNDS rounds (3), the variants taken in turn in each.

Settings: BENCH_MARIADB_URL (mysql+pymysql://root@127.0.0.1:3306/), BENCH_ROWS (10000
products, seeded in a scratch database dropped at the end).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench import Rig
from sqlalchemy import Engine, create_engine, insert, make_url, text

from shopapi.caller.current import _PROBE
from shopapi.db import utcnow
from shopapi.db.together import together
from shopapi.models import SignInSession, User
from shopapi.products.listing import LISTING
from shopapi.products.models import PRODUCTS
from shopapi.resources.reads import Reads

RUNS = int(os.environ.get("BENCH_STATEMENT_RUNS", "3000"))
ROUNDS = int(os.environ.get("BENCH_STATEMENT_ROUNDS", "3"))


def _server_cpu(engine: Engine) -> Callable[[], float]:
    """Seconds of CPU the MariaDB server has used so far (its pid file names the process)."""
    with engine.connect() as conn:
        pid_file = str(conn.execute(text("SELECT @@pid_file")).scalar_one())
    try:
        pid = int(Path(pid_file).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        raise SystemExit(f"the MariaDB server is not on this machine ({pid_file})") from None
    ticks = os.sysconf("SC_CLK_TCK")

    def used() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    return used


def _account(engine: Engine) -> dict[str, Any]:
    """A user and a live session of theirs, as a signed-in caller has: the probe's params."""
    now = utcnow()
    with engine.begin() as conn:
        user_id = conn.execute(
            insert(User).values(
                username="bench_statements",
                username_normalized="bench_statements",
                # Never signs in: the rows are only read.
                password="-",  # noqa: S106
                twofa_secret="-",  # noqa: S106
                created_at=now,
            )
        ).inserted_primary_key[0]
        later = now + timedelta(hours=1)
        session_id = conn.execute(
            insert(SignInSession).values(
                user_id=user_id,
                created_at=now,
                last_used_at=now,
                expires_at=later,
                max_expires_at=later,
            )
        ).inserted_primary_key[0]
    return {"auth_user": user_id, "auth_session": session_id, "auth_now": now}


def _sql(engine: Engine, statement: Any, params: Mapping[str, Any]) -> str:
    """`statement` with its parameters written in, as the driver would send it."""
    compiled = statement.compile(dialect=engine.dialect)
    named = compiled.construct_params(dict(params))
    # Named for PyMySQL (pyformat), in order for mysqlclient (format).
    bound = [named[k] for k in compiled.positiontup] if compiled.positiontup else named
    raw = engine.raw_connection()
    try:
        cursor: Any = raw.cursor()
        return str(cursor.mogrify(compiled.string, bound))
    finally:
        raw.close()


def main() -> int:
    rig = Rig()
    try:
        rig.seed()
        engine = create_engine(make_url(rig.database_url))
        auth = _account(engine)
        reads = Reads(PRODUCTS)
        one_params = {"id": rig.first_id + 1, **PRODUCTS.effects.read_params()}
        page, page_params, _ = LISTING.prepare({"sort": "id", "limit": 50})
        dialect = engine.dialect.name
        statements = {
            "one product": _sql(engine, reads._one, one_params),
            "one product + account check": _sql(
                engine, together(_PROBE, reads._one).for_dialect(dialect), {**one_params, **auth}
            ),
            "a page of 50": _sql(engine, page, page_params),
            "a page of 50 + account check": _sql(
                engine, together(_PROBE, page).for_dialect(dialect), {**page_params, **auth}
            ),
            "the account check alone": _sql(engine, _PROBE, auth),
        }
        measure(engine, statements)
        engine.dispose()
    finally:
        rig.drop()
    return 0


def measure(engine: Engine, statements: Mapping[str, str]) -> None:
    server_cpu = _server_cpu(engine)
    best: dict[str, tuple[float, float]] = {}
    raw = engine.raw_connection()
    try:
        cursor: Any = raw.cursor()
        for _ in range(ROUNDS):
            for name, sql in statements.items():
                for _ in range(200):  # warm: plans, buffers, the connection
                    cursor.execute(sql)
                    cursor.fetchall()
                cpu, wall = server_cpu(), time.perf_counter()
                for _ in range(RUNS):
                    cursor.execute(sql)
                    cursor.fetchall()
                took = (
                    (server_cpu() - cpu) / RUNS * 1e6,
                    (time.perf_counter() - wall) / RUNS * 1e6,
                )
                kept = best.get(name, took)
                best[name] = (min(kept[0], took[0]), min(kept[1], took[1]))
    finally:
        raw.close()
    driver = engine.dialect.driver
    print(f"\nper statement on one connection ({driver}), best of {ROUNDS} rounds of {RUNS}")
    print(f"{'':32} {'server CPU':>12} {'round trip':>12}")
    for name, (cpu, wall) in best.items():
        line = f"{name:32} {cpu:9.1f} us {wall:9.1f} us"
        alone = name.removesuffix(" + account check")
        if alone != name:
            line += (
                f"   the check: +{cpu - best[alone][0]:.1f} us CPU, +{wall - best[alone][1]:.1f} us"
            )
        print(line)


if __name__ == "__main__":
    sys.exit(main())
