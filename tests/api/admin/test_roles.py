"""Roles: what each account may do, checked on every request, in the contract's order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from support import AuthActions, assert_problem, bearer, create_product, execute_sql, product_body

from shopapi.config import ConfigError, Settings


def _set_role(app: Any, user_id: int, role: str) -> None:
    execute_sql(app, "UPDATE users SET role = :r WHERE id = :id", r=role, id=user_id)


def test_the_first_account_is_admin_and_the_next_ones_get_the_new_user_role(
    client: Any, auth: AuthActions
) -> None:
    first, first_token = auth.sign_in()
    second, second_token = auth.sign_in()
    assert client.get("/auth/me", headers=bearer(first_token)).get_json()["role"] == "admin"
    assert client.get("/auth/me", headers=bearer(second_token)).get_json()["role"] == "editor"


def test_in_production_new_accounts_are_viewers_and_none_becomes_admin(
    make_app: Callable[..., Any],
) -> None:
    app = make_app(app_env="production", new_user_role="viewer")
    auth = AuthActions(app.test_client())
    for _ in range(2):
        account = auth.register()
        r = app.test_client().get("/auth/me", headers=auth.headers(account))
        assert r.get_json()["role"] == "viewer"


def test_new_user_role_defaults_by_environment(tmp_path: Any) -> None:
    base = {"INSTANCE_PATH": str(tmp_path)}
    assert Settings.from_env(base).new_user_role == "editor"
    assert Settings.from_env({**base, "NEW_USER_ROLE": "viewer"}).new_user_role == "viewer"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NEW_USER_ROLE": "owner"}, "NEW_USER_ROLE must be one of viewer, editor, admin"),
        ({"REGISTRATION": "maybe"}, "REGISTRATION must be one of open, invite, closed"),
    ],
)
def test_unknown_roles_and_modes_stop_start_up(
    tmp_path: Any, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"INSTANCE_PATH": str(tmp_path), **env})


@pytest.fixture
def viewer(app: Any, auth: AuthActions, admin: dict[str, str]) -> dict[str, str]:
    account, token = auth.sign_in()
    _set_role(app, account.id, "viewer")
    return bearer(token)


def test_a_viewer_reads_products_and_their_history(
    client: Any, admin: dict[str, str], viewer: dict[str, str]
) -> None:
    product = create_product(client, admin).get_json()
    assert client.get("/api/products", headers=viewer).status_code == 200
    assert client.get(f"/api/products/{product['id']}", headers=viewer).status_code == 200
    assert client.get(f"/api/products/{product['id']}/history", headers=viewer).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", "/api/products", {"json": product_body()}),
        ("post", "/api/products", {"json": {"name": ""}}),  # a bad body
        ("post", "/api/products", {"data": "name=x"}),  # a wrong content type
        ("post", "/api/products", {"data": "{", "content_type": "application/json"}),
        ("put", "/api/products/{id}", {"json": product_body()}),
        ("put", "/api/products/{id}", {"json": product_body(), "headers": {"If-Match": '"9"'}}),
        ("patch", "/api/products/{id}", {"json": {"quantity": 1}}),
        ("patch", "/api/products/{id}", {"json": {"quantity": -1}}),
        ("delete", "/api/products/{id}", {}),
        ("delete", "/api/products/{id}", {"headers": {"If-Match": '"9"'}}),
        ("delete", "/api/products/999999", {}),  # a missing product
        ("get", "/admin/users", {}),
        ("get", "/admin/users/1/passkeys", {}),
        ("delete", "/admin/users/1/passkeys/1", {}),
        ("post", "/admin/invites", {"json": {"role": "admin"}}),
        ("get", "/admin/invites", {}),
        ("delete", "/admin/invites/1", {}),
    ],
)
@pytest.mark.sqlite_only
def test_a_viewer_gets_403_naming_the_role_before_anything_else(
    client: Any,
    admin: dict[str, str],
    viewer: dict[str, str],
    method: str,
    path: str,
    kwargs: dict[str, Any],
) -> None:
    product = create_product(client, admin).get_json()
    headers = {**viewer, **kwargs.pop("headers", {})}
    r = getattr(client, method)(path.format(id=product["id"]), headers=headers, **kwargs)
    needed = "admin" if path.startswith("/admin") else "editor"
    assert assert_problem(r, 403)["detail"].startswith(f"This needs the {needed} role")
    after = client.get(f"/api/products/{product['id']}", headers=admin).get_json()
    assert after == product  # nothing changed


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
def test_me_says_what_the_role_may_do_and_the_service_agrees(
    app: Any, client: Any, auth: AuthActions, admin: dict[str, str], role: str
) -> None:
    account, token = auth.sign_in()
    _set_role(app, account.id, role)
    permissions = client.get("/auth/me", headers=bearer(token)).get_json()["permissions"]
    assert "products:read" in permissions
    writes = client.post("/api/products", json=product_body(), headers=bearer(token))
    assert writes.status_code == (201 if "products:write" in permissions else 403)
    administers = client.get("/admin/users", headers=bearer(token))
    assert administers.status_code == (200 if "admin" in permissions else 403)


def test_an_editor_may_not_administer(client: Any, auth: AuthActions, admin: Any) -> None:
    editor = auth.headers()
    assert assert_problem(client.get("/admin/users", headers=editor), 403)["detail"].startswith(
        "This needs the admin role"
    )
    create_product(client, editor)


def test_401_comes_before_403(client: Any, viewer: dict[str, str]) -> None:
    r = client.post("/api/products", json=product_body(), headers={"Authorization": "Bearer nope"})
    assert_problem(r, 401)


def test_a_role_change_applies_to_the_very_next_request(
    app: Any, client: Any, auth: AuthActions, admin: dict[str, str]
) -> None:
    account, token = auth.sign_in()
    create_product(client, bearer(token))
    r = client.patch(f"/admin/users/{account.id}", json={"role": "viewer"}, headers=admin)
    assert r.status_code == 200 and r.get_json()["role"] == "viewer"
    assert_problem(client.post("/api/products", json=product_body(), headers=bearer(token)), 403)
    client.patch(f"/admin/users/{account.id}", json={"role": "editor"}, headers=admin)
    create_product(client, bearer(token))


def test_a_disabled_account_loses_access_at_once(
    client: Any, auth: AuthActions, admin: dict[str, str]
) -> None:
    account, token = auth.sign_in()
    pending = auth.login(account)  # half way through another sign-in
    r = client.patch(f"/admin/users/{account.id}", json={"disabled": True}, headers=admin)
    assert r.status_code == 200 and r.get_json()["disabled"] is True
    body = assert_problem(client.get("/auth/me", headers=bearer(token)), 401)
    assert body["detail"] == "The account of this access token is disabled."
    assert_problem(client.get("/api/products", headers=bearer(token)), 401)
    right = {"username": account.username, "password": account.password}
    assert "disabled" in assert_problem(client.post("/auth/login", json=right), 403)["detail"]
    wrong = {**right, "password": account.password + "x"}
    assert_problem(client.post("/auth/login", json=wrong), 401)
    r = client.post("/auth/verify", json={"mfa_token": pending, "otp": account.next_code()})
    assert_problem(r, 401)
    client.patch(f"/admin/users/{account.id}", json={"disabled": False}, headers=admin)
    assert client.post("/auth/login", json=right).status_code == 200
    # Enabled again, it signs in again: its sessions from before stay ended.
    assert_problem(client.get("/auth/me", headers=bearer(token)), 401)


PROOF_OPERATIONS = {
    ("post", "/auth/password"),
    ("post", "/auth/recovery-codes"),
    ("post", "/auth/totp"),
    ("post", "/auth/totp/confirm"),
    ("delete", "/auth/me"),
    ("post", "/auth/passkeys/options"),
    ("delete", "/auth/passkeys/{passkey_id}"),
    ("post", "/auth/api-keys"),
}


def test_the_openapi_document_names_the_role_of_every_operation(client: Any) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    open_paths = {
        "/auth/register",
        "/auth/login",
        "/auth/verify",
        "/auth/refresh",
        "/auth/verify/passkey-options",
        "/metrics",
        "/healthz",
        "/readyz",
        "/.well-known/jwks.json",
    }
    expected = {
        ("post", "/api/products"): "editor",
        ("put", "/api/products/{product_id}"): "editor",
        ("patch", "/api/products/{product_id}"): "editor",
        ("delete", "/api/products/{product_id}"): "editor",
        ("get", "/api/products"): "viewer",
        ("get", "/api/products/{product_id}"): "viewer",
        ("get", "/api/products/{product_id}/history"): "viewer",
        ("get", "/auth/me"): "viewer",
        ("post", "/auth/logout"): "viewer",
        ("get", "/auth/sessions"): "viewer",
        ("get", "/auth/events"): "viewer",
        ("post", "/auth/password"): "viewer",
        ("post", "/auth/recovery-codes"): "viewer",
        ("post", "/auth/totp"): "viewer",
        ("post", "/auth/totp/confirm"): "viewer",
        ("delete", "/auth/me"): "viewer",
        ("get", "/admin/events"): "admin",
        ("delete", "/auth/sessions"): "viewer",
        ("delete", "/auth/sessions/{session_id}"): "viewer",
        ("get", "/admin/users"): "admin",
        ("get", "/admin/users/{user_id}"): "admin",
        ("patch", "/admin/users/{user_id}"): "admin",
        ("post", "/admin/users/{user_id}/unlock"): "admin",
        ("post", "/admin/users/{user_id}/reset-totp"): "admin",
        ("get", "/admin/users/{user_id}/passkeys"): "admin",
        ("delete", "/admin/users/{user_id}/passkeys/{passkey_id}"): "admin",
        ("post", "/admin/invites"): "admin",
        ("get", "/admin/invites"): "admin",
        ("delete", "/admin/invites/{invite_id}"): "admin",
        ("post", "/auth/passkeys/options"): "viewer",
        ("post", "/auth/passkeys"): "viewer",
        ("get", "/auth/passkeys"): "viewer",
        ("patch", "/auth/passkeys/{passkey_id}"): "viewer",
        ("delete", "/auth/passkeys/{passkey_id}"): "viewer",
        ("post", "/auth/api-keys"): "viewer",
        ("get", "/auth/api-keys"): "viewer",
        ("delete", "/auth/api-keys/{key_id}"): "viewer",
        ("post", "/admin/service-accounts"): "admin",
        ("delete", "/admin/service-accounts/{user_id}"): "admin",
        ("post", "/admin/users/{user_id}/api-keys"): "admin",
        ("get", "/admin/users/{user_id}/api-keys"): "admin",
        ("delete", "/admin/users/{user_id}/api-keys/{key_id}"): "admin",
        ("get", "/api/products/export.csv"): "viewer",
        ("post", "/api/products/import"): "editor",
        ("post", "/api/products/{product_id}/stock-movements"): "editor",
        ("get", "/api/products/{product_id}/stock-movements"): "viewer",
        ("post", "/api/reservations"): "editor",
        ("get", "/api/reservations"): "viewer",
        ("get", "/api/reservations/{reservation_id}"): "viewer",
        ("post", "/api/reservations/{reservation_id}/commit"): "editor",
        ("delete", "/api/reservations/{reservation_id}"): "editor",
        ("post", "/admin/webhooks"): "admin",
        ("get", "/admin/webhooks"): "admin",
        ("get", "/admin/webhooks/{endpoint_id}"): "admin",
        ("patch", "/admin/webhooks/{endpoint_id}"): "admin",
        ("delete", "/admin/webhooks/{endpoint_id}"): "admin",
        ("post", "/admin/webhooks/{endpoint_id}/rotate-secret"): "admin",
        ("get", "/admin/webhooks/{endpoint_id}/deliveries"): "admin",
        ("post", "/admin/webhooks/{endpoint_id}/deliveries/{delivery_id}/retry"): "admin",
    }
    seen = {}
    for path, operations in paths.items():
        for method, operation in operations.items():
            if path in open_paths or path.startswith(("/openapi", "/docs")):
                assert "x-required-role" not in operation
                continue
            role = operation["x-required-role"]
            seen[(method, path)] = role
            scope = operation.get("x-api-key-scope")  # what an API key needs here, if it may
            keys = [{"ApiKeyAuth": []}] if scope else []
            assert operation["security"] == [{"BearerAuth": []}, *keys]
            assert "401" in operation["responses"]
            proof = (method, path) in PROOF_OPERATIONS  # 403: a wrong password or code
            # 403 also for an API key without the operation's scope, or where keys never go
            refusable = role != "viewer" or proof or scope != "*"
            assert ("403" in operation["responses"]) == refusable, (method, path)
    assert seen == expected
