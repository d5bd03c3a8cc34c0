"""Administration: accounts listed and changed by an admin; the last admin stays."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlalchemy import create_engine, text
from support import (
    MARIADB_URL,
    AuthActions,
    assert_problem,
    create_product,
    scratch_database,
    wrong_code,
)

from shopapi.db import upgrade

USER_FIELDS = {
    "id",
    "username",
    "role",
    "disabled",
    "totp_confirmed",
    "locked",
    "created_at",
    "kind",
}


def test_admins_page_through_accounts(
    client: Any, auth: AuthActions, admin: dict[str, str]
) -> None:
    for _ in range(4):
        auth.register()
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get("/admin/users", query_string=query, headers=admin).get_json()
        seen += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and [u["id"] for u in seen] == sorted(u["id"] for u in seen)
    assert all(set(u) == USER_FIELDS for u in seen)
    first = seen[0]
    assert first["role"] == "admin" and first["totp_confirmed"] is True
    assert seen[1]["totp_confirmed"] is False and seen[1]["locked"] is False


@pytest.mark.parametrize(
    "query", [{"limit": 0}, {"limit": 201}, {"limit": "x"}, {"cursor": "forged"}]
)
def test_bad_pages_are_422(client: Any, admin: dict[str, str], query: dict[str, Any]) -> None:
    assert_problem(client.get("/admin/users", query_string=query, headers=admin), 422)


def test_a_products_cursor_is_no_users_cursor(client: Any, admin: dict[str, str]) -> None:
    for name in ("a", "b"):
        create_product(client, admin, name=name)
    cursor = client.get("/api/products?limit=1", headers=admin).get_json()["next_cursor"]
    r = client.get("/admin/users", query_string={"cursor": cursor}, headers=admin)
    assert list(assert_problem(r, 422)["errors"]) == ["cursor"]


@pytest.mark.parametrize("user_id", ["999999", "9223372036854775808", "99999999999999999999"])
def test_unknown_users_are_404(client: Any, admin: dict[str, str], user_id: str) -> None:
    for method, path in [
        ("get", ""),
        ("patch", ""),
        ("post", "/unlock"),
        ("post", "/reset-totp"),
        ("get", "/passkeys"),
        ("delete", "/passkeys/1"),
    ]:
        kwargs = {"json": {"role": "viewer"}} if method == "patch" else {}
        r = getattr(client, method)(f"/admin/users/{user_id}{path}", headers=admin, **kwargs)
        assert_problem(r, 404)


@pytest.mark.parametrize(
    "body",
    [{}, {"role": "owner"}, {"role": None}, {"disabled": "yes"}, {"disabled": 1}, {"id": 5}],
)
@pytest.mark.sqlite_only
def test_bad_changes_are_422(
    client: Any, auth: AuthActions, admin: dict[str, str], body: dict[str, Any]
) -> None:
    user = auth.register()
    assert_problem(client.patch(f"/admin/users/{user.id}", json=body, headers=admin), 422)
    after = client.get(f"/admin/users/{user.id}", headers=admin).get_json()
    assert after["role"] == "editor" and after["disabled"] is False


def test_the_last_enabled_admin_cannot_be_demoted_or_disabled(
    client: Any, auth: AuthActions, admin: dict[str, str]
) -> None:
    me = client.get("/auth/me", headers=admin).get_json()
    for body in ({"role": "editor"}, {"disabled": True}, {"role": "viewer", "disabled": True}):
        r = client.patch(f"/admin/users/{me['id']}", json=body, headers=admin)
        assert "last enabled admin" in assert_problem(r, 409)["detail"]
    other = auth.register()
    client.patch(f"/admin/users/{other.id}", json={"role": "admin"}, headers=admin)
    r = client.patch(f"/admin/users/{me['id']}", json={"role": "editor"}, headers=admin)
    assert r.status_code == 200 and r.get_json()["role"] == "editor"
    # A disabled admin does not count as one.
    second = auth.headers(other)
    client.patch(f"/admin/users/{me['id']}", json={"role": "admin"}, headers=second)
    client.patch(f"/admin/users/{me['id']}", json={"disabled": True}, headers=second)
    assert_problem(
        client.patch(f"/admin/users/{other.id}", json={"role": "editor"}, headers=second), 409
    )


def test_unlock_lifts_both_limits(client: Any, auth: AuthActions, admin: dict[str, str]) -> None:
    user = auth.register()
    for _ in range(10):
        token = auth.login(user)
        client.post("/auth/verify", json={"mfa_token": token, "otp": wrong_code(user.secret)})
    wrong = {"username": user.username, "password": "not-the-password"}
    for _ in range(10):
        client.post("/auth/login", json=wrong)
    seen = client.get(f"/admin/users/{user.id}", headers=admin).get_json()
    assert seen["locked"] is True
    assert_problem(client.post("/auth/login", json={**wrong, "password": user.password}), 429)
    assert client.post(f"/admin/users/{user.id}/unlock", headers=admin).status_code == 204
    assert client.get(f"/admin/users/{user.id}", headers=admin).get_json()["locked"] is False
    auth.sign_in(user)


def test_reset_totp_gives_a_new_authenticator(
    client: Any, auth: AuthActions, admin: dict[str, str]
) -> None:
    user, token = auth.sign_in()
    assert client.get(f"/admin/users/{user.id}", headers=admin).get_json()["totp_confirmed"]
    assert client.post(f"/admin/users/{user.id}/reset-totp", headers=admin).status_code == 204
    assert_problem(client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}), 401)
    seen = client.get(f"/admin/users/{user.id}", headers=admin).get_json()
    assert seen["totp_confirmed"] is False
    body = client.post(
        "/auth/login", json={"username": user.username, "password": user.password}
    ).get_json()
    new_secret = body["enrollment"]["secret"]
    assert new_secret != user.secret
    old_code = pyotp.TOTP(user.secret).now()
    r = client.post("/auth/verify", json={"mfa_token": body["mfa_token"], "otp": old_code})
    assert_problem(r, 401)
    r = client.post(
        "/auth/verify",
        json={"mfa_token": auth.login(user), "recovery_code": user.recovery_codes[1]},
    )
    assert_problem(r, 401)  # the recovery codes went with the old authenticator
    user.secret, user.used_steps = new_secret, set()
    auth.sign_in(user)


def test_the_users_commands(app: Any, auth: AuthActions, admin: dict[str, str]) -> None:
    runner = app.test_cli_runner()
    user = auth.register()
    result = runner.invoke(args=["users", "set-role", user.username.upper(), "viewer"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["users", "list"])
    assert f"{user.id}\t{user.username}\tviewer" in listed.output
    unknown = runner.invoke(args=["users", "set-role", "nobody_at_all", "viewer"])
    assert unknown.exit_code != 0 and "no user named 'nobody_at_all'" in unknown.output
    bad_role = runner.invoke(args=["users", "set-role", user.username, "owner"])
    assert bad_role.exit_code != 0 and "owner" in bad_role.output
    invite = runner.invoke(args=["users", "invite", "admin"])
    assert invite.exit_code == 0
    (code,) = invite.output.splitlines()
    client = app.test_client()
    r = client.post(
        "/auth/register",
        json={"username": "from_cli", "password": user.password, "invite_code": code},
    )
    assert r.status_code == 201 and r.get_json()["role"] == "admin"


def test_the_last_admin_cannot_be_demoted_from_the_command_line(
    app: Any, auth: AuthActions
) -> None:
    first = auth.register()
    result = app.test_cli_runner().invoke(args=["users", "set-role", first.username, "editor"])
    assert result.exit_code != 0 and "last enabled admin" in result.output


@pytest.fixture
def fresh_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the test's backend, with no migration applied."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    url, drop = scratch_database(MARIADB_URL, "shopapi_upgrade")
    try:
        yield url
    finally:
        drop()


def test_an_upgraded_database_keeps_its_accounts_as_editors(
    fresh_database_url: str, make_app: Callable[..., Any]
) -> None:
    url = fresh_database_url
    upgrade(url, "0003")  # the release before roles
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (username, username_normalized, password, twofa_secret,"
                " created_at) VALUES ('old_timer', 'old_timer', 'x', 'y', '2026-01-01')"
            )
        )
    engine.dispose()
    upgrade(url)
    app = make_app(database_url=url)
    auth = AuthActions(app.test_client())
    newcomer, token = auth.sign_in()
    me = app.test_client().get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.get_json()["role"] == "editor"  # no admin appears by itself
    with app.extensions["db_engine"].connect() as conn:
        roles = dict(conn.execute(text("SELECT username, role FROM users")).all())
    assert roles == {"old_timer": "editor", newcomer.username: "editor"}
