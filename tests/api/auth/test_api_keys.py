"""API keys over HTTP: made with a fresh proof, shown once, scoped, refused when they
should be, on SQLite and MariaDB."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text
from support import (
    PASSWORD,
    REDIS_URL,
    ROOT,
    Account,
    AuthActions,
    MovableClock,
    assert_problem,
    bearer,
    create_product,
    product_body,
    shared_redis,
    statements_sent,
)

from shopapi.caller.scopes import SCOPES
from shopapi.db import alembic_config, upgrade


def rows(app: Any, sql: str) -> list[tuple[Any, ...]]:
    with app.extensions["db_engine"].connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


def new_key(
    client: Any,
    auth: AuthActions,
    account: Account,
    headers: dict[str, str],
    scopes: list[str],
    **extra: Any,
) -> Any:
    body = {
        "name": extra.pop("name", "storefront"),
        "scopes": scopes,
        "password": account.password,
        "otp": account.next_code(),
        **extra,
    }
    return client.post("/auth/api-keys", json=body, headers=headers)


def key_of(client: Any, auth: AuthActions, scopes: list[str], **extra: Any) -> tuple[str, Any]:
    """A key of a fresh account (the database's first is its admin) and the answer."""
    account, token = auth.sign_in()
    r = new_key(client, auth, account, bearer(token), scopes, **extra)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["key"], r


@pytest.fixture
def editor(client: Any, auth: AuthActions, admin: dict[str, str]) -> tuple[Account, str]:
    """A signed-in editor (not the admin)."""
    account, token = auth.sign_in()
    client.patch(f"/admin/users/{account.id}", json={"role": "editor"}, headers=admin)
    return account, token


def test_a_new_key_is_shown_once_and_stored_as_its_hash(
    app: Any, client: Any, auth: AuthActions, editor: tuple[Account, str]
) -> None:
    account, token = editor
    r = new_key(client, auth, account, bearer(token), ["products:read"], expires_in=3600)
    assert r.status_code == 201
    body = r.get_json()
    assert set(body) == {"id", "name", "key", "scopes", "prefix", "created_at", "expires_at"}
    key = body["key"]
    assert key.startswith("shk_") and len(key) >= 4 + 43
    assert body["prefix"] == key[:12]
    listed = client.get("/auth/api-keys", headers=bearer(token)).get_json()["items"]
    assert [k["id"] for k in listed] == [body["id"]]
    assert "key" not in listed[0] and key not in str(listed)
    assert listed[0]["last_used_at"] is None
    stored = rows(app, "SELECT key_hash FROM api_keys")
    assert stored == [(hashlib.sha256(key.encode()).hexdigest(),)]


def test_a_key_reads_products_with_its_scope(
    client: Any, auth: AuthActions, editor: tuple[Account, str]
) -> None:
    account, token = editor
    product = create_product(client, bearer(token)).get_json()
    key = new_key(client, auth, account, bearer(token), ["products:read"]).get_json()["key"]
    r = client.get(f"/api/products/{product['id']}", headers=bearer(key))
    assert r.status_code == 200 and r.get_json()["name"] == product["name"]
    assert client.get("/api/products", headers=bearer(key)).status_code == 200
    history = client.get(f"/api/products/{product['id']}/history", headers=bearer(key))
    assert history.status_code == 200


def test_a_read_key_cannot_write_and_the_403_names_the_scope(
    client: Any, auth: AuthActions, editor: tuple[Account, str]
) -> None:
    account, token = editor
    key = new_key(client, auth, account, bearer(token), ["products:read"]).get_json()["key"]
    r = client.post("/api/products", json=product_body(), headers=bearer(key))
    assert "products:write" in assert_problem(r, 403)["detail"]
    # the scope comes before anything else: a bad body is still 403
    r = client.post("/api/products", json={"nope": 1}, headers=bearer(key))
    assert_problem(r, 403)
    assert client.get("/api/products", headers=bearer(token)).get_json()["items"] == []


def test_a_write_key_writes_as_its_owner_and_reads_too(
    client: Any, auth: AuthActions, editor: tuple[Account, str]
) -> None:
    account, token = editor
    key = new_key(client, auth, account, bearer(token), ["products:write"]).get_json()["key"]
    r = client.post("/api/products", json=product_body(), headers=bearer(key))
    assert r.status_code == 201
    assert client.get(r.headers["Location"], headers=bearer(key)).status_code == 200


def test_a_stock_only_key_cannot_read_products(
    client: Any, auth: AuthActions, editor: tuple[Account, str]
) -> None:
    account, token = editor
    key = new_key(client, auth, account, bearer(token), ["stock:write"]).get_json()["key"]
    r = client.get("/api/products", headers=bearer(key))
    assert "products:read" in assert_problem(r, 403)["detail"]


def test_a_demoted_owners_key_can_no_longer_write(
    client: Any, auth: AuthActions, editor: tuple[Account, str], admin: dict[str, str]
) -> None:
    account, token = editor
    key = new_key(client, auth, account, bearer(token), ["products:write"]).get_json()["key"]
    client.patch(f"/admin/users/{account.id}", json={"role": "viewer"}, headers=admin)
    r = client.post("/api/products", json=product_body(), headers=bearer(key))
    assert "editor role" in assert_problem(r, 403)["detail"]
    assert client.get("/api/products", headers=bearer(key)).status_code == 200


def test_a_viewer_cannot_make_a_write_key(
    client: Any, auth: AuthActions, admin: dict[str, str]
) -> None:
    account, token = auth.sign_in()
    client.patch(f"/admin/users/{account.id}", json={"role": "viewer"}, headers=admin)
    r = new_key(client, auth, account, bearer(token), ["products:write"])
    assert "scopes" in assert_problem(r, 422)["errors"]
    assert client.get("/auth/api-keys", headers=bearer(token)).get_json()["items"] == []


@pytest.mark.parametrize(
    "change",
    [
        {"name": ""},
        {"name": "x" * 101},
        {"scopes": []},
        {"scopes": ["products:delete"]},
        {"expires_in": 3599},
        {"expires_in": 31622401},
        {"key": "shk_chosen"},
    ],
)
def test_a_bad_key_request_is_422_and_makes_nothing(
    client: Any, auth: AuthActions, editor: tuple[Account, str], change: dict[str, Any]
) -> None:
    account, token = editor
    body = {"name": "sync", "scopes": ["products:read"], "password": PASSWORD, **change}
    body["otp"] = account.next_code()
    r = client.post("/auth/api-keys", json=body, headers=bearer(token))
    assert_problem(r, 422)
    assert client.get("/auth/api-keys", headers=bearer(token)).get_json()["items"] == []


def test_a_wrong_proof_makes_no_key(
    client: Any, auth: AuthActions, editor: tuple[Account, str]
) -> None:
    account, token = editor
    r = new_key(client, auth, account, bearer(token), ["products:read"], password="wrong-one")
    assert_problem(r, 403)
    assert client.get("/auth/api-keys", headers=bearer(token)).get_json()["items"] == []


def test_a_revoked_key_is_refused_at_its_next_request(
    client: Any, auth: AuthActions, editor: tuple[Account, str]
) -> None:
    account, token = editor
    made = new_key(client, auth, account, bearer(token), ["products:read"]).get_json()
    assert client.get("/api/products", headers=bearer(made["key"])).status_code == 200
    r = client.delete(f"/auth/api-keys/{made['id']}", headers=bearer(token))
    assert r.status_code == 204
    r = client.get("/api/products", headers=bearer(made["key"]))
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/auth/api-keys", headers=bearer(token)).get_json()["items"] == []
    assert_problem(client.delete(f"/auth/api-keys/{made['id']}", headers=bearer(token)), 404)


def test_another_accounts_key_cannot_be_revoked(
    client: Any, auth: AuthActions, editor: tuple[Account, str]
) -> None:
    account, token = editor
    made = new_key(client, auth, account, bearer(token), ["products:read"]).get_json()
    _, other = auth.sign_in()
    assert_problem(client.delete(f"/auth/api-keys/{made['id']}", headers=bearer(other)), 404)
    assert client.get("/api/products", headers=bearer(made["key"])).status_code == 200


def test_an_expired_key_is_refused(
    client: Any, auth: AuthActions, editor: tuple[Account, str], clock: MovableClock
) -> None:
    account, token = editor
    made = new_key(client, auth, account, bearer(token), ["products:read"], expires_in=3600)
    key = made.get_json()["key"]
    clock.advance(3601)
    assert_problem(client.get("/api/products", headers=bearer(key)), 401)


@pytest.mark.parametrize("key", ["shk_" + "A" * 43, "shk_", "shk_short"])
def test_an_unknown_key_is_401(client: Any, key: str) -> None:
    r = client.get("/api/products", headers=bearer(key))
    assert_problem(r, 401)


def test_a_disabled_or_deleted_owners_key_is_refused(
    client: Any, auth: AuthActions, editor: tuple[Account, str], admin: dict[str, str]
) -> None:
    account, token = editor
    key = new_key(client, auth, account, bearer(token), ["products:read"]).get_json()["key"]
    client.patch(f"/admin/users/{account.id}", json={"disabled": True}, headers=admin)
    assert_problem(client.get("/api/products", headers=bearer(key)), 401)
    client.patch(f"/admin/users/{account.id}", json={"disabled": False}, headers=admin)
    assert client.get("/api/products", headers=bearer(key)).status_code == 200
    _, token = auth.sign_in(account)
    proof = {"password": account.password, "otp": account.next_code()}
    assert client.delete("/auth/me", json=proof, headers=bearer(token)).status_code == 204
    assert_problem(client.get("/api/products", headers=bearer(key)), 401)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/admin/users"),
        ("get", "/auth/api-keys"),
        ("post", "/auth/api-keys"),
        ("get", "/auth/sessions"),
        ("delete", "/auth/sessions"),
        ("get", "/auth/passkeys"),
        ("post", "/auth/recovery-codes"),
        ("delete", "/auth/me"),
        ("post", "/auth/logout"),
    ],
)
def test_a_key_never_reaches_admin_account_care_sessions_passkeys_or_keys(
    client: Any, auth: AuthActions, method: str, path: str
) -> None:
    # The database's first account is an admin: its key has every scope it may use.
    key, _ = key_of(client, auth, ["products:write", "events:read", "stock:write"])
    for _ in range(12):  # counted toward no limit: the answer stays 403
        r = getattr(client, method)(
            path, json={"password": "x", "otp": "000000"}, headers=bearer(key)
        )
        assert "API keys" in assert_problem(r, 403)["detail"]


