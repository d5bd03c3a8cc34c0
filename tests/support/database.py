"""Where the tests' state lives: scratch databases, the tests' Redis, and reading the rows.

MariaDB and Redis are skipped when absent, unless REQUIRE_MARIADB=1 / REQUIRE_REDIS=1 (as in
CI), which turns absence into failure.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest
from harness import scratch_database
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from shopapi.config import Settings
from shopapi.db import upgrade
from shopapi.models import Base

MARIADB_URL = os.environ.get("TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
# Cheap hashing in tests, through configuration only (production refuses these values).
FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_cost": 256, "argon2_parallelism": 1}


def required(env: str) -> bool:
    """Whether `env` (REQUIRE_MARIADB, ...) makes a missing server a failure."""
    return os.environ.get(env, "") not in ("", "0", "false", "no")


def absent(message: str, env: str) -> NoReturn:
    """Skip the test for want of something, or fail it when `env` makes that mandatory."""
    if required(env):
        pytest.fail(f"{message}; {env}=1 makes it mandatory")
    pytest.skip(message)


def unavailable(what: str, env: str, error: Exception) -> NoReturn:
    absent(f"{what} is not reachable ({type(error).__name__}: {error})", env)


@contextmanager
def scratch_mariadb() -> Iterator[str]:
    """A MariaDB database of its own, migrated, dropped afterwards (or skip / fail)."""
    try:
        url, drop = scratch_database(MARIADB_URL, "shopapi_test")
    except Exception as error:  # noqa: BLE001 - any connection failure
        unavailable("MariaDB", "REQUIRE_MARIADB", error)
    try:
        upgrade(url)
        yield url
    finally:
        drop()


def migrated_sqlite(path: Path) -> str:
    """The URL of a SQLite database at `path` with every migration applied."""
    url = f"sqlite:///{path}"
    upgrade(url)
    return url


def settings_for(
    database_url: str, instance_path: Path | str, secrets_env: dict[str, str], **overrides: Any
) -> Settings:
    """The settings of a test app on `database_url`: APP_ENV=test, cheap hashing, and no
    background purge (it would delete rows under the tests' feet; a test that wants one
    asks for it)."""
    return Settings.from_env(
        {"APP_ENV": "test", "INSTANCE_PATH": str(instance_path), **secrets_env},
        database_url=database_url,
        **{**FAST_ARGON2, "purge_interval": 0, **overrides},
    )


def signed_with(settings: Settings, algorithm: str, *key_files: str) -> Settings:
    """`settings`, signing access tokens with `algorithm` (and these key files, for EdDSA)."""
    changed = dataclasses.replace(
        settings, jwt_algorithm=algorithm, jwt_private_key_files=tuple(key_files)
    )
    return changed.with_secrets()


def empty_tables(url: str) -> None:
    engine = create_engine(make_url(url))
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


# Whether the running test is marked `redis` (tests/conftest.py sets it for each test).
# Those tests empty the one Redis database of TEST_REDIS_URL, so they take turns: across
# pytest-xdist workers, and across pytest runs, one at a time (`redis_turn`).
redis_claimed = True


@contextmanager
def redis_turn() -> Iterator[None]:
    """The shared Redis database, held by the running test from its setup to its teardown:
    every other test marked `redis` waits, in this process or another, until it is done."""
    name = hashlib.sha256(REDIS_URL.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"shopapi-tests-redis-{name}.lock"
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def shared_redis() -> Any:
    """The tests' Redis database (TEST_REDIS_URL), emptied (or skip / fail)."""
    import redis

    if not redis_claimed:
        raise RuntimeError(
            "mark the test (or its module) `pytest.mark.redis`: tests that empty the shared "
            "Redis database take turns (support.database.redis_turn)"
        )
    try:
        store = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        store.ping()
        store.flushdb()
    except redis.RedisError as error:
        unavailable("Redis", "REQUIRE_REDIS", error)
    return store


# --- reading and writing an app's database ------------------------------------------------


def user_row(app: Any, username: str) -> Any:
    """The stored `users` row of `username` (read straight from the database)."""
    with app.extensions["db_engine"].connect() as conn:
        return conn.execute(
            text("SELECT * FROM users WHERE username_normalized = :u"), {"u": username.lower()}
        ).one()


def execute_sql(app: Any, sql: str, **params: Any) -> None:
    with app.extensions["db_engine"].begin() as conn:
        conn.execute(text(sql), params)


@contextmanager
def statements_sent(app: Any) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement (text and driver parameters) the app sends while the block runs."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    engines = {app.extensions["db_engine"], app.extensions["db_reader"]}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)
