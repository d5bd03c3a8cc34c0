"""Faults, end to end with real servers: the database or Redis goes away, then comes back.

The service reaches MariaDB through a TCP link the test can cut (`CuttableLink`). While it
is cut, whatever needs the database answers 503 problem+json within the configured
connect and query timeouts, and the same processes serve again once it is restored.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from support import (
    CuttableLink,
    HttpAuth,
    LiveServer,
    create_product,
    free_port,
    http_session,
    is_problem,
    loopback_address,
    migrated_sqlite,
    product_body,
    redis_server,
    scratch_mariadb,
    server_env,
    settings_for,
    start_production,
    start_server,
    stop_production,
    stop_server,
)

from shopapi.config import Settings

pytestmark = pytest.mark.e2e
PER_ADDRESS = 5


class Rig:
    """A server whose only way to MariaDB is a link the test can cut."""

    def __init__(
        self, server: LiveServer, link: CuttableLink, direct_url: str, settings: Settings
    ) -> None:
        self.server, self.link, self.direct_url = server, link, direct_url
        self.url = server.url
        # A client waits at most a connect and a query timeout for a database that is gone,
        # give or take; twice that is generous: this checks that it is answered, not how fast.
        self.answered_within = 2 * (settings.db_connect_timeout + settings.db_query_timeout)

    def sql(self, query: str, **params: Any) -> list[Any]:
        """Read the database directly, around the link."""
        engine = create_engine(make_url(self.direct_url))
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(query), params))
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def rig(secrets_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    tmp = tmp_path_factory.mktemp("faults")
    with scratch_mariadb() as direct_url:
        real = make_url(direct_url)
        link = CuttableLink(real.port or 3306, real.host or "127.0.0.1")
        through_link = real.set(host="127.0.0.1", port=link.port)
        url = through_link.render_as_string(hide_password=False)
        settings = settings_for(url, tmp / "instance", secrets_env)
        server = start_server(server_env(settings, secrets_env), tmp / "server.log")
        try:
            yield Rig(server, link, direct_url, settings)
        finally:
            stop_server(server)
            link.close()
            assert "Traceback" not in server.log(), server.log()[-3000:]


@pytest.fixture
def signed_in(rig: Rig) -> Iterator[tuple[requests.Session, dict[str, str]]]:
    rig.link.restore()
    auth = HttpAuth(rig.url, loopback_address())
    _account, token = auth.sign_in()
    yield auth.http, {"Authorization": f"Bearer {token}"}
    rig.link.restore()


def _timed(call: Any) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.mark.mariadb
def test_while_the_database_is_cut_requests_get_503_and_the_service_recovers(
    rig: Rig, signed_in: tuple[requests.Session, dict[str, str]]
) -> None:
    http, headers = signed_in
    created = http.post(f"{rig.url}/api/products", json=product_body(), headers=headers, timeout=30)
    assert created.status_code == 201
    location = created.headers["Location"]
    rig.link.cut()

    calls = {
        "readyz": lambda: http.get(f"{rig.url}/readyz", timeout=60),
        "me": lambda: http.get(f"{rig.url}/auth/me", headers=headers, timeout=60),
        "login": lambda: http_session().post(
            f"{rig.url}/auth/login", json={"username": "someone", "password": "x" * 9}, timeout=60
        ),
        "list": lambda: http.get(f"{rig.url}/api/products", headers=headers, timeout=60),
        "read": lambda: http.get(f"{rig.url}{location}", headers=headers, timeout=60),
        "create": lambda: http.post(
            f"{rig.url}/api/products", json=product_body(), headers=headers, timeout=60
        ),
        "patch": lambda: http.patch(
            f"{rig.url}{location}", json={"quantity": 1}, headers=headers, timeout=60
        ),
    }
    for name, call in calls.items():
        response, seconds = _timed(call)
        print(f"database cut: {name} -> {response.status_code} in {seconds:.3f} s")
        assert is_problem(response, 503), (name, response.status_code, response.text)
        assert seconds < rig.answered_within, (name, seconds)
        assert response.headers["Retry-After"].isdigit()
        assert "pymysql" not in response.text.lower() and "sql" not in response.text.lower()
    live = http.get(f"{rig.url}/healthz", timeout=30)
    assert live.status_code == 200  # the process itself is fine

    rig.link.restore()
    assert http.get(f"{rig.url}/readyz", timeout=30).status_code == 200
    me = http.get(f"{rig.url}/auth/me", headers=headers, timeout=30)
    assert me.status_code == 200, me.text
    again = http.get(f"{rig.url}{location}", headers=headers, timeout=30)
    assert again.json() == created.json()
    create_product(http, headers, rig.url)
    assert '"database unavailable' in rig.server.log()


@pytest.mark.mariadb
@pytest.mark.parametrize("after", [False, True], ids=["before-commit", "after-commit"])
def test_a_create_cut_at_commit_is_all_or_nothing_and_a_keyed_retry_makes_one(
    rig: Rig, signed_in: tuple[requests.Session, dict[str, str]], after: bool
) -> None:
    http, headers = signed_in
    name = f"Cut {uuid.uuid4().hex[:10]}"
    keyed = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    body = product_body(name=name)
    cuts = rig.link.cuts_at_commit
    rig.link.cut_at_commit(after=after, of=b"INSERT INTO products")
    interrupted = http.post(f"{rig.url}/api/products", json=body, headers=keyed, timeout=60)
    assert is_problem(interrupted, 503), interrupted.text
    assert rig.link.cuts_at_commit == cuts + 1  # cut at this create's COMMIT, not elsewhere
    rig.link.restore()

    rows = rig.sql("SELECT id, version FROM products WHERE name = :n", n=name)
    print(f"create cut {'after' if after else 'before'} COMMIT: {len(rows)} product(s) stored")
    if not after:
        assert rows == []  # the COMMIT never arrived: nothing of it is there
    assert len(rows) <= 1
    for product_id, version in rows:  # if it is there, it is there whole
        assert version == 1
        actions = rig.sql(
            "SELECT action, version FROM product_history WHERE product_id = :i", i=product_id
        )
        assert [tuple(a) for a in actions] == [("create", 1)]

    retry = http.post(f"{rig.url}/api/products", json=body, headers=keyed, timeout=30)
    assert retry.status_code == 201, retry.text
    after_retry = rig.sql("SELECT id FROM products WHERE name = :n", n=name)
    assert [r[0] for r in after_retry] == [retry.json()["id"]]  # exactly one product


@pytest.mark.mariadb
@pytest.mark.parametrize("after", [False, True], ids=["before-commit", "after-commit"])
def test_an_update_cut_at_commit_is_all_or_nothing(
    rig: Rig, signed_in: tuple[requests.Session, dict[str, str]], after: bool
) -> None:
    http, headers = signed_in
    body = product_body()
    created = http.post(f"{rig.url}/api/products", json=body, headers=headers, timeout=30)
    location, product_id = created.headers["Location"], created.json()["id"]
    cuts = rig.link.cuts_at_commit
    rig.link.cut_at_commit(after=after, of=b"UPDATE products")
    interrupted = http.patch(
        f"{rig.url}{location}",
        json={"quantity": 77},
        headers={**headers, "If-Match": '"1"'},
        timeout=60,
    )
    assert is_problem(interrupted, 503), interrupted.text
    assert rig.link.cuts_at_commit == cuts + 1  # cut at this update's COMMIT, not elsewhere
    rig.link.restore()

    ((version, quantity),) = rig.sql(
        "SELECT version, quantity FROM products WHERE id = :i", i=product_id
    )
    history = rig.sql(
        "SELECT action, version FROM product_history WHERE product_id = :i ORDER BY version",
        i=product_id,
    )
    print(f"update cut {'after' if after else 'before'} COMMIT: version {version} stored")
    if not after:
        assert (version, quantity) == (1, body["quantity"])
    if version == 1:
        assert quantity == body["quantity"]
        assert [tuple(h) for h in history] == [("create", 1)]
    else:
        assert (version, quantity) == (2, 77)
        assert [tuple(h) for h in history] == [("create", 1), ("update", 2)]
    now = http.get(f"{rig.url}{location}", headers=headers, timeout=30)
    assert now.json()["version"] == version and now.headers["ETag"] == f'"{version}"'


# --- Redis -----------------------------------------------------------------------------------


def _login_statuses(base: str, attempts: int) -> list[int]:
    http = http_session()  # one address for all of them
    body = {"username": f"nobody_{uuid.uuid4().hex[:8]}", "password": "not-the-password"}
    return [
        http.post(f"{base}/auth/login", json=body, timeout=30).status_code for _ in range(attempts)
    ]


@pytest.fixture
def sqlite_env(secrets_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    url = migrated_sqlite(tmp_path / "redis-faults.sqlite3")
    return server_env(
        settings_for(url, tmp_path / "instance", secrets_env),
        secrets_env,
        LOGIN_RATE_LIMIT_PER_ADDRESS=f"{PER_ADDRESS}/minute",
    )


def test_with_redis_unreachable_the_service_serves_and_limits_from_memory(
    sqlite_env: dict[str, str], tmp_path: Path
) -> None:
    closed = free_port()  # nothing listens there
    server = start_production(
        {**sqlite_env, "REDIS_URL": f"redis://127.0.0.1:{closed}/0"}, tmp_path / "g.log", 1
    )
    try:
        auth = HttpAuth(server.url, loopback_address())
        _account, token = auth.sign_in()
        me = requests.get(
            f"{server.url}/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert me.status_code == 200
        statuses = _login_statuses(server.url, PER_ADDRESS + 2)
        assert statuses == [401] * PER_ADDRESS + [429, 429], statuses
    finally:
        stop_production(server)
    log = server.log()
    assert "falling back to in-memory storage" in log
    assert "Traceback" not in log


@pytest.mark.redis
def test_when_redis_dies_the_service_keeps_serving_and_limiting(
    sqlite_env: dict[str, str], tmp_path: Path
) -> None:
    import redis

    port = free_port()
    redis_process = redis_server(port, tmp_path)
    server = start_server(
        {**sqlite_env, "REDIS_URL": f"redis://127.0.0.1:{port}/0"}, tmp_path / "s.log"
    )
    try:
        http = http_session()
        body = {"username": f"nobody_{uuid.uuid4().hex[:8]}", "password": "not-the-password"}
        before = [
            http.post(f"{server.url}/auth/login", json=body, timeout=30).status_code
            for _ in range(2)
        ]
        assert before == [401, 401]
        store = redis.Redis(host="127.0.0.1", port=port)
        assert store.dbsize() > 0  # the count was in Redis
        store.close()

        redis_process.kill()
        redis_process.wait(timeout=10)
        after = [
            http.post(f"{server.url}/auth/login", json=body, timeout=30).status_code
            for _ in range(PER_ADDRESS + 2)
        ]
        # Never a 5xx, never unlimited: memory takes over with the same limit.
        assert set(after) <= {401, 429}, after
        assert after[-2:] == [429, 429], after
        assert after.count(401) <= PER_ADDRESS
        auth = HttpAuth(server.url, loopback_address())
        _account, token = auth.sign_in()
        me = requests.get(
            f"{server.url}/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert me.status_code == 200
    finally:
        stop_server(server)
        if redis_process.poll() is None:
            redis_process.kill()
            redis_process.wait(timeout=10)
    log = server.log()
    assert "falling back to in-memory storage" in log
    assert "Traceback" not in log


@pytest.mark.mariadb
def test_a_hanging_database_gives_503_within_the_timeouts(
    rig: Rig, signed_in: tuple[requests.Session, dict[str, str]]
) -> None:
    http, headers = signed_in
    rig.link.stall()  # connections stay open, nothing comes back
    response, seconds = _timed(lambda: http.get(f"{rig.url}/auth/me", headers=headers, timeout=120))
    # Bounded by the read timeout (10 s) on the pooled connection, then the connect
    # handshake of a fresh one: the client is answered, never left hanging.
    print(f"database hanging: /auth/me -> {response.status_code} in {seconds:.1f} s")
    assert is_problem(response, 503), response.text
    assert seconds < rig.answered_within, seconds
    rig.link.restore()
    assert http.get(f"{rig.url}/auth/me", headers=headers, timeout=30).status_code == 200


@pytest.mark.mariadb
def test_after_an_outage_while_idle_the_first_request_is_served(
    rig: Rig, signed_in: tuple[requests.Session, dict[str, str]]
) -> None:
    http, headers = signed_in
    for _ in range(3):  # several pooled connections, then nobody asks for a while
        assert http.get(f"{rig.url}/auth/me", headers=headers, timeout=30).status_code == 200
    rig.link.cut()  # the database restarts while the service is idle: pooled links die
    rig.link.restore()
    first = http.get(f"{rig.url}/auth/me", headers=headers, timeout=30)
    assert first.status_code == 200, first.text  # no 503 once the database is back
    created = http.post(f"{rig.url}/api/products", json=product_body(), headers=headers, timeout=30)
    assert created.status_code == 201, created.text


@pytest.mark.mariadb
def test_a_refresh_cut_before_its_commit_leaves_the_refresh_token_usable(rig: Rig) -> None:
    rig.link.restore()
    auth = HttpAuth(rig.url, loopback_address())
    account = auth.register()
    verified = auth.http.post(
        f"{rig.url}/auth/verify",
        json={"mfa_token": auth.login(account), "otp": account.next_code()},
        timeout=30,
    ).json()
    body = {"refresh_token": verified["refresh_token"]}
    cuts = rig.link.cuts_at_commit
    rig.link.cut_at_commit(after=False)
    interrupted = auth.http.post(f"{rig.url}/auth/refresh", json=body, timeout=60)
    assert is_problem(interrupted, 503), interrupted.text
    assert rig.link.cuts_at_commit == cuts + 1  # cut at the refresh's COMMIT, not elsewhere
    rig.link.restore()
    # Nothing was half rotated: the same token refreshes once, and only once.
    again = auth.http.post(f"{rig.url}/auth/refresh", json=body, timeout=30)
    assert again.status_code == 200, again.text
    assert auth.http.post(f"{rig.url}/auth/refresh", json=body, timeout=30).status_code == 401
