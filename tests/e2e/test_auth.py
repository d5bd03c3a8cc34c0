"""Against the real server over HTTP: the whole flow, its log, and concurrent requests."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from support import (
    HttpAuth,
    LiveServer,
    server_env,
    start_server,
    stop_server,
    wait_until,
    wrong_code,
)

from shopapi.config import Settings

pytestmark = pytest.mark.e2e
THREADS = 12


def _post_all(url: str, bodies: list[dict[str, Any]]) -> list[requests.Response]:
    """POST every body at once, each from its own connection."""

    def post(body: dict[str, Any]) -> requests.Response:
        return requests.post(url, json=body, timeout=60)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(post, bodies))


def test_whole_flow_and_the_log_keeps_secrets_out(
    live_server: LiveServer, http_auth: HttpAuth
) -> None:
    base = live_server.url
    password = "quiet-meadow-\u00e9-\U0001f511-river"
    account = http_auth.register(password=password)
    mfa_token = http_auth.login(account)
    code = account.next_code()
    r = requests.post(f"{base}/auth/verify", json={"mfa_token": mfa_token, "otp": code}, timeout=30)
    assert r.status_code == 200
    token = r.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    me = requests.get(f"{base}/auth/me", headers=headers, timeout=30)
    assert me.status_code == 200 and me.json()["username"] == account.username
    assert requests.get(f"{base}/auth/me?access_token={token}", timeout=30).status_code == 401
    wrong = requests.post(
        f"{base}/auth/login",
        json={"username": account.username, "password": password + "x"},
        timeout=30,
    )
    assert wrong.status_code == 401
    recovery = account.recovery_codes[0]
    r = requests.post(
        f"{base}/auth/verify",
        json={"mfa_token": http_auth.login(account), "recovery_code": recovery},
        timeout=30,
    )
    assert r.status_code == 200
    assert requests.post(f"{base}/auth/logout", headers=headers, timeout=30).status_code == 204
    after = requests.get(f"{base}/auth/me", headers=headers, timeout=30)
    assert after.status_code == 401
    assert after.headers["WWW-Authenticate"].startswith("Bearer")
    assert after.headers["Content-Type"].startswith("application/problem+json")

    # Request lines reach the log from a thread every 50 ms: wait for the last request's.
    refused_me = '"path": "/auth/me", "status": 401'
    log = wait_until(
        lambda: (text := live_server.log()).count(refused_me) >= 2 and text,
        what="the log line of the last request",
    )
    assert "/auth/me" in log  # the log is really being written
    for secret in (
        password,
        account.secret,
        code,
        mfa_token,
        token,
        recovery,
        r.json()["access_token"],
    ):
        assert secret not in log
    assert token.split(".")[2] not in log


def test_racing_registrations_of_one_name_create_one_account(live_server: LiveServer) -> None:
    names = ["RaceName", "racename", "RACENAME", "raceName", "RaCeNaMe", "racenamE"]
    bodies = [{"username": n, "password": "orchid-tunnel-42"} for n in names]
    statuses = [r.status_code for r in _post_all(f"{live_server.url}/auth/register", bodies)]
    assert sorted(statuses) == [201] + [409] * (len(names) - 1), statuses


def test_racing_one_valid_code_gets_exactly_one_token(
    live_server: LiveServer, http_auth: HttpAuth
) -> None:
    account = http_auth.register()
    mfa_token = http_auth.login(account)
    code = account.next_code()
    bodies = [{"mfa_token": mfa_token, "otp": code}] * THREADS
    statuses = [r.status_code for r in _post_all(f"{live_server.url}/auth/verify", bodies)]
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 401, 429}, statuses


def test_racing_one_code_on_several_challenges_gets_exactly_one_token(
    live_server: LiveServer, http_auth: HttpAuth
) -> None:
    account = http_auth.register()
    code = account.next_code()
    bodies = [{"mfa_token": http_auth.login(account), "otp": code} for _ in range(8)]
    statuses = [r.status_code for r in _post_all(f"{live_server.url}/auth/verify", bodies)]
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 401}, statuses


def test_racing_wrong_passwords_never_pass_the_limit(
    live_server: LiveServer, http_auth: HttpAuth
) -> None:
    account = http_auth.register()
    bodies = [{"username": account.username, "password": f"guess-{i}-wrong"} for i in range(25)]
    statuses = [r.status_code for r in _post_all(f"{live_server.url}/auth/login", bodies)]
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) <= 10, statuses
    assert statuses.count(429) >= 15, statuses
    r = requests.post(
        f"{live_server.url}/auth/login",
        json={"username": account.username, "password": account.password},
        timeout=30,
    )
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


def test_racing_wrong_codes_never_pass_the_limit(
    live_server: LiveServer, http_auth: HttpAuth
) -> None:
    account = http_auth.register()
    bad = wrong_code(account.secret)
    bodies = [{"mfa_token": http_auth.login(account), "otp": bad} for _ in range(16)]
    statuses = [r.status_code for r in _post_all(f"{live_server.url}/auth/verify", bodies)]
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) <= 10, statuses
    right = {"mfa_token": http_auth.login(account), "otp": account.next_code()}
    r = requests.post(f"{live_server.url}/auth/verify", json=right, timeout=30)
    assert r.status_code == 429


@pytest.fixture
def roomy_server(
    settings: Settings, secrets_env: dict[str, str], tmp_path: Path
) -> Iterator[LiveServer]:
    """The real server with a per-address budget large enough for many sign-ins."""
    env = server_env(settings, secrets_env, LOGIN_RATE_LIMIT_PER_ADDRESS="100000/minute")
    server = start_server(env, tmp_path / "server.log")
    yield server
    stop_server(server)


def test_of_ten_racing_wrong_codes_on_one_mfa_token_at_most_five_are_judged(
    roomy_server: LiveServer,
) -> None:
    """Repeated 20 times: a judged code gets "wrong code", the rest "mfa_token dead", and
    the account's limit counts only the judged ones."""
    base = roomy_server.url
    http_auth = HttpAuth(base)
    for _ in range(20):
        account = http_auth.register()
        mfa_token = http_auth.login(account)
        bad = wrong_code(account.secret)
        answers = _post_all(f"{base}/auth/verify", [{"mfa_token": mfa_token, "otp": bad}] * 10)
        assert {r.status_code for r in answers} == {401}
        details = [r.json()["detail"] for r in answers]
        judged = details.count("The code is wrong or has already been used.")
        assert judged == 5, details
        # 5 of the account's 10 wrong codes are left: the sixth wrong code is judged.
        for _ in range(5):
            r = requests.post(
                f"{base}/auth/verify",
                json={"mfa_token": http_auth.login(account), "otp": bad},
                timeout=30,
            )
            assert r.json()["detail"] == "The code is wrong or has already been used."
        r = requests.post(
            f"{base}/auth/verify",
            json={"mfa_token": http_auth.login(account), "otp": bad},
            timeout=30,
        )
        assert r.status_code == 429
