"""Bounds on password hashing: a small pool per process, and one budget for every client.

A login or a registration beyond the pool and its queue gets 503 with Retry-After at once,
the same for a known and an unknown username, and nothing of it is counted or kept. Past the
global budget, every client's login and registration gets 429; reads and refreshes never
wait on either.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from support import (
    PASSWORD,
    REDIS_URL,
    AuthActions,
    HttpAuth,
    assert_problem,
    bearer,
    http_session,
    is_problem,
    loopback_address,
    server_env,
    shared_redis,
    start_production,
    stop_production,
)

from shopapi import security
from shopapi.config import ConfigError, Settings

BUSY = "Too many sign-ins are being checked right now; try again shortly."


class HeldPool:
    """Every place of the process's hashing pool of that size taken, until `release()`."""

    def __init__(self, threads: int, queue: int) -> None:
        self.pool = security.hashing_pool(threads, queue)
        self.gate = threading.Event()
        self.holders = [
            threading.Thread(target=self.pool.run, args=(self.gate.wait, 60))
            for _ in range(threads + queue)
        ]
        for holder in self.holders:
            holder.start()
        deadline = time.monotonic() + 30
        while self.pool.taken < threads + queue:
            assert time.monotonic() < deadline, "the pool never filled"
            time.sleep(0.01)

    def release(self) -> None:
        self.gate.set()
        for holder in self.holders:
            holder.join(timeout=60)


@pytest.fixture
def held() -> Iterator[Callable[[int, int], HeldPool]]:
    made: list[HeldPool] = []

    def hold(threads: int, queue: int) -> HeldPool:
        made.append(HeldPool(threads, queue))
        return made[-1]

    yield hold
    for pool in made:
        pool.release()


def _busy(r: Any) -> dict[str, Any]:
    body = assert_problem(r, 503)
    assert body["detail"] == BUSY
    assert r.headers["Retry-After"] == "1"
    return body


def _signed_in(client: Any) -> tuple[AuthActions, Any, dict[str, str], str]:
    """An account signed in; its headers and refresh token."""
    auth = AuthActions(client)
    account = auth.register()
    r = client.post(
        "/auth/verify", json={"mfa_token": auth.login(account), "otp": account.next_code()}
    )
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    return auth, account, {"Authorization": f"Bearer {body['access_token']}"}, body["refresh_token"]


def test_with_the_hash_pool_full_a_login_gets_503_alike_for_known_and_unknown_usernames(
    make_app: Callable[..., Any], held: Callable[[int, int], HeldPool]
) -> None:
    client = make_app(hash_threads=1, hash_queue=1).test_client()
    _auth, account, headers, refresh = _signed_in(client)
    pool = held(1, 1)

    known = client.post("/auth/login", json={"username": account.username, "password": PASSWORD})
    unknown = client.post("/auth/login", json={"username": "nobody_here", "password": PASSWORD})
    assert _busy(known) == _busy(unknown)  # the bound does not tell who exists
    # Reads and refreshes hash nothing: they answer while every hashing place is taken.
    assert client.get("/api/products", headers=headers).status_code == 200
    assert client.post("/auth/refresh", json={"refresh_token": refresh}).status_code == 200

    pool.release()
    r = client.post("/auth/login", json={"username": account.username, "password": PASSWORD})
    assert r.status_code == 200, r.get_json()


def test_logins_refused_by_a_full_pool_do_not_count_toward_the_account_lockout(
    make_app: Callable[..., Any], held: Callable[[int, int], HeldPool]
) -> None:
    client = make_app(hash_threads=1, hash_queue=1).test_client()
    account = AuthActions(client).register()
    pool = held(1, 1)
    for _ in range(12):  # more than the account's 10 failures
        _busy(client.post("/auth/login", json={"username": account.username, "password": "no"}))
    pool.release()
    r = client.post("/auth/login", json={"username": account.username, "password": PASSWORD})
    assert r.status_code == 200, r.get_json()


def test_a_registration_refused_by_a_full_pool_creates_nothing(
    make_app: Callable[..., Any], held: Callable[[int, int], HeldPool]
) -> None:
    client = make_app(hash_threads=1, hash_queue=0).test_client()
    pool = held(1, 0)
    _busy(client.post("/auth/register", json={"username": "patient_pat", "password": PASSWORD}))
    pool.release()
    # The name is still free: the refused registration kept nothing.
    r = client.post("/auth/register", json={"username": "patient_pat", "password": PASSWORD})
    assert r.status_code == 201, r.get_json()


# --- the global budget ---------------------------------------------------------------------


def _everyone_refused(r: Any) -> None:
    body = assert_problem(r, 429)
    assert "all clients together" in body["detail"]
    assert 0 < int(r.headers["Retry-After"]) <= 60


def _login_from(client: Any, address: str, username: str = "x_y_z") -> Any:
    body = {"username": username, "password": "not-the-password"}
    return client.post("/auth/login", json=body, environ_base={"REMOTE_ADDR": address})


