"""Account care against the real server: a proof works once, also when requests race."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from support import HttpAuth, LiveServer

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("code", ["otp", "recovery_code"])
def test_two_password_changes_with_one_proof_at_once_have_one_winner(
    live_server: LiveServer, http_auth: HttpAuth, code: str
) -> None:
    base = live_server.url
    account, token = http_auth.sign_in()
    value = account.next_code() if code == "otp" else account.recovery_codes[0]
    headers = {"Authorization": f"Bearer {token}"}
    bodies = [
        {"password": account.password, code: value, "new_password": f"new-passphrase-{i}-ok"}
        for i in range(2)
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(
            pool.map(
                lambda b: requests.post(
                    f"{base}/auth/password", json=b, headers=headers, timeout=60
                ),
                bodies,
            )
        )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [204, 403], statuses
    winner = bodies[[a.status_code for a in answers].index(204)]["new_password"]
    r = requests.post(
        f"{base}/auth/login",
        json={"username": account.username, "password": winner},
        timeout=30,
    )
    assert r.status_code == 200
