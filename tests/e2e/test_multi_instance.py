"""Two instances of the service, one MariaDB database, one Redis: they behave as one.

Instance A is `python app.py`, instance B is the production server as `make serve` runs it
(two worker processes), each on its own port. Every check goes over real HTTP with real TOTP codes.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from support import (
    REDIS_URL,
    HttpAuth,
    LiveServer,
    create_product,
    http_session,
    is_problem,
    loopback_address,
    product_body,
    scratch_mariadb,
    server_env,
    settings_for,
    shared_redis,
    start_production,
    start_server,
    stop_production,
    stop_server,
    wrong_code,
)

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.redis]
PER_ADDRESS = 5


class Pair:
    def __init__(self, a: LiveServer, b: LiveServer, redis: Any) -> None:
        self.a, self.b, self.redis = a, b, redis
        # The database's first account: its admin.
        self.admin = HttpAuth(a.url, loopback_address()).register()

    def alternate(self) -> Iterator[str]:
        return itertools.cycle([self.a.url, self.b.url])


@pytest.fixture(scope="module")
def pair(secrets_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    redis = shared_redis()
    tmp = tmp_path_factory.mktemp("pair")
    with scratch_mariadb() as url:
        env = server_env(
            settings_for(url, tmp / "instance", secrets_env),
            secrets_env,
            REDIS_URL=REDIS_URL,
            LOGIN_RATE_LIMIT_PER_ADDRESS=f"{PER_ADDRESS}/minute",
        )
        a = start_server(env, tmp / "a.log")
        try:
            b = start_production(env, tmp / "b.log")
        except BaseException:
            stop_server(a)
            raise
        try:
            yield Pair(a, b, redis)
        finally:
            stop_server(a)
            stop_production(b)
            for server in (a, b):
                assert "Traceback" not in server.log(), server.log()[-3000:]


def _on(auth: HttpAuth, base: str) -> HttpAuth:
    """The same client (same loopback address), pointed at another instance."""
    auth.base = base
    auth.client.base = base  # type: ignore[attr-defined]
    return auth


def _verify(base: str, mfa_token: str, code: str) -> requests.Response:
    """POST /auth/verify from a fresh address (so only the per-account limits apply)."""
    return http_session().post(
        f"{base}/auth/verify", json={"mfa_token": mfa_token, "otp": code}, timeout=30
    )


def test_a_token_logged_out_on_a_is_refused_on_b(pair: Pair) -> None:
    auth = HttpAuth(pair.a.url, loopback_address())
    _account, token = auth.sign_in()
    headers = {"Authorization": f"Bearer {token}"}
    http = auth.http
    assert http.get(f"{pair.b.url}/auth/me", headers=headers, timeout=30).status_code == 200
    assert http.post(f"{pair.a.url}/auth/logout", headers=headers, timeout=30).status_code == 204
    refused = http.get(f"{pair.b.url}/auth/me", headers=headers, timeout=30)
    assert is_problem(refused, 401)
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_totp_code_used_on_a_is_refused_on_b(pair: Pair) -> None:
    auth = HttpAuth(pair.a.url, loopback_address())
    account = auth.register()
    code = account.next_code()
    first = _verify(pair.a.url, auth.login(account), code)
    assert first.status_code == 200
    mfa_on_b = _on(auth, pair.b.url).login(account)
    replay = _verify(pair.b.url, mfa_on_b, code)
    assert is_problem(replay, 401)


def test_an_mfa_token_used_on_a_is_dead_on_b(pair: Pair) -> None:
    auth = HttpAuth(pair.a.url, loopback_address())
    account = auth.register()
    mfa_token = auth.login(account)
    assert _verify(pair.a.url, mfa_token, account.next_code()).status_code == 200
    again = _verify(pair.b.url, mfa_token, account.next_code())
    assert is_problem(again, 401)


def test_wrong_codes_on_a_and_b_together_kill_an_mfa_token(pair: Pair) -> None:
    auth = HttpAuth(pair.a.url, loopback_address())
    account = auth.register()
    mfa_token = auth.login(account)
    for base in itertools.islice(pair.alternate(), 5):
        wrong = _verify(base, mfa_token, wrong_code(account.secret))
        assert is_problem(wrong, 401)
    right = _verify(pair.b.url, mfa_token, account.next_code())
    assert is_problem(right, 401)  # five wrong codes, spread over A and B, killed it


def test_password_failures_on_a_and_b_count_together(pair: Pair) -> None:
    auth = HttpAuth(pair.a.url, loopback_address())
    account = auth.register()
    body = {"username": account.username, "password": account.password + "-wrong"}
    # Each attempt from its own address: the account's limit holds whatever the address.
    for base in itertools.islice(pair.alternate(), 10):
        r = http_session().post(f"{base}/auth/login", json=body, timeout=30)
        assert is_problem(r, 401), r.text
    right = {"username": account.username, "password": account.password}
    for base in (pair.a.url, pair.b.url):
        r = http_session().post(f"{base}/auth/login", json=right, timeout=30)
        assert is_problem(r, 429)
        assert int(r.headers["Retry-After"]) > 0


def test_wrong_codes_on_a_and_b_count_together_per_account(pair: Pair) -> None:
    auth = HttpAuth(pair.a.url, loopback_address())
    account = auth.register()
    bases = pair.alternate()
    wrong = 0
    while wrong < 10:  # two challenges, five wrong codes each, on A and B in turn
        mfa_token = _on(auth, next(bases)).login(account)
        for _ in range(5):
            r = _verify(next(bases), mfa_token, wrong_code(account.secret))
            assert is_problem(r, 401)
            wrong += 1
    fresh = _on(auth, pair.a.url).login(account)
    for base in (pair.a.url, pair.b.url):
        r = _verify(base, fresh, account.next_code())
        assert is_problem(r, 429)


def test_the_per_address_limit_counts_on_a_and_b_together_through_redis(pair: Pair) -> None:
    http = http_session(loopback_address())
    body = {"username": f"nobody_{uuid.uuid4().hex[:8]}", "password": "not-the-password"}
    statuses = [
        http.post(f"{base}/auth/login", json=body, timeout=30).status_code
        for base in itertools.islice(pair.alternate(), PER_ADDRESS + 2)
    ]
    assert statuses == [401] * PER_ADDRESS + [429, 429], statuses
    assert any(b"LIMITER" in key for key in pair.redis.keys("*"))  # the count lives in Redis
    # Another address still has its whole budget, on either instance.
    other = http_session().post(f"{pair.b.url}/auth/login", json=body, timeout=30)
    assert other.status_code == 401


# --- products ------------------------------------------------------------------------------


@pytest.fixture
def signed_in(pair: Pair) -> tuple[requests.Session, dict[str, str]]:
    auth = HttpAuth(pair.a.url, loopback_address())
    _account, token = auth.sign_in()
    return auth.http, {"Authorization": f"Bearer {token}"}


def test_an_idempotency_key_used_on_a_returns_the_same_product_on_b(
    pair: Pair, signed_in: tuple[requests.Session, dict[str, str]]
) -> None:
    http, headers = signed_in
    keyed = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    name = f"Shelf {uuid.uuid4().hex[:8]}"
    first = http.post(
        f"{pair.a.url}/api/products", json=product_body(name=name), headers=keyed, timeout=30
    )
    assert first.status_code == 201, first.text
    retry = http.post(
        f"{pair.b.url}/api/products", json=product_body(name=name), headers=keyed, timeout=30
    )
    assert retry.status_code == 201, retry.text
    assert retry.json() == first.json()
    assert retry.headers["Location"] == first.headers["Location"]
    other_body = http.post(
        f"{pair.b.url}/api/products",
        json=product_body(name=name + " bis"),
        headers=keyed,
        timeout=30,
    )
    assert is_problem(other_body, 422)
    history = http.get(
        f"{pair.b.url}{first.headers['Location']}/history", headers=headers, timeout=30
    )
    assert [item["action"] for item in history.json()["items"]] == ["create"]
    assert _count_named(http, pair.b.url, headers, name) == 1


def _count_named(http: requests.Session, base: str, headers: dict[str, str], name: str) -> int:
    count, cursor = 0, None
    while True:
        params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = http.get(f"{base}/api/products", params=params, headers=headers, timeout=30)
        assert page.status_code == 200, page.text
        count += sum(1 for item in page.json()["items"] if item["name"] == name)
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return count


def test_concurrent_if_match_writers_on_a_and_b_have_exactly_one_winner(
    pair: Pair, signed_in: tuple[requests.Session, dict[str, str]]
) -> None:
    http, headers = signed_in
    body = product_body()
    created = http.post(f"{pair.a.url}/api/products", json=body, headers=headers, timeout=30)
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    writers = 8

    def write(i: int) -> requests.Response:
        base = (pair.a.url, pair.b.url)[i % 2]
        session = http_session()  # each writer on its own connection
        if i % 4 == 3:  # some replace the whole product, the others patch it
            return session.put(
                f"{base}{location}",
                json=product_body(quantity=100 + i),
                headers={**headers, "If-Match": '"1"'},
                timeout=60,
            )
        return session.patch(
            f"{base}{location}",
            json={"quantity": 100 + i},
            headers={**headers, "If-Match": '"1"'},
            timeout=60,
        )

    with ThreadPoolExecutor(max_workers=writers) as pool:
        results = list(pool.map(write, range(writers)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [412] * (writers - 1), statuses
    winner = next(r for r in results if r.status_code == 200).json()
    assert winner["version"] == 2
    for base in (pair.a.url, pair.b.url):
        now = http.get(f"{base}{location}", headers=headers, timeout=30)
        assert now.json() == winner
        assert now.headers["ETag"] == '"2"'
    history = http.get(f"{pair.b.url}{location}/history", headers=headers, timeout=30).json()
    assert [(h["action"], h["version"]) for h in history["items"]] == [
        ("create", 1),
        ("update", 2),
    ]
    assert history["items"][1]["changes"]["quantity"] == [body["quantity"], winner["quantity"]]


def test_a_role_changed_through_a_is_enforced_by_b(pair: Pair) -> None:
    _, admin_token = HttpAuth(pair.a.url, loopback_address()).sign_in(pair.admin)
    admin = {"Authorization": f"Bearer {admin_token}"}
    user, token = HttpAuth(pair.a.url, loopback_address()).sign_in()
    headers = {"Authorization": f"Bearer {token}"}
    http = http_session()
    create_product(http, headers, pair.b.url)
    r = http.patch(f"{pair.a.url}/admin/users/{user.id}", json={"role": "viewer"}, headers=admin)
    assert r.status_code == 200
    refused = http.post(f"{pair.b.url}/api/products", json=product_body(), headers=headers)
    assert is_problem(refused, 403)
    assert http.get(f"{pair.b.url}/api/products", headers=headers).status_code == 200
    r = http.patch(f"{pair.a.url}/admin/users/{user.id}", json={"disabled": True}, headers=admin)
    assert r.status_code == 200
    assert is_problem(http.get(f"{pair.b.url}/auth/me", headers=headers), 401)


def test_a_refresh_token_reused_on_b_ends_the_session_refreshed_on_a(pair: Pair) -> None:
    auth = HttpAuth(pair.a.url, loopback_address())
    account = auth.register()
    verified = _verify(pair.a.url, auth.login(account), account.next_code()).json()
    http = http_session()
    fresh = http.post(
        f"{pair.a.url}/auth/refresh", json={"refresh_token": verified["refresh_token"]}
    )
    assert fresh.status_code == 200
    reused = http.post(
        f"{pair.b.url}/auth/refresh", json={"refresh_token": verified["refresh_token"]}
    )
    assert is_problem(reused, 401)
    access = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
    assert is_problem(http.get(f"{pair.a.url}/auth/me", headers=access), 401)
    assert is_problem(http.get(f"{pair.b.url}/auth/me", headers=access), 401)


def test_racing_refreshes_on_a_and_b_have_exactly_one_winner(pair: Pair) -> None:
    auth = HttpAuth(pair.a.url, loopback_address())
    account = auth.register()
    verified = _verify(pair.a.url, auth.login(account), account.next_code()).json()
    body = {"refresh_token": verified["refresh_token"]}
    bases = list(itertools.islice(pair.alternate(), 10))
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(
            pool.map(
                lambda base: requests.post(f"{base}/auth/refresh", json=body, timeout=60), bases
            )
        )
    assert sorted(a.status_code for a in answers) == [200] + [401] * 9