def test_me_with_a_key_shows_the_key_and_narrows_permissions(
    client: Any, auth: AuthActions
) -> None:
    key, made = key_of(client, auth, ["products:read"], name="storefront")
    body = client.get("/auth/me", headers=bearer(key)).get_json()
    assert body["role"] == "admin"
    assert body["permissions"] == ["products:read"]
    assert body["api_key"] == {
        "id": made.get_json()["id"],
        "name": "storefront",
        "scopes": ["products:read"],
    }


def test_events_need_the_events_scope(client: Any, auth: AuthActions) -> None:
    key, made = key_of(client, auth, ["events:read"])
    events = client.get("/auth/events", headers=bearer(key)).get_json()["items"]
    assert events[0]["type"] == "api_key_created"
    other, _ = key_of(client, auth, ["products:read"])
    assert (
        "events:read"
        in assert_problem(client.get("/auth/events", headers=bearer(other)), 403)["detail"]
    )


def test_the_security_log_records_creation_and_revocation_without_the_key(
    client: Any, auth: AuthActions, editor: tuple[Account, str]
) -> None:
    account, token = editor
    made = new_key(client, auth, account, bearer(token), ["products:read"]).get_json()
    client.delete(f"/auth/api-keys/{made['id']}", headers=bearer(token))
    items = client.get("/auth/events", headers=bearer(token)).get_json()["items"]
    assert [e["type"] for e in items[:2]] == ["api_key_revoked", "api_key_created"]
    assert made["key"] not in str(items)
    assert made["key"][4:] not in str(items)


