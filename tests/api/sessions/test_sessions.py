"""Sessions: refresh with rotation and reuse detection, expiry, the session list, ending
sessions, and device tokens against lockout abuse."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from support import AuthActions, assert_problem, bearer, execute_sql

from shopapi.db import utcnow


def _sign_in(client: Any, auth: AuthActions, account: Any = None, **login: Any) -> dict[str, Any]:
    """The whole 200 body of /auth/verify (and the account)."""
    account = account or auth.register()
    r = client.post(
        "/auth/login",
        json={"username": account.username, "password": account.password, **login},
    )
    assert r.status_code == 200, r.get_json()
    r = client.post(
        "/auth/verify", json={"mfa_token": r.get_json()["mfa_token"], "otp": account.next_code()}
    )
    assert r.status_code == 200, r.get_json()
    return {"account": account, **r.get_json()}


def _refresh(client: Any, token: Any) -> Any:
    return client.post("/auth/refresh", json={"refresh_token": token})


def test_a_refresh_gives_new_tokens_and_uses_the_old_one_up(client: Any, auth: AuthActions) -> None:
    signed_in = _sign_in(client, auth)
    r = _refresh(client, signed_in["refresh_token"])
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
    }
    assert body["refresh_token"] != signed_in["refresh_token"]
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    me = client.get("/auth/me", headers=bearer(body["access_token"]))
    assert me.get_json()["id"] == signed_in["account"].id
    assert _refresh(client, body["refresh_token"]).status_code == 200


def test_a_reused_refresh_token_ends_the_whole_session(client: Any, auth: AuthActions) -> None:
    signed_in = _sign_in(client, auth)
    newer = _refresh(client, signed_in["refresh_token"]).get_json()
    reused = _refresh(client, signed_in["refresh_token"])
    assert "used already" in assert_problem(reused, 401)["detail"]
    # Every token of that session is dead: the newest refresh token and both access tokens.
    assert_problem(_refresh(client, newer["refresh_token"]), 401)
    for access in (signed_in["access_token"], newer["access_token"]):
        assert_problem(client.get("/auth/me", headers=bearer(access)), 401)


@pytest.mark.parametrize("token", ["", "garbage", "x" * 129, "é" * 10])
def test_malformed_or_unknown_refresh_tokens_are_401(client: Any, token: Any) -> None:
    r = _refresh(client, token)
    assert "refresh token" in assert_problem(r, 401)["detail"]


@pytest.mark.parametrize("token", [12345, None, ["a"], {"a": 1}, True])
@pytest.mark.sqlite_only
def test_a_refresh_token_that_is_not_a_string_is_422(client: Any, token: Any) -> None:
    problem = assert_problem(_refresh(client, token), 422)
    assert set(problem["errors"]) == {"refresh_token"}


@pytest.mark.parametrize("token", [12345, None, ["a"], True])
@pytest.mark.sqlite_only
def test_an_mfa_token_that_is_not_a_string_is_422(client: Any, token: Any) -> None:
    r = client.post("/auth/verify", json={"mfa_token": token, "otp": "123456"})
    assert "mfa_token" in assert_problem(r, 422)["errors"]


@pytest.mark.parametrize("body", [{}, {"refresh_token": "x", "other": 1}])
def test_a_refresh_body_without_its_field_is_422(client: Any, body: dict[str, Any]) -> None:
    assert_problem(client.post("/auth/refresh", json=body), 422)


@pytest.fixture
def short_sessions(make_app: Callable[..., Any]) -> Any:
    """An app whose sessions idle out after 60 s and end 100 s after sign-in."""
    return make_app(session_idle_timeout=60, session_max_age=100)


def test_refresh_expires_in_tells_the_truth(short_sessions: Any) -> None:
    client = short_sessions.test_client()
    signed_in = _sign_in(client, AuthActions(client))
    assert signed_in["refresh_expires_in"] == 60  # the idle timeout comes first
    # 70 s later (the maximum age is 30 s away): the maximum age comes first.
    execute_sql(
        short_sessions,
        "UPDATE sessions SET max_expires_at = :t",
        t=utcnow() + timedelta(seconds=30),
    )
    body = _refresh(client, signed_in["refresh_token"]).get_json()
    assert 28 <= body["refresh_expires_in"] <= 30


def test_an_expired_session_refuses_its_tokens(short_sessions: Any) -> None:
    client = short_sessions.test_client()
    signed_in = _sign_in(client, AuthActions(client))
    execute_sql(short_sessions, "UPDATE sessions SET expires_at = :t", t=utcnow())
    assert_problem(_refresh(client, signed_in["refresh_token"]), 401)
    assert_problem(client.get("/auth/me", headers=bearer(signed_in["access_token"])), 401)


def test_logout_ends_the_session(client: Any, auth: AuthActions) -> None:
    signed_in = _sign_in(client, auth)
    other = _sign_in(client, auth, signed_in["account"])
    r = client.post("/auth/logout", headers=bearer(signed_in["access_token"]))
    assert r.status_code == 204
    assert_problem(_refresh(client, signed_in["refresh_token"]), 401)
    assert_problem(client.get("/auth/me", headers=bearer(signed_in["access_token"])), 401)
    # The account's other session goes on.
    assert client.get("/auth/me", headers=bearer(other["access_token"])).status_code == 200


def test_the_session_list_and_ending_one_session(client: Any, auth: AuthActions) -> None:
    first = _sign_in(client, auth)
    account = first["account"]
    second = client.post(
        "/auth/login", json={"username": account.username, "password": account.password}
    ).get_json()
    r = client.post(
        "/auth/verify",
        json={"mfa_token": second["mfa_token"], "otp": account.next_code()},
        headers={"User-Agent": "Phone/2.0"},
    )
    second = r.get_json()
    sessions = client.get("/auth/sessions", headers=bearer(second["access_token"])).get_json()
    items = sessions["items"]
    assert [item["current"] for item in items] == [True, False]  # newest first
    assert set(items[0]) == {
        "id",
        "created_at",
        "last_used_at",
        "expires_at",
        "user_agent",
        "current",
    }
    assert items[0]["user_agent"] == "Phone/2.0" and isinstance(items[0]["id"], str)
    older = items[1]["id"]
    r = client.delete(f"/auth/sessions/{older}", headers=bearer(second["access_token"]))
    assert r.status_code == 204
    assert_problem(client.get("/auth/me", headers=bearer(first["access_token"])), 401)
    again = client.delete(f"/auth/sessions/{older}", headers=bearer(second["access_token"]))
    assert_problem(again, 404)
    left = client.get("/auth/sessions", headers=bearer(second["access_token"])).get_json()
    assert [item["id"] for item in left["items"]] == [items[0]["id"]]


def test_another_accounts_session_is_404(client: Any, auth: AuthActions) -> None:
    mine = _sign_in(client, auth)
    theirs = _sign_in(client, auth)
    their_id = client.get("/auth/sessions", headers=bearer(theirs["access_token"])).get_json()[
        "items"
    ][0]["id"]
    r = client.delete(f"/auth/sessions/{their_id}", headers=bearer(mine["access_token"]))
    assert_problem(r, 404)
    assert client.get("/auth/me", headers=bearer(theirs["access_token"])).status_code == 200


def test_signing_out_everywhere_ends_every_session(client: Any, auth: AuthActions) -> None:
    first = _sign_in(client, auth)
    second = _sign_in(client, auth, first["account"])
    r = client.delete("/auth/sessions", headers=bearer(second["access_token"]))
    assert r.status_code == 204
    for signed_in in (first, second):
        assert_problem(client.get("/auth/me", headers=bearer(signed_in["access_token"])), 401)
        assert_problem(_refresh(client, signed_in["refresh_token"]), 401)


def test_a_disabled_or_deleted_account_cannot_refresh(
    app: Any, client: Any, auth: AuthActions
) -> None:
    admin = auth.headers()
    signed_in = _sign_in(client, auth)
    user_id = signed_in["account"].id
    client.patch(f"/admin/users/{user_id}", json={"disabled": True}, headers=admin)
    assert_problem(_refresh(client, signed_in["refresh_token"]), 401)
    client.patch(f"/admin/users/{user_id}", json={"disabled": False}, headers=admin)
    other = _sign_in(client, auth, signed_in["account"])
    execute_sql(app, "DELETE FROM users WHERE id = :id", id=user_id)
    assert_problem(_refresh(client, other["refresh_token"]), 401)


def _lock_out(client: Any, username: str) -> None:
    for _ in range(10):
        r = client.post("/auth/login", json={"username": username, "password": "wrong-password"})
        assert r.status_code == 401


def test_the_owners_device_signs_in_while_the_account_is_locked(
    client: Any, auth: AuthActions
) -> None:
    signed_in = _sign_in(client, auth)
    account, device = signed_in["account"], signed_in["device_token"]
    _lock_out(client, account.username)
    right = {"username": account.username, "password": account.password}
    assert_problem(client.post("/auth/login", json=right), 429)
    r = client.post("/auth/login", json={**right, "device_token": device})
    assert r.status_code == 200
    again = _sign_in(client, auth, account, device_token=device)
    assert again["device_token"] != device  # a new one at every sign-in


def test_a_device_token_dies_after_ten_failed_passwords_on_it(
    client: Any, auth: AuthActions
) -> None:
    signed_in = _sign_in(client, auth)
    account, device = signed_in["account"], signed_in["device_token"]
    _lock_out(client, account.username)
    wrong = {"username": account.username, "password": "wrong-password", "device_token": device}
    for _ in range(10):
        assert_problem(client.post("/auth/login", json=wrong), 401)
    right = {**wrong, "password": account.password}
    # The device no longer counts: the account's lockout applies.
    assert_problem(client.post("/auth/login", json=right), 429)


def test_another_accounts_device_token_counts_for_nothing(client: Any, auth: AuthActions) -> None:
    victim = _sign_in(client, auth)
    other = _sign_in(client, auth)
    account = victim["account"]
    _lock_out(client, account.username)
    right = {"username": account.username, "password": account.password}
    for device in (other["device_token"], "made-up-device-token"):
        assert_problem(client.post("/auth/login", json={**right, "device_token": device}), 429)


def test_refresh_and_device_tokens_are_stored_only_as_hashes(
    app: Any, client: Any, auth: AuthActions
) -> None:
    signed_in = _sign_in(client, auth)
    with app.extensions["db_engine"].connect() as conn:
        from sqlalchemy import text

        stored = conn.execute(text("SELECT token_hash FROM refresh_tokens")).scalars().all()
        stored += conn.execute(text("SELECT token_hash FROM device_tokens")).scalars().all()
    assert stored and signed_in["refresh_token"] not in stored
    assert signed_in["device_token"] not in stored
    assert all(len(value) == 64 for value in stored)


def _sign_in_with_recovery_code(client: Any, account: Any) -> dict[str, Any]:
    """A new session without waiting for a fresh TOTP step."""
    r = client.post(
        "/auth/login", json={"username": account.username, "password": account.password}
    )
    assert r.status_code == 200, r.get_json()
    r = client.post(
        "/auth/verify",
        json={
            "mfa_token": r.get_json()["mfa_token"],
            "recovery_code": account.recovery_codes.pop(),
        },
    )
    assert r.status_code == 200, r.get_json()
    body: dict[str, Any] = r.get_json()
    return body


def test_past_the_cap_a_sign_in_ends_the_oldest_session(
    make_app: Callable[..., Any], settings: Any
) -> None:
    client = make_app(session_max_per_account=3).test_client()
    account = AuthActions(client).register()
    first, *_, last = [_sign_in_with_recovery_code(client, account) for _ in range(4)]
    assert_problem(_refresh(client, first["refresh_token"]), 401)
    listed = client.get("/auth/sessions", headers=bearer(last["access_token"])).get_json()
    assert len(listed["items"]) == 3
    events = client.get("/auth/events", headers=bearer(last["access_token"])).get_json()
    reasons = [e["reason"] for e in events["items"] if e["type"] == "session_ended"]
    assert reasons == ["session_cap"]
    assert _refresh(client, last["refresh_token"]).status_code == 200


def _change_password(client: Any, account: Any, access: str, admin: Any) -> None:
    new = "a-brand-new-long-passphrase"
    body = {
        "password": account.password,
        "recovery_code": account.recovery_codes.pop(),
        "new_password": new,
    }
    assert client.post("/auth/password", json=body, headers=bearer(access)).status_code == 204
    account.password = new


def _reset_totp(client: Any, account: Any, access: str, admin: Any) -> None:
    r = client.post(f"/admin/users/{account.id}/reset-totp", headers=admin)
    assert r.status_code == 204


def _disable_and_enable(client: Any, account: Any, access: str, admin: Any) -> None:
    for disabled in (True, False):
        r = client.patch(f"/admin/users/{account.id}", json={"disabled": disabled}, headers=admin)
        assert r.status_code == 200


@pytest.mark.parametrize("change", [_change_password, _reset_totp, _disable_and_enable])
def test_a_device_token_from_before_a_security_change_no_longer_passes_a_lockout(
    client: Any, auth: AuthActions, change: Callable[..., None]
) -> None:
    admin = auth.headers()
    signed_in = _sign_in(client, auth)
    account, device = signed_in["account"], signed_in["device_token"]
    change(client, account, signed_in["access_token"], admin)
    _lock_out(client, account.username)
    right = {"username": account.username, "password": account.password}
    assert_problem(client.post("/auth/login", json={**right, "device_token": device}), 429)
