"""Registration the operator controls: open, by invite, or closed; invites are single-use."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from support import PASSWORD, AuthActions, assert_problem, execute_sql

from shopapi.db import utcnow


def _register(client: Any, username: str, **extra: Any) -> Any:
    return client.post("/auth/register", json={"username": username, "password": PASSWORD, **extra})


def _invite(client: Any, admin: dict[str, str], role: str, **extra: Any) -> str:
    return str(_made(client, admin, role, **extra)["code"])


def _made(client: Any, admin: dict[str, str], role: str, **extra: Any) -> dict[str, Any]:
    r = client.post("/admin/invites", json={"role": role, **extra}, headers=admin)
    assert r.status_code == 201, r.get_json()
    body: dict[str, Any] = r.get_json()
    assert set(body) == {"code", "role", "expires_at"}
    assert body["role"] == role and body["expires_at"].endswith("Z")
    # Its id, to revoke it by, is in the list of live invites (the newest is last).
    body["id"] = _live(client, admin, limit=200)[-1]["id"]
    return body


def _live(client: Any, admin: dict[str, str], **query: Any) -> list[dict[str, Any]]:
    r = client.get("/admin/invites", query_string=query, headers=admin)
    assert r.status_code == 200, r.get_json()
    items: list[dict[str, Any]] = r.get_json()["items"]
    return items


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
@pytest.mark.sqlite_only
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


def _second_admin(client: Any, auth: AuthActions, admin: dict[str, str]) -> Any:
    account = auth.register()
    r = client.patch(f"/admin/users/{account.id}", json={"role": "admin"}, headers=admin)
    assert r.status_code == 200
    return account


def _disable(client: Any, admin: dict[str, str], maker: Any) -> None:
    r = client.patch(f"/admin/users/{maker.id}", json={"disabled": True}, headers=admin)
    assert r.status_code == 200


def _demote(client: Any, admin: dict[str, str], maker: Any) -> None:
    r = client.patch(f"/admin/users/{maker.id}", json={"role": "editor"}, headers=admin)
    assert r.status_code == 200


def _delete(client: Any, auth: AuthActions, maker: Any) -> None:
    proof = {"password": maker.password, "recovery_code": maker.recovery_codes.pop()}
    assert client.delete("/auth/me", json=proof, headers=auth.headers(maker)).status_code == 204


@pytest.mark.parametrize("fate", ["disabled", "demoted", "deleted"])
def test_an_invite_dies_with_its_makers_admin_role(
    client: Any, auth: AuthActions, admin: dict[str, str], fate: str
) -> None:
    """An invite made by an admin who is later disabled, demoted or deleted makes no one,
    least of all a new admin; it is no longer listed, and cannot be revoked."""
    maker = _second_admin(client, auth, admin)
    invite = _made(client, auth.headers(maker), "admin")
    assert [i["id"] for i in _live(client, admin)] == [invite["id"]]
    if fate == "disabled":
        _disable(client, admin, maker)
    elif fate == "demoted":
        _demote(client, admin, maker)
    else:
        _delete(client, auth, maker)
    r = _register(client, "would_be_admin", invite_code=invite["code"])
    assert "invite code" in assert_problem(r, 403)["detail"]
    assert _live(client, admin) == []
    assert_problem(client.delete(f"/admin/invites/{invite['id']}", headers=admin), 404)
    login = client.post("/auth/login", json={"username": "would_be_admin", "password": PASSWORD})
    assert login.status_code == 401


def test_an_invite_of_an_admin_enabled_again_works_again(
    client: Any, auth: AuthActions, admin: dict[str, str]
) -> None:
    maker = _second_admin(client, auth, admin)
    code = _invite(client, auth.headers(maker), "viewer")
    _disable(client, admin, maker)
    client.patch(f"/admin/users/{maker.id}", json={"disabled": False}, headers=admin)
    r = _register(client, "invited_late", invite_code=code)
    assert r.status_code == 201 and r.get_json()["role"] == "viewer"


def test_admins_list_live_invites_without_their_codes(
    app: Any, client: Any, auth: AuthActions, admin: dict[str, str]
) -> None:
    me = client.get("/auth/me", headers=admin).get_json()
    made = [_made(client, admin, role) for role in ("viewer", "editor", "admin", "viewer")]
    used, expired = made[0], made[1]
    assert _register(client, "used_one", invite_code=used["code"]).status_code == 201
    execute_sql(
        app, "UPDATE invites SET expires_at = :t WHERE id = :id", t=utcnow(), id=expired["id"]
    )
    items = _live(client, admin)
    assert [i["id"] for i in items] == [made[2]["id"], made[3]["id"]]
    assert set(items[0]) == {"id", "role", "created_at", "expires_at", "created_by"}
    assert items[0]["role"] == "admin" and items[0]["created_by"] == me["id"]
    assert items[0]["expires_at"] == made[2]["expires_at"]
    # Paged like every list.
    first = client.get("/admin/invites?limit=1", headers=admin).get_json()
    assert [i["id"] for i in first["items"]] == [made[2]["id"]]
    rest = _live(client, admin, cursor=first["next_cursor"])
    assert [i["id"] for i in rest] == [made[3]["id"]]
    # Only admins see them.
    assert_problem(client.get("/admin/invites", headers=auth.headers()), 403)


def test_an_invite_from_the_command_line_is_listed_without_a_maker(
    app: Any, client: Any, admin: dict[str, str]
) -> None:
    code = app.test_cli_runner().invoke(args=["users", "invite", "editor"]).output.strip()
    (item,) = _live(client, admin)
    assert item["created_by"] is None and item["role"] == "editor"
    assert _register(client, "from_the_shell", invite_code=code).status_code == 201


def test_a_revoked_invite_registers_no_one(client: Any, admin: dict[str, str]) -> None:
    invite = _made(client, admin, "admin")
    kept = _made(client, admin, "viewer")
    r = client.delete(f"/admin/invites/{invite['id']}", headers=admin)
    assert r.status_code == 204 and r.data == b""
    assert [i["id"] for i in _live(client, admin)] == [kept["id"]]
    assert_problem(_register(client, "revoked_one", invite_code=invite["code"]), 403)
    # Gone: a second revocation, like an unknown id, is 404.
    assert_problem(client.delete(f"/admin/invites/{invite['id']}", headers=admin), 404)
    assert_problem(client.delete("/admin/invites/9223372036854775807", headers=admin), 404)


def test_a_used_or_expired_invite_cannot_be_revoked(
    app: Any, client: Any, admin: dict[str, str]
) -> None:
    used, expired = _made(client, admin, "viewer"), _made(client, admin, "viewer")
    assert _register(client, "used_it", invite_code=used["code"]).status_code == 201
    execute_sql(
        app, "UPDATE invites SET expires_at = :t WHERE id = :id", t=utcnow(), id=expired["id"]
    )
    for invite in (used, expired):
        assert_problem(client.delete(f"/admin/invites/{invite['id']}", headers=admin), 404)


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 201}, {"cursor": "forged"}])
def test_bad_invite_list_queries_are_422(
    client: Any, admin: dict[str, str], query: dict[str, Any]
) -> None:
    assert_problem(client.get("/admin/invites", query_string=query, headers=admin), 422)


@pytest.mark.mariadb_only
def test_a_registration_waits_for_its_makers_demotion_under_way_and_is_refused(
    settings: Any,
    make_app: Callable[..., Any],
    client: Any,
    auth: AuthActions,
    admin: dict[str, str],
) -> None:
    """The demotion holds the maker's row, uncommitted, while someone registers with the
    maker's invite: the registration waits for it, then finds no admin behind the invite.
    (MariaDB only: on SQLite writers take turns, and the statement alone decides.)"""
    maker = _second_admin(client, auth, admin)
    code = _invite(client, auth.headers(maker), "admin")
    # A patient app: on a busy machine the wait must not end in the query timeout's 503,
    # nor in a lock wait that outlasts the retries (lock waits are half DB_RETRY_SECONDS).
    patient = make_app(db_query_timeout=60, db_retry_seconds=40).test_client()
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as demotion, ThreadPoolExecutor(1) as pool:
            demotion.execute(
                text("UPDATE users SET role = 'editor' WHERE id = :id"), {"id": maker.id}
            )
            registering = pool.submit(_register, patient, "slipped_in", invite_code=code)
            # Until it is seen waiting (or for 10 s on a machine too busy to show it): a
            # registration that did not wait would have made its admin by now.
            deadline = time.monotonic() + 10
            while not _waits_for_a_lock(demotion) and time.monotonic() < deadline:
                assert not registering.done(), registering.result().status_code
                time.sleep(0.05)
            assert not registering.done(), registering.result().status_code
            demotion.commit()
            assert "invite code" in assert_problem(registering.result(), 403)["detail"]
    finally:
        engine.dispose()


def _waits_for_a_lock(conn: Any) -> bool:
    """Whether a statement that reads invites waits for a row lock."""
    query = (
        "SELECT COUNT(*) FROM information_schema.INNODB_TRX"
        " WHERE trx_state = 'LOCK WAIT' AND trx_query LIKE '%invites%'"
    )
    return bool(conn.execute(text(query)).scalar())
