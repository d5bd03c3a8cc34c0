"""Per-address limits (Flask-Limiter), in memory and shared through Redis."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support import PASSWORD, REDIS_URL, AuthActions, assert_problem, shared_redis

# Limits are counted in memory or in Redis, never in the database.
pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def limited(make_app: Callable[..., Any]) -> Any:
    """An app allowing 3 sign-in requests and 2 registrations per address and minute."""
    return make_app(
        login_rate_limit_per_address="3/minute", register_rate_limit_per_address="2/minute"
    )


def _too_many(r: Any) -> None:
    assert_problem(r, 429)
    assert 0 < int(r.headers["Retry-After"]) <= 60


def test_login_and_verify_share_one_budget_per_address(limited: Any) -> None:
    client = limited.test_client()
    auth = AuthActions(client)
    account = auth.register()
    mfa_token = auth.login(account)  # 1
    assert (
        client.post("/auth/login", json={"username": "x_y_z", "password": "p"}).status_code == 401
    )
    assert (
        client.post(
            "/auth/verify", json={"mfa_token": mfa_token, "otp": account.next_code()}
        ).status_code
        == 200
    )  # 3
    _too_many(client.post("/auth/login", json={"username": account.username, "password": PASSWORD}))
    _too_many(client.post("/auth/verify", json={"mfa_token": "t", "otp": "123456"}))


def test_register_has_its_own_budget(limited: Any) -> None:
    client = limited.test_client()
    auth = AuthActions(client)
    auth.register()
    auth.register()
    r = client.post("/auth/register", json={"username": "third_one", "password": PASSWORD})
    _too_many(r)
    # the sign-in budget is untouched
    assert (
        client.post("/auth/login", json={"username": "x_y_z", "password": "p"}).status_code == 401
    )


def test_other_addresses_have_their_own_budget(limited: Any) -> None:
    client = limited.test_client()
    for _ in range(3):
        client.post("/auth/login", json={"username": "x_y_z", "password": "p"})
    _too_many(client.post("/auth/login", json={"username": "x_y_z", "password": "p"}))
    other = client.post(
        "/auth/login",
        json={"username": "x_y_z", "password": "p"},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert other.status_code == 401


def test_default_budget_is_generous(client: Any) -> None:
    for _ in range(12):  # far more than the per-account lockout needs
        r = client.post("/auth/login", json={"username": f"nobody{_}", "password": "p"})
        assert r.status_code == 401


@pytest.fixture
def redis_db() -> Iterator[Any]:
    store = shared_redis()
    yield store
    store.flushdb()
    store.close()


@pytest.mark.redis
def test_instances_sharing_redis_share_the_per_address_budget(
    make_app: Callable[..., Any], redis_db: Any
) -> None:
    shared = {"redis_url": REDIS_URL, "login_rate_limit_per_address": "3/minute"}
    one, two = make_app(**shared).test_client(), make_app(**shared).test_client()
    body = {"username": "x_y_z", "password": "p"}
    assert one.post("/auth/login", json=body).status_code == 401
    assert two.post("/auth/login", json=body).status_code == 401
    assert one.post("/auth/login", json=body).status_code == 401
    _too_many(two.post("/auth/login", json=body))
    _too_many(one.post("/auth/login", json=body))
    assert redis_db.dbsize() > 0  # the count really lives in Redis


@pytest.mark.redis
def test_instances_sharing_redis_share_the_register_budget(
    make_app: Callable[..., Any], redis_db: Any
) -> None:
    shared = {"redis_url": REDIS_URL, "register_rate_limit_per_address": "2/minute"}
    first, second = make_app(**shared), make_app(**shared)
    AuthActions(first.test_client()).register()
    AuthActions(second.test_client()).register()
    r = first.test_client().post(
        "/auth/register", json={"username": "third_one", "password": PASSWORD}
    )
    _too_many(r)


def test_forwarded_for_is_ignored_without_trusted_proxies(limited: Any) -> None:
    client = limited.test_client()
    body = {"username": "x_y_z", "password": "p"}
    for i in range(3):
        client.post("/auth/login", json=body, headers={"X-Forwarded-For": f"198.51.100.{i}"})
    spoofed = client.post("/auth/login", json=body, headers={"X-Forwarded-For": "203.0.113.9"})
    _too_many(spoofed)


def test_forwarded_for_counts_behind_a_trusted_proxy(make_app: Callable[..., Any]) -> None:
    app = make_app(trusted_proxies=1, login_rate_limit_per_address="3/minute")
    client = app.test_client()
    body = {"username": "x_y_z", "password": "p"}
    first = {"X-Forwarded-For": "198.51.100.1"}
    for _ in range(3):
        client.post("/auth/login", json=body, headers=first)
    _too_many(client.post("/auth/login", json=body, headers=first))
    other = client.post("/auth/login", json=body, headers={"X-Forwarded-For": "198.51.100.2"})
    assert other.status_code == 401


def test_unreachable_redis_falls_back_to_local_limits(make_app: Callable[..., Any]) -> None:
    app = make_app(redis_url="redis://127.0.0.1:1/0", login_rate_limit_per_address="3/minute")
    client = app.test_client()
    body = {"username": "x_y_z", "password": "p"}
    for _ in range(3):
        assert client.post("/auth/login", json=body).status_code == 401
    _too_many(client.post("/auth/login", json=body))


def test_ipv6_clients_are_counted_per_64_prefix_behind_a_trusted_proxy(
    make_app: Callable[..., Any],
) -> None:
    app = make_app(trusted_proxies=1, login_rate_limit_per_address="3/minute")
    client = app.test_client()
    body = {"username": "x_y_z", "password": "p"}
    # Addresses of one /64 (one subscriber's network) share one budget ...
    one_network = ["2001:db8:5:7::1", "2001:db8:5:7::2", "2001:db8:5:7:ffff::9"]
    for address in one_network:
        r = client.post("/auth/login", json=body, headers={"X-Forwarded-For": address})
        assert r.status_code == 401
    _too_many(
        client.post("/auth/login", json=body, headers={"X-Forwarded-For": "2001:db8:5:7::abcd"})
    )
    # ... the next /64 has its own, and so does an IPv4 client.
    for address in ("2001:db8:5:8::1", "198.51.100.4"):
        r = client.post("/auth/login", json=body, headers={"X-Forwarded-For": address})
        assert r.status_code == 401, address


def test_ipv4_clients_are_counted_per_address(limited: Any) -> None:
    client = limited.test_client()
    body = {"username": "x_y_z", "password": "p"}
    for _ in range(3):
        client.post("/auth/login", json=body, environ_base={"REMOTE_ADDR": "192.0.2.1"})
    _too_many(client.post("/auth/login", json=body, environ_base={"REMOTE_ADDR": "192.0.2.1"}))
    neighbour = client.post("/auth/login", json=body, environ_base={"REMOTE_ADDR": "192.0.2.2"})
    assert neighbour.status_code == 401


def _no_limit_headers(r: Any) -> None:
    assert "Retry-After" not in r.headers, (r.status_code, dict(r.headers))
    assert not [name for name in r.headers.keys() if name.lower().startswith("x-ratelimit")]


def test_answers_below_the_limit_carry_no_retry_after_or_rate_limit_headers(limited: Any) -> None:
    client = limited.test_client()
    created = client.post("/auth/register", json={"username": "carol_h", "password": PASSWORD})
    assert created.status_code == 201
    _no_limit_headers(created)
    invalid = client.post("/auth/register", json={"username": "a b", "password": PASSWORD})
    assert invalid.status_code == 422
    _no_limit_headers(invalid)
    wrong = client.post("/auth/login", json={"username": "carol_h", "password": "wrong-one"})
    assert wrong.status_code == 401
    _no_limit_headers(wrong)
    right = client.post("/auth/login", json={"username": "carol_h", "password": PASSWORD})
    assert right.status_code == 200
    _no_limit_headers(right)
    bad = client.post("/auth/verify", json={"mfa_token": "t"})
    assert bad.status_code == 422
    _no_limit_headers(bad)
    # The fourth sign-in request of the minute is refused, with Retry-After only there.
    refused = client.post("/auth/login", json={"username": "carol_h", "password": PASSWORD})
    _too_many(refused)
    assert not [name for name in refused.headers.keys() if name.lower().startswith("x-ratelimit")]


def test_retry_after_says_when_the_oldest_request_leaves_the_window(limited: Any) -> None:
    client = limited.test_client()
    body = {"username": "x_y_z", "password": "p"}
    for _ in range(3):
        client.post("/auth/login", json=body)
    time.sleep(1)  # the oldest request is a second old
    refused = client.post("/auth/login", json=body)
    _too_many(refused)
    assert int(refused.headers["Retry-After"]) <= 59  # not the whole window again
