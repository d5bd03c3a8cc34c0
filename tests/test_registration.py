"""Registration the operator controls: open, by invite, or closed; invites are single-use."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from support import PASSWORD, assert_problem, execute_sql

from shopapi.db import utcnow


def _register(client: Any, username: str, **extra: Any) -> Any:
    return client.post("/auth/register", json={"username": username, "password": PASSWORD, **extra})


def _invite(client: Any, admin: dict[str, str], role: str, **extra: Any) -> str:
    r = client.post("/admin/invites", json={"role": role, **extra}, headers=admin)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["role"] == role and body["expires_at"].endswith("Z")
    return str(body["code"])


@pytest.fixture
def mode(make_app: Callable[..., Any]) -> Callable[[str], Any]:
    """A client of an app on the test's database with another REGISTRATION mode."""
    return lambda registration: make_app(registration=registration).test_client()


def test_an_invite_gives_its_role_once(client: Any, admin: dict[str, str]) -> None:
    code = _invite(client, admin, "viewer")
    r = _register(client, "invited_one", invite_code=code)
    assert r.status_code == 201 and r.get_json()["role"] == "viewer"
    again = _register(client, "invited_two", invite_code=code)
    assert "invite code" in assert_problem(again, 403)["detail"]


@pytest.mark.parametrize("code", ["unknown-code", "x"])
def test_an_unknown_invite_is_403_and_creates_nothing(
    client: Any, admin: dict[str, str], code: str
) -> None:
    assert_problem(_register(client, "nobody_here", invite_code=code), 403)
    r = client.post("/auth/login", json={"username": "nobody_here", "password": PASSWORD})
    assert r.status_code == 401


def test_an_expired_invite_is_403(app: Any, client: Any, admin: dict[str, str]) -> None:
    code = _invite(client, admin, "editor", expires_in=60)
    execute_sql(app, "UPDATE invites SET expires_at = :t", t=utcnow() - timedelta(seconds=1))
    assert_problem(_register(client, "too_late", invite_code=code), 403)


@pytest.mark.parametrize(
    "body",
    [
        {"role": "owner"},
        {},
        {"role": "viewer", "expires_in": 0},
        {"role": "viewer", "expires_in": 2592001},
        {"role": "viewer", "expires_in": "60"},
    ],
)
def test_bad_invites_are_422(client: Any, admin: dict[str, str], body: dict[str, Any]) -> None:
    assert_problem(client.post("/admin/invites", json=body, headers=admin), 422)


def test_invite_mode_needs_a_valid_invite(client: Any, admin: dict[str, str], mode: Any) -> None:
    invite_only = mode("invite")
    assert "invite_code" in assert_problem(_register(invite_only, "walk_in"), 403)["detail"]
    code = _invite(client, admin, "editor")
    r = _register(invite_only, "with_invite", invite_code=code)
    assert r.status_code == 201 and r.get_json()["role"] == "editor"


def test_closed_mode_refuses_everyone(client: Any, admin: dict[str, str], mode: Any) -> None:
    closed = mode("closed")
    code = _invite(client, admin, "editor")
    assert "closed" in assert_problem(_register(closed, "walk_in"), 403)["detail"]
    assert "closed" in assert_problem(_register(closed, "invited", invite_code=code), 403)["detail"]
    # The invite was not used up by the refusal.
    assert _register(client, "invited", invite_code=code).status_code == 201


def test_a_taken_name_leaves_the_invite_unused(client: Any, admin: dict[str, str]) -> None:
    code = _invite(client, admin, "viewer")
    assert _register(client, "taken_name").status_code == 201
    assert_problem(_register(client, "Taken_Name", invite_code=code), 409)
    assert _register(client, "free_name", invite_code=code).status_code == 201
