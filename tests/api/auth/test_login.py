"""Logging in with the password: the mfa_token step, enumeration and lockout."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from support import PASSWORD, AuthActions, assert_problem, execute_sql, user_row

from shopapi.config import Settings
from shopapi.db import utcnow


def _login(client: Any, username: str, password: str) -> Any:
    return client.post("/auth/login", json={"username": username, "password": password})


def test_login_returns_an_mfa_token_and_enrollment_until_first_code(
    client: Any, auth: AuthActions, settings: Settings
) -> None:
    account = auth.register()
    for _ in range(2):  # enrolment stays available until a code has been verified
        r = _login(client, account.username, account.password)
        assert r.status_code == 200
        body = r.get_json()
        assert set(body) == {"mfa_token", "expires_in", "next", "methods", "enrollment"}
        assert body["expires_in"] == 300 and body["next"] == "/auth/verify"
        assert body["methods"] == ["totp", "recovery_code"]
        assert body["enrollment"]["secret"] == account.secret
        assert body["enrollment"]["otpauth_uri"].startswith(
            f"otpauth://totp/{settings.totp_issuer}:{account.username}?"
        )
        assert body["enrollment"]["qr_code"].startswith("data:image/png;base64,")
    auth.verify(account, body["mfa_token"])
    body = _login(client, account.username, account.password).get_json()
    assert set(body) == {"mfa_token", "expires_in", "next", "methods"}


def test_login_is_case_insensitive_on_the_username(client: Any, auth: AuthActions) -> None:
    account = auth.register("Henry_K")
    assert _login(client, "henry_k", account.password).status_code == 200
    assert _login(client, "HENRY_K", account.password).status_code == 200


def test_passwords_are_compared_in_full(client: Any, auth: AuthActions) -> None:
    shared = "ß" * 40  # 80 bytes of UTF-8: beyond bcrypt's 72-byte horizon
    account = auth.register(password=shared + "-one")
    assert _login(client, account.username, shared + "-one").status_code == 200
    assert_problem(_login(client, account.username, shared + "-two"), 401)
    assert_problem(_login(client, account.username, shared), 401)


def test_unknown_user_and_wrong_password_look_the_same(client: Any, auth: AuthActions) -> None:
    account = auth.register()
    wrong = _login(client, account.username, "not-the-password")
    unknown = _login(client, "nobody_here", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()
    assert wrong.data == unknown.data
    assert set(wrong.headers.keys()) == set(unknown.headers.keys())
    for name, value in wrong.headers.items():
        # The request id and the clock differ; nothing else may.
        if name not in ("Date", "X-Request-ID"):
            assert unknown.headers[name] == value


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"username": "x"},
        {"username": "ivan", "password": ""},
        {"username": "a b", "password": "p"},
    ],
)
@pytest.mark.sqlite_only
def test_invalid_login_input(client: Any, payload: dict[str, Any]) -> None:
    body = assert_problem(client.post("/auth/login", json=payload), 422)
    assert body["errors"]


def _lock_out(client: Any, username: str) -> None:
    for _ in range(10):
        assert_problem(_login(client, username, "wrong-password-guess"), 401)


def test_ten_failed_passwords_lock_the_account(client: Any, auth: AuthActions) -> None:
    account = auth.register()
    _lock_out(client, account.username)
    for password in ("wrong-password-guess", account.password):
        r = _login(client, account.username, password)
        assert_problem(r, 429)
        assert int(r.headers["Retry-After"]) > 0
    # per account, whatever the case the username is typed in
    assert_problem(_login(client, account.username.upper(), account.password), 429)
    # other accounts are not affected
    other = auth.register()
    assert _login(client, other.username, other.password).status_code == 200


def test_unknown_usernames_are_locked_the_same_way(client: Any) -> None:
    _lock_out(client, "ghost_user")
    r = _login(client, "ghost_user", "wrong-password-guess")
    assert_problem(r, 429)
    assert int(r.headers["Retry-After"]) > 0


def test_successful_logins_do_not_count_as_failures(client: Any, auth: AuthActions) -> None:
    account = auth.register()
    for _ in range(9):
        assert_problem(_login(client, account.username, "wrong-password-guess"), 401)
    for _ in range(5):
        assert _login(client, account.username, account.password).status_code == 200
    assert_problem(_login(client, account.username, "wrong-password-guess"), 401)
    assert_problem(_login(client, account.username, account.password), 429)


def test_password_hash_is_upgraded_when_parameters_change(
    settings: Settings, make_app: Callable[..., Any]
) -> None:
    old_app = make_app()
    old = old_app.test_client()
    assert (
        old.post("/auth/register", json={"username": "judy", "password": PASSWORD}).status_code
        == 201
    )
    before = user_row(old_app, "judy").password
    assert f"m={settings.argon2_memory_cost},t={settings.argon2_time_cost}," in before

    new_app = make_app(argon2_time_cost=2, argon2_memory_cost=512)
    new = new_app.test_client()
    assert_problem(_login(new, "judy", "wrong-password-guess"), 401)
    assert user_row(new_app, "judy").password == before  # only a right password rehashes
    assert _login(new, "judy", PASSWORD).status_code == 200
    after = user_row(new_app, "judy").password
    assert after.startswith("$argon2id$") and "m=512,t=2," in after
    assert _login(new, "judy", PASSWORD).status_code == 200
    assert _login(old, "judy", PASSWORD).status_code == 200


def test_the_lock_lifts_when_the_fifteen_minutes_are_over(
    client: Any, auth: AuthActions, app: Any
) -> None:
    account = auth.register()
    _lock_out(client, account.username)
    r = _login(client, account.username, account.password)
    assert_problem(r, 429)
    assert 0 < int(r.headers["Retry-After"]) <= 15 * 60
    # let the window age past 15 minutes, as the clock would
    execute_sql(
        app,
        "UPDATE attempt_counters SET window_start = :t WHERE subject = :s",
        t=utcnow() - timedelta(minutes=15, seconds=1),
        s=account.username.lower(),
    )
    assert _login(client, account.username, account.password).status_code == 200
    for _ in range(9):  # a fresh window: ten failures again before the next lock
        assert_problem(_login(client, account.username, "wrong-password-guess"), 401)


def test_a_recovery_code_sign_in_ends_the_enrollment_too(client: Any, auth: AuthActions) -> None:
    """After any successful verify the password alone never shows the secret again."""
    account = auth.register()
    mfa_token = auth.login(account)
    r = client.post(
        "/auth/verify", json={"mfa_token": mfa_token, "recovery_code": account.recovery_codes[0]}
    )
    assert r.status_code == 200
    body = _login(client, account.username, account.password).get_json()
    assert "enrollment" not in body


@pytest.mark.parametrize(("hours_ago", "shown"), [(23, True), (25, False)])
def test_the_enrollment_is_shown_for_24_hours_at_most(
    app: Any, client: Any, auth: AuthActions, hours_ago: int, shown: bool
) -> None:
    account = auth.register()
    issued = utcnow() - timedelta(hours=hours_ago)
    execute_sql(
        app, "UPDATE users SET enrollment_issued_at = :t WHERE id = :id", t=issued, id=account.id
    )
    body = _login(client, account.username, account.password).get_json()
    assert ("enrollment" in body) is shown
    assert set(body) >= {"mfa_token", "expires_in", "next"}
