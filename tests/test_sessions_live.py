"""Refresh races against the real server: of racing refreshes with one token exactly one
wins, and the others are reuse (the session ends)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from support import HttpAuth, LiveServer

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