def test_at_most_fifty_live_keys(
    app: Any, client: Any, auth: AuthActions, editor: tuple[Account, str]
) -> None:
    account, token = editor
    first = new_key(client, auth, account, bearer(token), ["products:read"]).get_json()
    # 49 more, as the service stores them (a proof each would take 49 TOTP steps).
    with app.extensions["db_engine"].begin() as conn:
        conn.execute(
            text(
                "INSERT INTO api_keys (user_id, key_hash, prefix, name, scopes, created_at, "
                "expires_at) VALUES (:user, :hash, 'shk_x', 'k', 'products:read', "
                "'2026-01-01 00:00:00', '2999-01-01 00:00:00')"
            ),
            [{"user": account.id, "hash": f"h{i:063d}"} for i in range(49)],
        )
    r = new_key(client, auth, account, bearer(token), ["products:read"])
    assert_problem(r, 409)
    client.delete(f"/auth/api-keys/{first['id']}", headers=bearer(token))
    assert new_key(client, auth, account, bearer(token), ["products:read"]).status_code == 201


def test_last_use_is_written_at_most_once_a_minute(
    client: Any, auth: AuthActions, editor: tuple[Account, str], clock: MovableClock
) -> None:
    account, token = editor
    key = new_key(client, auth, account, bearer(token), ["products:read"]).get_json()["key"]
    client.get("/api/products", headers=bearer(key))
    (first,) = client.get("/auth/api-keys", headers=bearer(token)).get_json()["items"]
    assert first["last_used_at"] is not None and first["last_used_ip"] == "127.0.0.1"
    clock.advance(30)
    client.get("/api/products", headers=bearer(key))
    (same,) = client.get("/auth/api-keys", headers=bearer(token)).get_json()["items"]
    assert same["last_used_at"] == first["last_used_at"]
    clock.advance(31)
    client.get("/api/products", headers=bearer(key))
    (later,) = client.get("/auth/api-keys", headers=bearer(token)).get_json()["items"]
    assert later["last_used_at"] > first["last_used_at"]


