"""Fixtures: the app on each database backend, a client, and a helper that signs users in.

A test that uses the database runs on SQLite and on MariaDB, unless it is marked
`sqlite_only` (its answer cannot depend on the database: validation, the console, the docs,
the browser flows): then it runs once, on SQLite. MariaDB and Redis are skipped when absent,
unless REQUIRE_MARIADB=1 / REQUIRE_REDIS=1 (as in CI), which turns absence into failure.
The helpers live in tests/support/; the names below are also importable from here.

No test waits for the clock: the in-process service reads a clock the tests move
(`clock`), and a test that sleeps longer than a second in one call fails (`sleep_guard`).
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url
from support import (
    FAST_ARGON2,
    LONGEST_SLEEP,
    MARIADB_URL,
    PASSWORD,
    REDIS_URL,
    ROOT,
    Account,
    AuthActions,
    HttpAuth,
    LiveServer,
    MovableClock,
    assert_problem,
    database,
    empty_tables,
    execute_sql,
    free_port,
    install_clock,
    migrated_sqlite,
    real_sleep,
    scratch_mariadb,
    server_env,
    settings_for,
    settled_time,
    start_server,
    statements_sent,
    stop_server,
    unavailable,
    user_row,
    wrong_code,
)

from shopapi import create_app, signing
from shopapi.config import Settings

# What tests written against `from conftest import ...` find here.
__all__ = [
    "FAST_ARGON2",
    "MARIADB_URL",
    "PASSWORD",
    "REDIS_URL",
    "ROOT",
    "Account",
    "AuthActions",
    "HttpAuth",
    "LiveServer",
    "assert_problem",
    "execute_sql",
    "free_port",
    "scratch_mariadb",
    "server_env",
    "settled_time",
    "start_server",
    "statements_sent",
    "stop_server",
    "unavailable",
    "user_row",
    "wrong_code",
]


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> MovableClock:
    """The clock the in-process service reads (TOTP steps, token times, timestamps): the
    system clock, moved forward by the sign-in helpers or by the test (`clock.advance`)."""
    return install_clock(monkeypatch)


@pytest.fixture(autouse=True)
def sleep_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Counts the test's own time.sleep calls, and fails it at once when one would sleep
    longer than LONGEST_SLEEP: a test waits for a condition, up to a deadline, never for
    the clock. (The service's own threads sleep as they like.)"""
    calls: list[float] = []
    test_thread = threading.get_ident()

    def sleep(seconds: float) -> None:
        if threading.get_ident() == test_thread:
            calls.append(seconds)
            if seconds > LONGEST_SLEEP:
                pytest.fail(
                    f"time.sleep({seconds}) in a test (call {len(calls)}): wait for a "
                    "condition with a deadline, or move the clock (the `clock` fixture)"
                )
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    yield calls


BACKENDS = ("sqlite", "mariadb")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[object]:
    """Tests marked `redis` share one Redis database and empty it: each holds it from its
    setup to its teardown, so under pytest-xdist they take turns (tests/support/database.py)."""
    database.redis_claimed = item.get_closest_marker("redis") is not None
    if not database.redis_claimed:
        return (yield)
    with database.redis_turn():
        return (yield)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses the database runs once per backend of BACKENDS; one marked
    `sqlite_only` (on the function, or `pytestmark` of its module) runs on SQLite alone, one
    marked `mariadb_only` on MariaDB alone (never a skip counted on the other).
    Every concurrency, fault, migration, idempotency and race test stays on both."""
    if "database_url" not in metafunc.fixturenames:
        return
    backends = BACKENDS
    if metafunc.definition.get_closest_marker("sqlite_only"):
        backends = ("sqlite",)
    if metafunc.definition.get_closest_marker("mariadb_only"):
        backends = ("mariadb",)
    metafunc.parametrize(
        "database_url",
        [
            pytest.param(name, marks=pytest.mark.mariadb if name == "mariadb" else ())
            for name in backends
        ],
        indirect=True,
        scope="session",
    )


@pytest.fixture(scope="session")
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A scratch database with every migration applied, dropped after the run."""
    if request.param == "sqlite":
        yield migrated_sqlite(tmp_path_factory.mktemp("sqlite") / "test.sqlite3")
        return
    with scratch_mariadb() as url:
        yield url


@pytest.fixture(scope="session")
def secrets_env() -> dict[str, str]:
    return {
        "JWT_SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
        "TOTP_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }


@pytest.fixture(scope="session")
def key_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Two Ed25519 private key files, as `flask keys generate` writes them (the second is
    the one a rotation brings in)."""
    folder = tmp_path_factory.mktemp("keys")
    for name in ("first.pem", "second.pem"):
        signing.write_new_key(folder / name)
    return str(folder / "first.pem"), str(folder / "second.pem")


@pytest.fixture
def settings(database_url: str, secrets_env: dict[str, str], tmp_path: Path) -> Settings:
    empty_tables(database_url)
    return settings_for(database_url, tmp_path / "instance", secrets_env)


@pytest.fixture
def make_app(settings: Settings) -> Iterator[Callable[..., Any]]:
    """Builds apps on the test's database, with settings changed by keyword
    (`make_app(registration="invite")`); every one is disposed of after the test."""
    made: list[Any] = []

    def make(**changes: Any) -> Any:
        made.append(create_app(dataclasses.replace(settings, **changes)))
        return made[-1]

    yield make
    for app in made:
        app.extensions["db_engine"].dispose()  # and its other pools


@pytest.fixture
def app(make_app: Callable[..., Any]) -> Any:
    app = make_app()
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def backend(database_url: str) -> str:
    return make_url(database_url).get_backend_name()


@pytest.fixture
def auth(client: Any) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def admin(auth: AuthActions) -> dict[str, str]:
    """Headers of the first account of the test's empty database: its admin."""
    return auth.headers()


@pytest.fixture
def live_server(
    settings: Settings, secrets_env: dict[str, str], tmp_path: Path
) -> Iterator[LiveServer]:
    """`python app.py` on a free port, on this test's database backend."""
    server = start_server(server_env(settings, secrets_env), tmp_path / "server.log")
    yield server
    stop_server(server)


@pytest.fixture
def http_auth(live_server: LiveServer) -> HttpAuth:
    return HttpAuth(live_server.url)
