"""What the tests share, beyond pytest's fixtures (those stay in tests/conftest.py).

- database: scratch MariaDB and SQLite databases, the tests' Redis, reading the rows, and
  skipping (or failing, with REQUIRE_*=1) when a server is not there;
- clock: the service's clock, which in-process tests move instead of waiting for it, and
  the longest sleep a test may take;
- signin: the whole sign-in flow with real TOTP codes, through the test client or HTTP;
- waiting: waiting for a condition (a log line, a row gone) up to a deadline;
- servers: live servers (started by scripts/harness.py, as the drivers start theirs) and
  clients sending from their own loopback addresses;
- faults: a link to MariaDB the tests cut, stall or cut at a COMMIT, and a Redis to kill;
- problems: what an error answer must look like;
- products: a valid product body, and a product created through the API;
- stock: movements and reservations as a client sends them, and the ledger's invariant.

Tests import from here: `from support import AuthActions, assert_problem`.
"""

from harness import ROOT, free_port, scratch_database

from support.clock import LONGEST_SLEEP, MovableClock, real_sleep
from support.clock import install as install_clock
from support.database import (
    FAST_ARGON2,
    MARIADB_URL,
    REDIS_URL,
    absent,
    empty_tables,
    execute_sql,
    migrated_sqlite,
    scratch_mariadb,
    settings_for,
    shared_redis,
    signed_with,
    statements_sent,
    unavailable,
    user_row,
)
from support.faults import CuttableLink, conflicts_at_commit, redis_server
from support.problems import assert_problem, is_problem
from support.products import create_product, product_body
from support.servers import (
    LiveServer,
    http_session,
    loopback_address,
    server_env,
    start_production,
    start_server,
    stop_production,
    stop_server,
    workers_started,
)
from support.signin import (
    PASSWORD,
    Account,
    AuthActions,
    HttpAuth,
    bearer,
    settled_time,
    wrong_code,
)
from support.stock import assert_ledger_holds, ledger_rows, move, reserve
from support.waiting import log_with, wait_until

__all__ = [
    "FAST_ARGON2",
    "LONGEST_SLEEP",
    "MovableClock",
    "install_clock",
    "real_sleep",
    "MARIADB_URL",
    "PASSWORD",
    "REDIS_URL",
    "ROOT",
    "Account",
    "AuthActions",
    "CuttableLink",
    "conflicts_at_commit",
    "HttpAuth",
    "LiveServer",
    "absent",
    "assert_problem",
    "bearer",
    "create_product",
    "empty_tables",
    "execute_sql",
    "free_port",
    "http_session",
    "is_problem",
    "loopback_address",
    "migrated_sqlite",
    "product_body",
    "redis_server",
    "scratch_database",
    "scratch_mariadb",
    "server_env",
    "settings_for",
    "settled_time",
    "shared_redis",
    "signed_with",
    "start_production",
    "start_server",
    "statements_sent",
    "stop_production",
    "stop_server",
    "workers_started",
    "unavailable",
    "user_row",
    "log_with",
    "assert_ledger_holds",
    "ledger_rows",
    "move",
    "reserve",
    "wait_until",
    "wrong_code",
]