def test_a_read_with_a_key_sends_one_statement(
    app: Any, client: Any, auth: AuthActions, editor: tuple[Account, str]
) -> None:
    account, token = editor
    product = create_product(client, bearer(token)).get_json()
    key = new_key(client, auth, account, bearer(token), ["products:read", "events:read"])
    headers = bearer(key.get_json()["key"])
    for url in (f"/api/products/{product['id']}", "/api/products", "/auth/me", "/auth/events"):
        assert client.get(url, headers=headers).status_code == 200  # warm, last use written
        with statements_sent(app) as sent:
            assert client.get(url, headers=headers).status_code == 200
        assert len(sent) == 1, [sql for sql, _ in sent]


def test_a_key_never_appears_in_a_log_line(
    client: Any, auth: AuthActions, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key, _ = key_of(client, auth, ["products:read"])
    client.get("/api/products", headers=bearer(key))
    client.post("/api/products", json=product_body(), headers=bearer(key))
    client.get("/admin/users", headers=bearer(key))
    client.get("/api/products", headers=bearer(key + "x"))
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert key[4:] not in logged
    metrics = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert key[4:] not in metrics.get_data(as_text=True)


def test_the_docs_table_of_scopes_is_the_declared_list() -> None:
    reference = (ROOT / "docs" / "api" / "reference.md").read_text(encoding="utf-8")
    section = reference.split("\n## API keys\n", 1)[1].split("\n### ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z:]+)` \|", section, re.MULTILINE))
    assert documented == set(SCOPES)


def service_account(client: Any, admin: dict[str, str], role: str = "editor") -> dict[str, Any]:
    r = client.post(
        "/admin/service-accounts",
        json={"username": f"erp-sync-{role}", "role": role},
        headers=admin,
    )
    assert r.status_code == 201, r.get_json()
    body: dict[str, Any] = r.get_json()
    return body


def test_an_admin_makes_a_service_account_and_its_keys(client: Any, admin: dict[str, str]) -> None:
    robot = service_account(client, admin)
    assert robot["kind"] == "service" and robot["role"] == "editor"
    listed = client.get("/admin/users", headers=admin).get_json()["items"]
    assert {u["kind"] for u in listed} == {"person", "service"}
    r = client.post(
        f"/admin/users/{robot['id']}/api-keys",
        json={"name": "erp", "scopes": ["products:write"]},
        headers=admin,
    )
    assert r.status_code == 201
    made = r.get_json()
    created = client.post("/api/products", json=product_body(), headers=bearer(made["key"]))
    assert created.status_code == 201
    keys = client.get(f"/admin/users/{robot['id']}/api-keys", headers=admin).get_json()["items"]
    assert [k["id"] for k in keys] == [made["id"]]
    log = client.get(f"/admin/events?user_id={robot['id']}", headers=admin).get_json()["items"]
    assert log[0]["type"] == "api_key_created" and log[0]["actor_id"] is not None