def test_past_the_global_budget_everyones_login_and_registration_get_429_but_reads_answer(
    make_app: Callable[..., Any],
) -> None:
    client = make_app(login_rate_limit_global="4/minute").test_client()
    auth, account, headers, refresh = _signed_in(client)  # a registration and a login: 2
    assert _login_from(client, "192.0.2.1").status_code == 401  # 3
    assert _login_from(client, "192.0.2.2").status_code == 401  # 4
    # Every address is now refused, each far within its own per-address budget ...
    _everyone_refused(_login_from(client, "192.0.2.3"))
    _everyone_refused(_login_from(client, "198.51.100.9", account.username))
    _everyone_refused(
        client.post(
            "/auth/register",
            json={"username": "late_comer", "password": PASSWORD},
            environ_base={"REMOTE_ADDR": "192.0.2.4"},
        )
    )
    # ... while reads, refreshes and signed-in work go on.
    assert client.get("/api/products", headers=headers).status_code == 200
    refreshed = client.post("/auth/refresh", json={"refresh_token": refresh})
    assert refreshed.status_code == 200
    assert client.get("/auth/me", headers=headers).status_code == 200


def test_a_refused_login_does_not_spend_the_global_budget_of_others(
    make_app: Callable[..., Any],
) -> None:
    """A client past its own per-address limit is refused before it spends everyone's."""
    client = make_app(
        login_rate_limit_global="5/minute", login_rate_limit_per_address="2/minute"
    ).test_client()
    statuses = [_login_from(client, "192.0.2.1").status_code for _ in range(10)]
    assert statuses == [401, 401] + [429] * 8
    for address in ("192.0.2.2", "192.0.2.3", "192.0.2.4"):
        assert _login_from(client, address).status_code == 401, address


@pytest.fixture
def redis_db() -> Iterator[Any]:
    store = shared_redis()
    store.flushdb()
    yield store
    store.flushdb()
    store.close()


@pytest.mark.redis
def test_instances_sharing_redis_share_the_global_budget(
    make_app: Callable[..., Any], redis_db: Any
) -> None:
    shared = {"redis_url": REDIS_URL, "login_rate_limit_global": "3/minute"}
    one, two = make_app(**shared).test_client(), make_app(**shared).test_client()
    assert _login_from(one, "192.0.2.1").status_code == 401
    assert _login_from(two, "192.0.2.2").status_code == 401
    assert _login_from(one, "192.0.2.3").status_code == 401
    _everyone_refused(_login_from(two, "192.0.2.4"))
    _everyone_refused(_login_from(one, "192.0.2.5"))
    assert any(b"password-hashing" in key for key in redis_db.keys())  # counted in Redis


def test_with_redis_unreachable_each_process_counts_the_global_budget_and_says_so(
    make_app: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Fail open to this process's own budget (and its hashing pool), logged: never a 5xx
    and never an unlimited flood because Redis went away."""
    client = make_app(
        redis_url="redis://127.0.0.1:1/0", login_rate_limit_global="3/minute"
    ).test_client()
    with caplog.at_level(logging.WARNING):
        for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
            assert _login_from(client, address).status_code == 401
        _everyone_refused(_login_from(client, "192.0.2.4"))
    assert "falling back to in-memory storage" in caplog.text


# --- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [("HASH_THREADS", "0"), ("HASH_QUEUE", "-1"), ("HASH_THREADS", "many")],
)
def test_hashing_pool_settings_out_of_range_are_refused(
    settings: Settings, name: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value, "INSTANCE_PATH": settings.instance_path})


def test_a_global_budget_that_is_not_a_rate_is_refused(make_app: Callable[..., Any]) -> None:
    with pytest.raises(ConfigError, match="not a rate limit"):
        make_app(login_rate_limit_global="lots")


# --- over HTTP, against the production server -------------------------------------------

# About a third of a second a hash here: long enough that racing logins meet in the pool.
SLOWER_ARGON2 = {"ARGON2_TIME_COST": "3000", "ARGON2_MEMORY_COST": "256"}
FLOOD = 12


@pytest.mark.e2e
def test_a_login_flood_past_the_pool_gets_503_while_a_product_read_answers(
    settings: Settings, secrets_env: dict[str, str], tmp_path: Path
) -> None:
    """One worker of 4 threads, one hashing thread and one waiting place: of 12 logins at
    once (fresh usernames, each from its own address) the ones beyond get 503 at once, and
    a read sent meanwhile is served before the flood is over."""
    env = server_env(settings, secrets_env, HASH_THREADS="1", HASH_QUEUE="1", **SLOWER_ARGON2)
    server = start_production(env, tmp_path / "server.log", workers=1)
    try:
        auth = HttpAuth(server.url, loopback_address())
        account, token = auth.sign_in()
        start = threading.Barrier(FLOOD + 1)

        def login(i: int) -> requests.Response:
            http = http_session()
            start.wait()
            body = {"username": f"flood_{i}_{uuid.uuid4().hex[:8]}", "password": "guess-guess"}
            return http.post(f"{server.url}/auth/login", json=body, timeout=60)

        with ThreadPoolExecutor(FLOOD) as pool:
            flood = [pool.submit(login, i) for i in range(FLOOD)]
            start.wait()
            read = requests.get(f"{server.url}/api/products", headers=bearer(token), timeout=30)
            still_hashing = not all(f.done() for f in flood)
            answers = [f.result() for f in flood]
        assert read.status_code == 200
        assert still_hashing  # the read did not wait for the flood to end
        statuses = [r.status_code for r in answers]
        assert set(statuses) <= {401, 503}, statuses
        assert statuses.count(503) >= 1, statuses
        for refused in (r for r in answers if r.status_code == 503):
            assert is_problem(refused, 503)
            assert refused.headers["Retry-After"] == "1"
        # Once it has passed, the owner of an account signs in as ever.
        assert auth.login(account)
    finally:
        stop_production(server)
    assert "Traceback" not in server.log(), server.log()[-3000:]
