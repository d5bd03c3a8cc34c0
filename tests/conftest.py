"""Fixtures: the app on each database backend, a client, and a helper that signs users in.

Every test runs on SQLite and on MariaDB. MariaDB and Redis are skipped when absent,
unless REQUIRE_MARIADB=1 / REQUIRE_REDIS=1 (as in CI), which turns absence into failure.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
import pytest
import requests
from cryptography.fernet import Fernet
from harness import (  # scripts/harness.py (pytest's pythonpath)
    RunningServer,
    free_port,  # noqa: F401 - the tests import it from here
    launch,
    scratch_database,
)
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from shopapi import create_app
from shopapi.config import Settings
from shopapi.db import upgrade
from shopapi.models import Base

ROOT = Path(__file__).resolve().parent.parent
MARIADB_URL = os.environ.get("TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
# Cheap hashing in tests, through configuration only (production refuses these values).
FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_cost": 256, "argon2_parallelism": 1}
PASSWORD = "violet-harbour-lantern"
_names = itertools.count()


def _required(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "no")


def unavailable(what: str, env: str, error: Exception) -> None:
    message = f"{what} is not reachable ({type(error).__name__}: {error})"
    if _required(env):
        pytest.fail(f"{message}; {env}=1 makes it mandatory")
    pytest.skip(message)


# --- databases -----------------------------------------------------------------------


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


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]
)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A scratch database with every migration applied, dropped after the run."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "test.sqlite3"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url
        return
    with scratch_mariadb() as url:
        yield url


@pytest.fixture(scope="session")
def secrets_env() -> dict[str, str]:
    return {
        "JWT_SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
        "TOTP_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }


def _empty_tables(url: str) -> None:
    engine = create_engine(make_url(url))
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


@pytest.fixture
def settings(database_url: str, secrets_env: dict[str, str], tmp_path: Path) -> Settings:
    _empty_tables(database_url)
    return Settings.from_env(
        {"APP_ENV": "test", "INSTANCE_PATH": str(tmp_path / "instance"), **secrets_env},
        database_url=database_url,
        **FAST_ARGON2,
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def backend(database_url: str) -> str:
    return make_url(database_url).get_backend_name()


# --- signing in ----------------------------------------------------------------------


@dataclass
class Account:
    id: int
    username: str
    password: str
    secret: str
    recovery_codes: list[str]
    used_steps: set[int] = field(default_factory=set)

    def next_code(self) -> str:
        """A valid code this account has not used yet (the current step, else the next)."""
        while True:
            now = int(time.time()) // 30
            for step in (now, now + 1):
                if step not in self.used_steps and all(step > s for s in self.used_steps):
                    self.used_steps.add(step)
                    return pyotp.TOTP(self.secret).at(step * 30)
            time.sleep(30 - time.time() % 30 + 0.05)


class AuthActions:
    """Walks the whole flow: register, log in with the password, verify a real TOTP code."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def register(self, username: str | None = None, password: str = PASSWORD) -> Account:
        username = username or f"user{next(_names)}_{uuid.uuid4().hex[:6]}"
        r = self.client.post("/auth/register", json={"username": username, "password": password})
        assert r.status_code == 201, r.get_json()
        body = r.get_json()
        return Account(
            body["id"], username, password, body["totp"]["secret"], body["recovery_codes"]
        )

    def login(self, account: Account) -> str:
        r = self.client.post(
            "/auth/login", json={"username": account.username, "password": account.password}
        )
        assert r.status_code == 200, r.get_json()
        return str(r.get_json()["mfa_token"])

    def verify(self, account: Account, mfa_token: str) -> str:
        r = self.client.post(
            "/auth/verify", json={"mfa_token": mfa_token, "otp": account.next_code()}
        )
        assert r.status_code == 200, r.get_json()
        return str(r.get_json()["access_token"])

    def sign_in(self, account: Account | None = None) -> tuple[Account, str]:
        account = account or self.register()
        return account, self.verify(account, self.login(account))

    def headers(self, account: Account | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.sign_in(account)[1]}"}


@pytest.fixture
def auth(client: Any) -> AuthActions:
    return AuthActions(client)


# --- a real server -------------------------------------------------------------------


LiveServer = RunningServer  # url, process, log()


def start_server(
    env: dict[str, str], log_path: Path, command: list[str] | None = None
) -> LiveServer:
    """`python app.py` (or `command`) on a free port; returns once /healthz answers."""
    return launch(
        command or [sys.executable, str(ROOT / "app.py")], {**os.environ, **env}, log_path=log_path
    )


def stop_server(server: LiveServer) -> None:
    server.stop(grace=10)


def server_env(settings: Settings, secrets_env: dict[str, str], **extra: str) -> dict[str, str]:
    return {
        **secrets_env,
        "APP_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "INSTANCE_PATH": settings.instance_path,
        "ARGON2_TIME_COST": str(FAST_ARGON2["argon2_time_cost"]),
        "ARGON2_MEMORY_COST": str(FAST_ARGON2["argon2_memory_cost"]),
        **extra,
    }


@pytest.fixture
def live_server(
    settings: Settings, secrets_env: dict[str, str], tmp_path: Path
) -> Iterator[LiveServer]:
    """`python app.py` on a free port, on this test's database backend."""
    server = start_server(server_env(settings, secrets_env), tmp_path / "server.log")
    yield server
    stop_server(server)


class HttpAuth(AuthActions):
    """The same flow over real HTTP (requests) against a live server."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.http = requests.Session()
        super().__init__(_RequestsClient(self.http, base_url))


class _RequestsClient:
    """Adapts requests to the small part of Flask's test client the helpers use."""

    def __init__(self, http: requests.Session, base: str) -> None:
        self.http, self.base = http, base

    def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None) -> Any:
        r = self.http.post(self.base + path, json=json, headers=headers, timeout=30)
        r.get_json = r.json  # type: ignore[attr-defined]
        return r


@pytest.fixture
def http_auth(live_server: LiveServer) -> HttpAuth:
    return HttpAuth(live_server.url)


# --- helpers for the auth tests --------------------------------------------------------


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem of `status`; returns its body."""
    assert response.status_code == status, (response.status_code, response.data[:500])
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body: dict[str, Any] = response.get_json(force=True)
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert "type" in body
    return body


def settled_time(margin: float = 3.0) -> float:
    """Now, at least `margin` seconds before the TOTP step ends (waits a moment if needed).

    A test that computes codes for "now - 30 s" must not see the step change before the
    server checks them.
    """
    remaining = 30 - time.time() % 30
    if remaining < margin:
        time.sleep(remaining + 0.05)
    return time.time()


def wrong_code(secret: str, now: float | None = None) -> str:
    """A 6-digit code that matches none of the steps around now (so it is surely wrong)."""
    now = time.time() if now is None else now
    totp = pyotp.TOTP(secret)
    near = {totp.at(now + 30 * k) for k in range(-3, 4)}
    candidates = (f"{(123456 + 7919 * k) % 1_000_000:06d}" for k in itertools.count())
    return next(c for c in candidates if c not in near)


def user_row(app: Any, username: str) -> Any:
    """The stored `users` row of `username` (read straight from the database)."""
    with app.extensions["db_engine"].connect() as conn:
        return conn.execute(
            text("SELECT * FROM users WHERE username_normalized = :u"), {"u": username.lower()}
        ).one()


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


def execute_sql(app: Any, sql: str, **params: Any) -> None:
    with app.extensions["db_engine"].begin() as conn:
        conn.execute(text(sql), params)