def test_a_service_account_never_signs_in(client: Any, admin: dict[str, str]) -> None:
    robot = service_account(client, admin)
    for password in ("", "violet-harbour-lantern", "x" * 40):
        r = client.post("/auth/login", json={"username": robot["username"], "password": password})
        assert r.status_code in (401, 422)
    r = client.post(
        "/auth/login", json={"username": robot["username"], "password": "violet-harbour-lantern"}
    )
    assert_problem(r, 401)


@pytest.mark.parametrize("body", [{"role": "admin"}, {"role": "owner"}, {"username": "a b"}])
def test_a_service_account_is_never_an_admin_nor_badly_named(
    client: Any, admin: dict[str, str], body: dict[str, Any]
) -> None:
    r = client.post(
        "/admin/service-accounts",
        json={"username": "feed", "role": "viewer", **body},
        headers=admin,
    )
    assert_problem(r, 422)
    assert len(client.get("/admin/users", headers=admin).get_json()["items"]) == 1


def test_a_service_account_cannot_be_promoted_to_admin(client: Any, admin: dict[str, str]) -> None:
    robot = service_account(client, admin)
    r = client.patch(f"/admin/users/{robot['id']}", json={"role": "admin"}, headers=admin)
    assert_problem(r, 422)
    assert client.get(f"/admin/users/{robot['id']}", headers=admin).get_json()["role"] == "editor"


def test_admins_do_not_make_keys_for_people(
    client: Any, auth: AuthActions, admin: dict[str, str]
) -> None:
    person, _ = auth.sign_in()
    r = client.post(
        f"/admin/users/{person.id}/api-keys",
        json={"name": "nope", "scopes": ["products:read"]},
        headers=admin,
    )
    assert_problem(r, 403)
    assert client.get(f"/admin/users/{person.id}/api-keys", headers=admin).get_json() == {
        "items": []
    }


def test_an_admin_revokes_any_accounts_key(
    client: Any, auth: AuthActions, editor: tuple[Account, str], admin: dict[str, str]
) -> None:
    account, token = editor
    made = new_key(client, auth, account, bearer(token), ["products:read"]).get_json()
    r = client.delete(f"/admin/users/{account.id}/api-keys/{made['id']}", headers=admin)
    assert r.status_code == 204
    assert_problem(client.get("/api/products", headers=bearer(made["key"])), 401)
    items = client.get("/auth/events", headers=bearer(token)).get_json()["items"]
    assert items[0]["type"] == "api_key_revoked" and items[0]["actor_id"] is not None


def test_deleting_a_service_account_ends_its_keys(client: Any, admin: dict[str, str]) -> None:
    robot = service_account(client, admin, role="viewer")
    key = client.post(
        f"/admin/users/{robot['id']}/api-keys",
        json={"name": "feed", "scopes": ["products:read"]},
        headers=admin,
    ).get_json()["key"]
    assert client.get("/api/products", headers=bearer(key)).status_code == 200
    assert client.delete(f"/admin/service-accounts/{robot['id']}", headers=admin).status_code == 204
    assert_problem(client.get("/api/products", headers=bearer(key)), 401)
    assert_problem(client.get(f"/admin/users/{robot['id']}", headers=admin), 404)


def test_a_person_is_not_deleted_as_a_service_account(
    client: Any, auth: AuthActions, admin: dict[str, str]
) -> None:
    person, _ = auth.sign_in()
    assert_problem(client.delete(f"/admin/service-accounts/{person.id}", headers=admin), 404)
    assert client.get(f"/admin/users/{person.id}", headers=admin).status_code == 200


