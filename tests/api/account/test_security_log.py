"""The security log: every event type the service records, with address and user agent,
never a secret; pages newest first for the owner and for admins."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import AuthActions, assert_problem, wrong_code

from shopapi.audit.events import TYPES

AGENT = {"User-Agent": "LogTest/1.0"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **AGENT}


def _events(client: Any, token: str, **query: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {**query, **({"cursor": cursor} if cursor else {})}
        body = client.get("/auth/events", query_string=params, headers=_bearer(token)).get_json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def test_every_event_type_is_recorded_and_none_holds_a_secret(
    client: Any, auth: AuthActions
) -> None:
    admin_account, admin_token = auth.sign_in()
    admin = _bearer(admin_token)
    account = auth.register()
    user_id = account.id
    secrets_seen = {account.password, *account.recovery_codes, account.secret}
    # signed_in (totp), then password_failed, code_failed, and a lockout
    _, token = auth.sign_in(account)
    wrong = {"username": account.username, "password": "not-the-password"}
    client.post("/auth/login", json=wrong, headers=AGENT)
    for _ in range(10):
        mfa = auth.login(account)
        client.post(
            "/auth/verify",
            json={"mfa_token": mfa, "otp": wrong_code(account.secret)},
            headers=AGENT,
        )
    client.post(f"/admin/users/{user_id}/unlock", headers=admin)
    # signed_in (recovery_code), signed_out
    mfa = auth.login(account)
    recovery = account.recovery_codes.pop()
    r = client.post("/auth/verify", json={"mfa_token": mfa, "recovery_code": recovery})
    second = r.get_json()
    secrets_seen |= {second["access_token"], second["refresh_token"], second["device_token"]}
    assert client.post("/auth/logout", headers=_bearer(second["access_token"])).status_code == 204
    # session_ended: revoked, reuse_detected
    _, third = auth.sign_in(account)
    sid = client.get("/auth/sessions", headers=_bearer(token)).get_json()["items"][0]["id"]
    client.delete(f"/auth/sessions/{sid}", headers=_bearer(token))
    mfa = auth.login(account)
    fourth = client.post(
        "/auth/verify", json={"mfa_token": mfa, "recovery_code": account.recovery_codes.pop()}
    ).get_json()
    client.post("/auth/refresh", json={"refresh_token": fourth["refresh_token"]})
    client.post("/auth/refresh", json={"refresh_token": fourth["refresh_token"]})
    # password_changed (and session_ended: password_changed), recovery_codes_replaced
    _, other = auth.sign_in(account)
    new_password = "another-long-passphrase-here"
    proof = {"password": account.password, "recovery_code": account.recovery_codes.pop()}
    client.post(
        "/auth/password", json={**proof, "new_password": new_password}, headers=_bearer(token)
    )
    account.password = new_password
    proof = {"password": new_password, "recovery_code": account.recovery_codes.pop()}
    codes = client.post("/auth/recovery-codes", json=proof, headers=_bearer(token)).get_json()
    account.recovery_codes = codes["recovery_codes"]
    # totp_replaced (and session_ended: totp_replaced)
    _, other = auth.sign_in(account)
    proof = {"password": new_password, "recovery_code": account.recovery_codes.pop()}
    started = client.post("/auth/totp", json=proof, headers=_bearer(token)).get_json()
    secrets_seen |= {started["enrollment_token"], started["totp"]["secret"]}
    confirm = {
        "enrollment_token": started["enrollment_token"],
        "otp": account.current_code(started["totp"]["secret"]),
    }
    assert (
        client.post("/auth/totp/confirm", json=confirm, headers=_bearer(token)).status_code == 204
    )
    # api_key_created, api_key_revoked
    proof = {"password": new_password, "recovery_code": account.recovery_codes.pop()}
    body = {**proof, "name": "feed", "scopes": ["products:read"]}
    made = client.post("/auth/api-keys", json=body, headers=_bearer(token)).get_json()
    secrets_seen.add(made["key"])
    client.delete(f"/auth/api-keys/{made['id']}", headers=_bearer(token))
    # role_changed, disabled (and session_ended: disabled), enabled, totp_reset
    client.patch(f"/admin/users/{user_id}", json={"role": "viewer"}, headers=admin)
    client.patch(f"/admin/users/{user_id}", json={"disabled": True}, headers=admin)
    client.patch(f"/admin/users/{user_id}", json={"disabled": False}, headers=admin)
    mfa = auth.login(account)
    client.post(
        "/auth/verify", json={"mfa_token": mfa, "recovery_code": account.recovery_codes.pop()}
    )
    client.post(f"/admin/users/{user_id}/reset-totp", headers=admin)

    events = [
        e
        for e in client.get(
            "/admin/events", query_string={"user_id": user_id, "limit": 200}, headers=admin
        ).get_json()["items"]
    ]
    types = {e["type"] for e in events}
    # Every declared type but the passkeys' (tests/api/passkeys/test_passkeys.py and
    # tests/e2e/test_passkeys.py record those with a software authenticator).
    assert types == {t for t in TYPES if not t.startswith("passkey_")}
    methods = {e["method"] for e in events if e["type"] == "signed_in"}
    assert methods == {"totp", "recovery_code"}
    reasons = {e["reason"] for e in events if e["type"] == "session_ended"}
    assert reasons == {
        "revoked",
        "reuse_detected",
        "password_changed",
        "totp_replaced",
        "disabled",
        "totp_reset",
    }
    (role_change,) = [e for e in events if e["type"] == "role_changed"]
    assert role_change["from"] == "editor" and role_change["to"] == "viewer"
    by_admin = {"role_changed", "disabled", "enabled", "unlocked", "totp_reset"}
    for event in events:
        assert (event.get("actor_id") == admin_account.id) == (
            event["type"] in by_admin
            or (event["type"] == "session_ended" and event["reason"] in {"disabled", "totp_reset"})
        ), event
        assert event["ip"] == "127.0.0.1" and event["user_id"] == user_id
    assert any(e["user_agent"] == "LogTest/1.0" for e in events)
    text = json.dumps(events)
    for secret in secrets_seen:
        assert secret not in text
    assert [e["id"] for e in events] == sorted((e["id"] for e in events), reverse=True)


def test_the_owner_pages_through_its_own_events_newest_first(
    client: Any, auth: AuthActions
) -> None:
    auth.register()
    account, token = auth.sign_in()
    for _ in range(3):
        auth.sign_in(account)
    items = _events(client, token, limit=2)
    assert [e["type"] for e in items] == ["signed_in"] * 4 + ["registered"]
    assert all("user_id" not in e for e in items)
    assert [e["id"] for e in items] == sorted((e["id"] for e in items), reverse=True)


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"cursor": "forged"},
        {"type": "exploded"},
        {"user_id": "x"},
        {"user_id": "0"},
        {"user_id": str(2**63)},
        {"user_id": "1" + "0" * 40},
    ],
)
@pytest.mark.sqlite_only
def test_bad_event_queries_are_422(client: Any, auth: AuthActions, query: dict[str, Any]) -> None:
    admin = auth.headers()
    assert_problem(client.get("/admin/events", query_string=query, headers=admin), 422)


def test_admins_filter_every_accounts_events_by_type(client: Any, auth: AuthActions) -> None:
    admin = auth.headers()
    for _ in range(2):
        auth.sign_in()
    r = client.get("/admin/events", query_string={"type": "registered"}, headers=admin)
    items = r.get_json()["items"]
    assert len(items) == 3 and {e["type"] for e in items} == {"registered"}
    assert len({e["user_id"] for e in items}) == 3


@pytest.mark.parametrize("user_id", ["1000000000", str(2**63 - 1)])
def test_admins_filter_by_any_id_the_service_can_hand_out(
    client: Any, auth: AuthActions, user_id: str
) -> None:
    """Ids reach 2**63 - 1: a ten-digit one or the largest is a filter, not a 422."""
    admin = auth.headers()
    r = client.get("/admin/events", query_string={"user_id": user_id}, headers=admin)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["items"] == []


def test_only_admins_read_every_accounts_events(client: Any, auth: AuthActions) -> None:
    auth.register()
    editor = auth.headers()
    assert_problem(client.get("/admin/events", headers=editor), 403)


def test_a_failure_for_an_unknown_username_is_in_no_accounts_log(
    client: Any, auth: AuthActions
) -> None:
    admin = auth.headers()
    before = client.get("/admin/events", headers=admin).get_json()["items"]
    r = client.post("/auth/login", json={"username": "nobody_at_all", "password": "whatever1"})
    assert r.status_code == 401
    after = client.get("/admin/events", headers=admin).get_json()["items"]
    assert after == before
