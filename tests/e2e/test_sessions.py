"""Refresh races against the real server: of racing refreshes with one token exactly one
wins, and the others are reuse (the session ends); a refresh racing the end of its session
(logout, sign-out everywhere, an admin disabling the account) is never a server error."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
from support import HttpAuth, LiveServer, server_env, start_server, stop_server

from shopapi.config import Settings

pytestmark = pytest.mark.e2e


def test_of_ten_racing_refreshes_exactly_one_wins_and_the_session_ends(
    live_server: LiveServer, http_auth: HttpAuth
) -> None:
    base = live_server.url
    account = http_auth.register()
    for round_ in range(5):  # repeated: each round a new session
        mfa_token = http_auth.login(account)
        if round_ == 0:
            r = requests.post(
                f"{base}/auth/verify",
                json={"mfa_token": mfa_token, "otp": account.next_code()},
                timeout=30,
            )
            refresh_token = r.json()["refresh_token"]
        else:  # a sign-in that needs no new TOTP step (the server's clock is real)
            refresh_token = http_auth.verify_with_recovery_code(account, mfa_token)["refresh_token"]

        def refresh(token: str = refresh_token) -> requests.Response:
            return requests.post(f"{base}/auth/refresh", json={"refresh_token": token}, timeout=60)

        with ThreadPoolExecutor(max_workers=10) as pool:
            answers = list(pool.map(lambda _: refresh(), range(10)))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200] + [401] * 9, statuses
        (winner,) = [a.json() for a in answers if a.status_code == 200]
        # The losers were reuse: the session ended, the winner's tokens with it.
        again = requests.post(
            f"{base}/auth/refresh", json={"refresh_token": winner["refresh_token"]}, timeout=30
        )
        assert again.status_code == 401
        me = requests.get(
            f"{base}/auth/me",
            headers={"Authorization": f"Bearer {winner['access_token']}"},
            timeout=30,
        )
        assert me.status_code == 401


ENDINGS = ("logout", "sign_out_everywhere", "admin_disable")


class _Sessions:
    """Sessions of fresh accounts, each started with a recovery code (no TOTP step to wait
    for), through real HTTP."""

    def __init__(self, base: str, http_auth: HttpAuth) -> None:
        self.base, self.http_auth = base, http_auth
        self.account: Any = None

    def start(self, account: Any = None) -> tuple[Any, dict[str, Any]]:
        if account is None:
            if self.account is None or not self.account.recovery_codes:
                self.account = self.http_auth.register()
            account = self.account
        mfa_token = self.http_auth.login(account)
        r = requests.post(
            f"{self.base}/auth/verify",
            json={"mfa_token": mfa_token, "recovery_code": account.recovery_codes.pop()},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        return account, r.json()


def _at_once(*calls: Callable[..., requests.Response]) -> list[requests.Response]:
    """The answers to `calls`, sent together (from threads released by one barrier)."""
    start = threading.Barrier(len(calls))

    def send(call: Callable[..., requests.Response]) -> requests.Response:
        start.wait()
        return call(timeout=60)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(send, calls))


@pytest.mark.parametrize("ending", ENDINGS)
def test_a_refresh_racing_the_end_of_its_session_is_never_a_server_error(
    settings: Settings, secrets_env: dict[str, str], tmp_path: Path, ending: str
) -> None:
    """Twenty rounds of a refresh and an ending of its session, sent at once: the ending
    always succeeds, the refresh wins (and its new tokens die with the session) or gets 401."""
    env = server_env(settings, secrets_env, LOGIN_RATE_LIMIT_PER_ADDRESS="1000/minute")
    server = start_server(env, tmp_path / "server.log")
    try:
        base = server.url
        http_auth = HttpAuth(base)
        admin = {"Authorization": f"Bearer {http_auth.sign_in()[1]}"}  # the first account
        sessions = _Sessions(base, http_auth)
        for _ in range(20):
            account, tokens = sessions.start()
            mine = {"Authorization": f"Bearer {tokens['access_token']}"}
            ends = {
                "logout": partial(requests.post, f"{base}/auth/logout", headers=mine),
                "sign_out_everywhere": partial(
                    requests.delete, f"{base}/auth/sessions", headers=mine
                ),
                "admin_disable": partial(
                    requests.patch,
                    f"{base}/admin/users/{account.id}",
                    json={"disabled": True},
                    headers=admin,
                ),
            }
            refresh = partial(
                requests.post,
                f"{base}/auth/refresh",
                json={"refresh_token": tokens["refresh_token"]},
            )
            refreshed, ending_answer = _at_once(refresh, ends[ending])
            assert ending_answer.status_code == (200 if ending == "admin_disable" else 204)
            assert refreshed.status_code in (200, 401), (refreshed.status_code, refreshed.text)
            if refreshed.status_code == 200:  # the refresh went first: its tokens ended too
                newer = refreshed.json()
                again = requests.post(
                    f"{base}/auth/refresh",
                    json={"refresh_token": newer["refresh_token"]},
                    timeout=30,
                )
                assert again.status_code == 401
            if ending == "admin_disable":
                r = requests.patch(
                    f"{base}/admin/users/{account.id}",
                    json={"disabled": False},
                    headers=admin,
                    timeout=30,
                )
                assert r.status_code == 200
    finally:
        stop_server(server)