@pytest.mark.redis
def test_instances_sharing_redis_share_a_keys_budget(make_app: Callable[..., Any]) -> None:
    store = shared_redis()
    try:
        shared = {"redis_url": REDIS_URL, "api_key_rate_limit": "4/minute"}
        first, second = make_app(**shared), make_app(**shared)
        one, two = first.test_client(), second.test_client()
        key, _ = key_of(one, AuthActions(one), ["products:read"])
        other, _ = key_of(one, AuthActions(one), ["products:read"])
        for client in (one, two, one, two):
            assert client.get("/api/products", headers=bearer(key)).status_code == 200
        r = one.get("/api/products", headers=bearer(key))
        assert int(assert_problem(r, 429)["status"]) == 429 and int(r.headers["Retry-After"]) >= 1
        assert key[4:] not in r.get_data(as_text=True)
        assert_problem(two.get("/api/products", headers=bearer(key)), 429)
        # another key of the same account has a budget of its own
        assert two.get("/api/products", headers=bearer(other)).status_code == 200
        assert store.keys() and key[4:] not in str(store.keys())  # counted by the key's id
    finally:
        store.flushdb()
        store.close()


def test_product_history_records_the_key_a_change_was_made_with(
    client: Any, auth: AuthActions, editor: tuple[Account, str]
) -> None:
    account, token = editor
    made = new_key(client, auth, account, bearer(token), ["products:write"]).get_json()
    product = create_product(client, bearer(made["key"])).get_json()
    r = client.patch(
        f"/api/products/{product['id']}",
        json={"price": "2.50"},
        headers={**bearer(token), "If-Match": f'"{product["version"]}"'},
    )
    assert r.status_code == 200, r.get_json()
    history = client.get(f"/api/products/{product['id']}/history", headers=bearer(token))
    entries = history.get_json()["items"]
    assert [(e["user_id"], e["api_key_id"]) for e in entries] == [
        (account.id, made["id"]),
        (account.id, None),
    ]


def test_the_openapi_document_declares_keys_where_they_are_taken(client: Any) -> None:
    spec = client.get("/openapi.json").get_json()
    scheme = spec["components"]["securitySchemes"]["ApiKeyAuth"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    paths = spec["paths"]
    assert {"ApiKeyAuth": []} in paths["/api/products"]["get"]["security"]
    assert {"ApiKeyAuth": []} in paths["/auth/me"]["get"]["security"]
    for path, method in (("/admin/users", "get"), ("/auth/api-keys", "post")):
        assert {"ApiKeyAuth": []} not in paths[path][method]["security"]


def test_without_redis_a_key_has_its_budget_in_each_process(
    make_app: Callable[..., Any],
) -> None:
    client = make_app(api_key_rate_limit="3/minute").test_client()
    key, _ = key_of(client, AuthActions(client), ["products:read"])
    for _ in range(3):
        assert client.get("/api/products", headers=bearer(key)).status_code == 200
    r = client.get("/auth/me", headers=bearer(key))
    assert "API key" in assert_problem(r, 429)["detail"] and int(r.headers["Retry-After"]) >= 1


def test_an_idempotency_key_belongs_to_the_account_and_all_its_keys(
    client: Any, auth: AuthActions, editor: tuple[Account, str]
) -> None:
    account, token = editor
    key = new_key(client, auth, account, bearer(token), ["products:write"]).get_json()["key"]
    headers = {"Idempotency-Key": "nightly-42"}
    first = client.post("/api/products", json=product_body(), headers={**bearer(token), **headers})
    again = client.post("/api/products", json=product_body(), headers={**bearer(key), **headers})
    assert again.status_code == 201 and again.get_json() == first.get_json()
    listed = client.get("/api/products", headers=bearer(key)).get_json()["items"]
    assert len(listed) == 1


def test_accounts_and_history_from_before_keys_read_as_people_and_no_key(
    app: Any, client: Any, auth: AuthActions, admin: dict[str, str], database_url: str
) -> None:
    product = create_product(client, admin).get_json()
    app.extensions["db_engine"].dispose()  # no pooled connection holds a table open
    config = alembic_config(database_url)
    command.downgrade(config, "0009")
    try:
        command.upgrade(config, "head")
    finally:
        upgrade(database_url)
    users = client.get("/admin/users", headers=admin).get_json()["items"]
    assert [u["kind"] for u in users] == ["person"]
    history = client.get(f"/api/products/{product['id']}/history", headers=admin).get_json()
    assert history["items"][0]["api_key_id"] is None
