"""Roles and invites against the real server, with concurrent requests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from support import PASSWORD, HttpAuth, LiveServer

pytestmark = pytest.mark.e2e


def _all_at_once(calls: list[Any]) -> list[requests.Response]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_ten_registrations_racing_with_one_invite_make_one_account(
    live_server: LiveServer, http_auth: HttpAuth
) -> None:
    base = live_server.url
    admin = http_auth.headers()
    code = requests.post(
        f"{base}/admin/invites", json={"role": "viewer"}, headers=admin, timeout=30
    ).json()["code"]
    bodies = [
        {"username": f"racer_{i}", "password": PASSWORD, "invite_code": code} for i in range(10)
    ]
    answers = _all_at_once(
        [lambda b=b: requests.post(f"{base}/auth/register", json=b, timeout=60) for b in bodies]
    )
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] + [403] * 9, statuses
    users = requests.get(f"{base}/admin/users", headers=admin, timeout=30).json()["items"]
    assert sum(u["username"].startswith("racer_") for u in users) == 1


def _set_role(base: str, user_id: int, role: str, token: str) -> requests.Response:
    return requests.patch(
        f"{base}/admin/users/{user_id}",
        json={"role": role},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )


def test_two_admins_demoting_each_other_at_once_leave_an_admin(
    live_server: LiveServer, http_auth: HttpAuth
) -> None:
    base = live_server.url
    first, first_token = http_auth.sign_in()  # the database's first account: admin
    for _ in range(10):
        second, second_token = http_auth.sign_in()
        assert _set_role(base, second.id, "admin", first_token).status_code == 200
        answers = _all_at_once(
            [
                lambda: _set_role(base, second.id, "editor", first_token),  # noqa: B023
                lambda: _set_role(base, first.id, "editor", second_token),  # noqa: B023
            ]
        )
        statuses = sorted(r.status_code for r in answers)
        # One wins; the other finds no other admin (409), or has lost its own rights (403).
        assert statuses in ([200, 403], [200, 409]), statuses
        admins = [
            u
            for u in requests.get(
                f"{base}/admin/users",
                headers={
                    "Authorization": f"Bearer {first_token if answers[0].ok else second_token}"
                },
                timeout=30,
            ).json()["items"]
            if u["role"] == "admin" and not u["disabled"]
        ]
        assert len(admins) == 1
        if admins[0]["id"] != first.id:  # make the first account the only admin again
            assert _set_role(base, first.id, "admin", second_token).status_code == 200
            assert _set_role(base, second.id, "editor", first_token).status_code == 200
