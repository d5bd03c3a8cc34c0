"""Passkeys (WebAuthn) as a second factor, through the API, with a software authenticator."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from support import Account, AuthActions, assert_problem, bearer, execute_sql, wrong_code
from support.webauthn_device import SoftPasskey, b64url

from shopapi.auth.passkeys import MAX_PASSKEYS, NO_OPTIONS, REFUSALS
from shopapi.db import utcnow

ORIGIN = "http://localhost:5000"  # the default WEBAUTHN_ORIGINS of the tests' settings


def _proof(account: Account) -> dict[str, str]:
    return {"password": account.password, "recovery_code": account.recovery_codes.pop()}


def _creation_options(client: Any, account: Account, token: str) -> dict[str, Any]:
    r = client.post("/auth/passkeys/options", json=_proof(account), headers=bearer(token))
    assert r.status_code == 200, r.get_json()
    body: dict[str, Any] = r.get_json()
    return body


def _add(
    client: Any, account: Account, token: str, name: str = "Blue key", origin: str = ORIGIN
) -> tuple[SoftPasskey, int]:
    device = SoftPasskey(origin)
    credential = device.create(_creation_options(client, account, token))
    r = client.post(
        "/auth/passkeys", json={"name": name, "credential": credential}, headers=bearer(token)
    )
    assert r.status_code == 201, r.get_json()
    return device, int(r.get_json()["id"])


def _login(client: Any, account: Account) -> dict[str, Any]:
    r = client.post(
        "/auth/login", json={"username": account.username, "password": account.password}
    )
    assert r.status_code == 200, r.get_json()
    body: dict[str, Any] = r.get_json()
    return body


def _request_options(client: Any, mfa_token: str) -> dict[str, Any]:
    r = client.post("/auth/verify/passkey-options", json={"mfa_token": mfa_token})
    assert r.status_code == 200, r.get_json()
    body: dict[str, Any] = r.get_json()
    return body


def _verify(client: Any, mfa_token: str, assertion: dict[str, Any]) -> Any:
    return client.post("/auth/verify", json={"mfa_token": mfa_token, "passkey": assertion})


def _events(client: Any, token: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get("/auth/events", headers=bearer(token)).get_json()[
        "items"
    ]
    return items


@pytest.fixture
def signed_in(auth: AuthActions) -> tuple[Account, str]:
    return auth.sign_in()


def test_a_passkey_signs_in_and_the_log_says_so(
    client: Any, signed_in: tuple[Account, str]
) -> None:
    account, token = signed_in
    assert _login(client, account)["methods"] == ["totp", "recovery_code"]
    device, passkey_id = _add(client, account, token)
    login = _login(client, account)
    assert login["methods"] == ["totp", "recovery_code", "passkey"]
    options = _request_options(client, login["mfa_token"])
    assert [c["id"] for c in options["allowCredentials"]] == [device.id]
    r = _verify(client, login["mfa_token"], device.get(options))
    assert r.status_code == 200, r.get_json()
    new_token = r.get_json()["access_token"]
    assert client.get("/auth/me", headers=bearer(new_token)).get_json()["id"] == account.id
    (item,) = client.get("/auth/passkeys", headers=bearer(new_token)).get_json()["items"]
    assert item["id"] == passkey_id and item["name"] == "Blue key"
    assert item["last_used_at"] is not None
    events = _events(client, new_token)
    assert events[0]["type"] == "signed_in" and events[0]["method"] == "passkey"
    added = next(e for e in events if e["type"] == "passkey_added")
    assert added["passkey_id"] == passkey_id and added["name"] == "Blue key"


def test_passkeys_are_listed_renamed_and_removed_with_a_proof(
    client: Any, signed_in: tuple[Account, str]
) -> None:
    account, token = signed_in
    assert client.get("/auth/passkeys", headers=bearer(token)).get_json() == {"items": []}
    device, first = _add(client, account, token, "Laptop")
    _, second = _add(client, account, token, "Phone")
    names = [
        p["name"] for p in client.get("/auth/passkeys", headers=bearer(token)).get_json()["items"]
    ]
    assert names == ["Laptop", "Phone"]
    r = client.patch(f"/auth/passkeys/{first}", json={"name": "Old laptop"}, headers=bearer(token))
    assert r.status_code == 200 and r.get_json()["name"] == "Old laptop"
    wrong = {"password": account.password, "otp": wrong_code(account.secret)}
    assert_problem(client.delete(f"/auth/passkeys/{first}", json=wrong, headers=bearer(token)), 403)
    r = client.delete(f"/auth/passkeys/{first}", json=_proof(account), headers=bearer(token))
    assert r.status_code == 204
    items = client.get("/auth/passkeys", headers=bearer(token)).get_json()["items"]
    assert [p["id"] for p in items] == [second]
    # The removed passkey no longer signs in, even over the options of the one left.
    login = _login(client, account)
    options = _request_options(client, login["mfa_token"])
    options["allowCredentials"].append({"id": device.id, "type": "public-key"})
    assert_problem(_verify(client, login["mfa_token"], device.get(options)), 401)
    removed = next(e for e in _events(client, token) if e["type"] == "passkey_removed")
    assert removed["passkey_id"] == first and removed["name"] == "Old laptop"


def test_another_accounts_passkey_is_404_and_untouched(client: Any, auth: AuthActions) -> None:
    owner, owner_token = auth.sign_in()
    _, passkey_id = _add(client, owner, owner_token)
    other, other_token = auth.sign_in()
    r = client.delete(
        f"/auth/passkeys/{passkey_id}", json=_proof(other), headers=bearer(other_token)
    )
    assert_problem(r, 404)
    r = client.patch(
        f"/auth/passkeys/{passkey_id}", json={"name": "mine"}, headers=bearer(other_token)
    )
    assert_problem(r, 404)
    items = client.get("/auth/passkeys", headers=bearer(owner_token)).get_json()["items"]
    assert [(p["id"], p["name"]) for p in items] == [(passkey_id, "Blue key")]


def test_creation_options_need_a_right_proof(client: Any, signed_in: tuple[Account, str]) -> None:
    account, token = signed_in
    r = client.post(
        "/auth/passkeys/options", json={"password": account.password}, headers=bearer(token)
    )
    assert_problem(r, 422)
    bad = {"password": account.password + "x", "recovery_code": account.recovery_codes[0]}
    assert_problem(client.post("/auth/passkeys/options", json=bad, headers=bearer(token)), 403)
    assert_problem(client.post("/auth/passkeys/options", json=_proof(account)), 401)


def _answer(client: Any, token: str, credential: dict[str, Any], name: str = "k") -> Any:
    return client.post(
        "/auth/passkeys", json={"name": name, "credential": credential}, headers=bearer(token)
    )


def _refusal(response: Any) -> str:
    """The one reason of a refused credential, which is always one of the service's own."""
    body = assert_problem(response, 422)
    (why,) = body["errors"]["credential"]
    assert why in REFUSALS, why
    return str(why)


@pytest.mark.parametrize("change", [{"origin": "http://evil.example"}, {"rp_id": "evil.example"}])
def test_a_credential_for_another_site_is_422_in_our_words_and_spends_its_options(
    client: Any, signed_in: tuple[Account, str], change: dict[str, str]
) -> None:
    account, token = signed_in
    options = _creation_options(client, account, token)
    r = _answer(client, token, SoftPasskey(ORIGIN).create(options, **change))
    assert _refusal(r) != NO_OPTIONS
    assert "evil" not in r.get_data(as_text=True)  # nothing of the credential echoed
    # Refused, the options are spent all the same: not even a right credential uses them.
    assert _refusal(_answer(client, token, SoftPasskey(ORIGIN).create(options))) == NO_OPTIONS
    assert client.get("/auth/passkeys", headers=bearer(token)).get_json() == {"items": []}


def _deep(credential: dict[str, Any]) -> None:
    credential["response"]["clientDataJSON"] = b64url(b"[" * 6000)


def _not_json(credential: dict[str, Any]) -> None:
    credential["response"]["clientDataJSON"] = b64url(b"not json")


def _no_attestation(credential: dict[str, Any]) -> None:
    credential["response"]["attestationObject"] = b64url(b"\xa0")


def _other_raw_id(credential: dict[str, Any]) -> None:
    credential["rawId"] = b64url(b"another id")


def _empty_client_data(credential: dict[str, Any]) -> None:
    credential["response"]["clientDataJSON"] = ""


@pytest.mark.parametrize(
    "spoil", [_deep, _not_json, _no_attestation, _other_raw_id, _empty_client_data]
)
def test_a_malformed_credential_is_422_and_spends_its_options(
    client: Any, signed_in: tuple[Account, str], spoil: Any
) -> None:
    account, token = signed_in
    options = _creation_options(client, account, token)
    credential = SoftPasskey(ORIGIN).create(options)
    spoil(credential)
    assert _refusal(_answer(client, token, credential)) != NO_OPTIONS
    assert _refusal(_answer(client, token, SoftPasskey(ORIGIN).create(options))) == NO_OPTIONS
    assert client.get("/auth/passkeys", headers=bearer(token)).get_json() == {"items": []}


def test_a_credential_without_pending_options_is_422_unread(
    client: Any, signed_in: tuple[Account, str]
) -> None:
    _, token = signed_in
    made_up = {
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        "rp": {"id": "localhost"},
        "challenge": b64url(b"made up"),
    }
    credential = SoftPasskey(ORIGIN).create(made_up)
    _deep(credential)  # json.loads would give up on it, were it read
    assert _refusal(_answer(client, token, credential)) == NO_OPTIONS
    assert client.get("/auth/passkeys", headers=bearer(token)).get_json() == {"items": []}


def test_only_the_latest_options_count_and_any_answer_spends_them(
    client: Any, signed_in: tuple[Account, str]
) -> None:
    account, token = signed_in
    first = _creation_options(client, account, token)
    latest = _creation_options(client, account, token)
    assert _refusal(_answer(client, token, SoftPasskey(ORIGIN).create(first))) != NO_OPTIONS
    assert _refusal(_answer(client, token, SoftPasskey(ORIGIN).create(latest))) == NO_OPTIONS


def test_a_creation_challenge_is_single_use_and_expires(
    client: Any, app: Any, signed_in: tuple[Account, str]
) -> None:
    account, token = signed_in
    options = _creation_options(client, account, token)
    first = SoftPasskey(ORIGIN).create(options)
    r = client.post(
        "/auth/passkeys", json={"name": "a", "credential": first}, headers=bearer(token)
    )
    assert r.status_code == 201
    again = SoftPasskey(ORIGIN).create(options)
    assert _refusal(_answer(client, token, again, "b")) == NO_OPTIONS
    late = _creation_options(client, account, token)
    execute_sql(
        app, "UPDATE passkey_registrations SET expires_at = :t", t=utcnow() - timedelta(seconds=1)
    )
    r = client.post(
        "/auth/passkeys",
        json={"name": "c", "credential": SoftPasskey(ORIGIN).create(late)},
        headers=bearer(token),
    )
    assert_problem(r, 422)


def test_another_accounts_creation_challenge_is_refused(client: Any, auth: AuthActions) -> None:
    alice, alice_token = auth.sign_in()
    bob, bob_token = auth.sign_in()
    credential = SoftPasskey(ORIGIN).create(_creation_options(client, alice, alice_token))
    r = client.post(
        "/auth/passkeys", json={"name": "k", "credential": credential}, headers=bearer(bob_token)
    )
    assert_problem(r, 422)


def test_a_passkey_registered_twice_is_409(client: Any, auth: AuthActions) -> None:
    alice, alice_token = auth.sign_in()
    device, _ = _add(client, alice, alice_token)
    bob, bob_token = auth.sign_in()
    for account, token in ((alice, alice_token), (bob, bob_token)):
        credential = device.create(_creation_options(client, account, token))
        r = client.post(
            "/auth/passkeys", json={"name": "k", "credential": credential}, headers=bearer(token)
        )
        assert_problem(r, 409)


@pytest.mark.parametrize(
    "body",
    [
        {"passkey": "not an object"},
        {"passkey": {"id": "abc", "rawId": "abc", "type": "public-key"}},
        {"passkey": {"id": "a+b", "rawId": "a+b", "type": "public-key", "response": {}}},
        {"passkey": {}, "otp": "123456"},
    ],
)
@pytest.mark.sqlite_only
def test_a_malformed_passkey_is_422(client: Any, auth: AuthActions, body: dict[str, Any]) -> None:
    account = auth.register()
    r = client.post("/auth/verify", json={"mfa_token": auth.login(account), **body})
    assert_problem(r, 422)


def test_passkey_options_need_a_live_mfa_token_and_a_passkey(
    client: Any, signed_in: tuple[Account, str]
) -> None:
    account, token = signed_in
    assert_problem(client.post("/auth/verify/passkey-options", json={"mfa_token": "nope"}), 401)
    login = _login(client, account)
    r = client.post("/auth/verify/passkey-options", json={"mfa_token": login["mfa_token"]})
    assert_problem(r, 409)


def test_the_sign_in_challenge_is_bound_to_its_mfa_token(
    client: Any, signed_in: tuple[Account, str]
) -> None:
    account, token = signed_in
    device, _ = _add(client, account, token)
    first, second = _login(client, account), _login(client, account)
    assertion = device.get(_request_options(client, first["mfa_token"]))
    assert_problem(_verify(client, second["mfa_token"], assertion), 401)
    # Only the latest options of a token count.
    old = device.get(_request_options(client, first["mfa_token"]))
    _request_options(client, first["mfa_token"])
    assert_problem(_verify(client, first["mfa_token"], old), 401)


def test_the_sign_in_challenge_expires_with_the_mfa_token(
    client: Any, app: Any, signed_in: tuple[Account, str]
) -> None:
    account, token = signed_in
    device, _ = _add(client, account, token)
    login = _login(client, account)
    assertion = device.get(_request_options(client, login["mfa_token"]))
    execute_sql(app, "UPDATE mfa_challenges SET expires_at = :t", t=utcnow() - timedelta(seconds=1))
    body = assert_problem(_verify(client, login["mfa_token"], assertion), 401)
    assert "mfa_token" in body["detail"]


def test_a_tampered_assertion_is_a_wrong_code(client: Any, signed_in: tuple[Account, str]) -> None:
    account, token = signed_in
    device, _ = _add(client, account, token)
    login = _login(client, account)
    assertion = device.get(_request_options(client, login["mfa_token"]))
    assertion["response"]["signature"] = b64url(b"\x30\x06\x02\x01\x01\x02\x01\x01")
    body = assert_problem(_verify(client, login["mfa_token"], assertion), 401)
    assert body["detail"] == "The code is wrong or has already been used."
    assert _events(client, token)[0]["type"] == "code_failed"


def _fill_up(app: Any, account: Account, count: int) -> None:
    """Passkeys the account made elsewhere, written straight to the database."""
    for n in range(count):
        execute_sql(
            app,
            "INSERT INTO passkeys (user_id, name, credential_id, public_key, sign_count,"
            " transports, created_at) VALUES (:u, :n, :c, :k, 0, '', :t)",
            u=account.id,
            n=f"Spare {n}",
            c=os.urandom(16),
            k=b"not a key",
            t=utcnow(),
        )


def test_an_account_has_at_most_ten_passkeys(
    client: Any, app: Any, signed_in: tuple[Account, str]
) -> None:
    account, token = signed_in
    _, first = _add(client, account, token)
    _fill_up(app, account, MAX_PASSKEYS - 1)
    codes_left = list(account.recovery_codes)
    r = client.post("/auth/passkeys/options", json=_proof(account), headers=bearer(token))
    assert str(MAX_PASSKEYS) in assert_problem(r, 409)["detail"]
    account.recovery_codes = codes_left  # refused before the proof was judged: still unused
    r = client.delete(f"/auth/passkeys/{first}", json=_proof(account), headers=bearer(token))
    assert r.status_code == 204
    options = _creation_options(client, account, token)
    _fill_up(app, account, 1)  # one more, made meanwhile
    assert_problem(_answer(client, token, SoftPasskey(ORIGIN).create(options)), 409)
    items = client.get("/auth/passkeys", headers=bearer(token)).get_json()["items"]
    assert len(items) == MAX_PASSKEYS and first not in [p["id"] for p in items]


def test_a_user_handle_of_another_account_is_a_wrong_code(client: Any, auth: AuthActions) -> None:
    other, _ = auth.sign_in()
    account, token = auth.sign_in()
    device, _ = _add(client, account, token)
    login = _login(client, account)
    assertion = device.get(_request_options(client, login["mfa_token"]))
    assertion["response"]["userHandle"] = b64url(str(other.id).encode())
    body = assert_problem(_verify(client, login["mfa_token"], assertion), 401)
    assert body["detail"] == "The code is wrong or has already been used."
    assert _events(client, token)[0]["type"] == "code_failed"
    # Its own handle, sent by an authenticator that keeps it, signs in.
    login = _login(client, account)
    assertion = device.get(_request_options(client, login["mfa_token"]))
    assertion["response"]["userHandle"] = b64url(str(account.id).encode())
    assert _verify(client, login["mfa_token"], assertion).status_code == 200


def _me(client: Any, headers: dict[str, str]) -> int:
    return int(client.get("/auth/me", headers=headers).get_json()["id"])


def _removals(client: Any, admin: dict[str, str], user_id: int) -> list[dict[str, Any]]:
    query = {"user_id": user_id, "type": "passkey_removed"}
    items: list[dict[str, Any]] = client.get(
        "/admin/events", query_string=query, headers=admin
    ).get_json()["items"]
    return items


def test_admins_list_and_remove_a_users_passkeys(
    client: Any, auth: AuthActions, admin: dict[str, str]
) -> None:
    alice, alice_token = auth.sign_in()
    device, laptop = _add(client, alice, alice_token, "Laptop")
    _, phone = _add(client, alice, alice_token, "Phone")
    bob, bob_token = auth.sign_in()
    _, bobs = _add(client, bob, bob_token)
    r = client.get(f"/admin/users/{alice.id}/passkeys", headers=admin)
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert [(p["id"], p["name"]) for p in items] == [(laptop, "Laptop"), (phone, "Phone")]
    assert all(set(p) == {"id", "name", "created_at", "last_used_at"} for p in items)
    assert_problem(client.delete(f"/admin/users/{alice.id}/passkeys/{bobs}", headers=admin), 404)
    assert_problem(client.get("/admin/users/999999/passkeys", headers=admin), 404)
    assert_problem(client.delete(f"/admin/users/999999/passkeys/{bobs}", headers=admin), 404)
    assert [
        p["id"] for p in client.get("/auth/passkeys", headers=bearer(bob_token)).get_json()["items"]
    ] == [bobs]
    r = client.delete(f"/admin/users/{alice.id}/passkeys/{laptop}", headers=admin)
    assert r.status_code == 204
    assert_problem(client.delete(f"/admin/users/{alice.id}/passkeys/{laptop}", headers=admin), 404)
    left = client.get(f"/admin/users/{alice.id}/passkeys", headers=admin).get_json()["items"]
    assert [p["id"] for p in left] == [phone]
    (removed,) = _removals(client, admin, alice.id)
    assert removed["actor_id"] == _me(client, admin)
    assert removed["passkey_id"] == laptop and removed["name"] == "Laptop"
    mine = next(e for e in _events(client, alice_token) if e["type"] == "passkey_removed")
    assert mine["passkey_id"] == laptop
    # The removed passkey no longer signs in.
    login = _login(client, alice)
    options = _request_options(client, login["mfa_token"])
    options["allowCredentials"].append({"id": device.id, "type": "public-key"})
    assert_problem(_verify(client, login["mfa_token"], device.get(options)), 401)


def test_only_admins_see_or_remove_a_users_passkeys(
    client: Any, auth: AuthActions, admin: dict[str, str]
) -> None:
    account, token = auth.sign_in()
    _, passkey_id = _add(client, account, token)
    own = bearer(token)  # the account itself, without the admin role
    r = client.get(f"/admin/users/{account.id}/passkeys", headers=own)
    assert assert_problem(r, 403)["detail"].startswith("This needs the admin role")
    r = client.delete(f"/admin/users/{account.id}/passkeys/{passkey_id}", headers=own)
    assert assert_problem(r, 403)["detail"].startswith("This needs the admin role")
    items = client.get(f"/admin/users/{account.id}/passkeys", headers=admin).get_json()["items"]
    assert [p["id"] for p in items] == [passkey_id]


def test_reset_totp_leaves_no_passkey_and_no_replacement_under_way(
    client: Any, auth: AuthActions, admin: dict[str, str]
) -> None:
    account, token = auth.sign_in()
    device, passkey_id = _add(client, account, token)
    r = client.post("/auth/totp", json=_proof(account), headers=bearer(token))
    assert r.status_code == 200, r.get_json()
    started = r.get_json()
    assert client.post(f"/admin/users/{account.id}/reset-totp", headers=admin).status_code == 204

    login = _login(client, account)
    assert login["methods"] == ["totp", "recovery_code"]
    r = client.post("/auth/verify/passkey-options", json={"mfa_token": login["mfa_token"]})
    assert_problem(r, 409)
    made_up = {
        "allowCredentials": [{"id": device.id}],
        "rpId": device.rp_id,
        "challenge": b64url(b"made up"),
    }
    assert_problem(_verify(client, login["mfa_token"], device.get(made_up)), 401)
    account.secret, account.used_steps = login["enrollment"]["secret"], set()
    new_token = auth.verify(account, login["mfa_token"])

    # The replacement started before the reset cannot take the new authenticator's place.
    old_start = {
        "enrollment_token": started["enrollment_token"],
        "otp": pyotp.TOTP(started["totp"]["secret"]).now(),
    }
    assert_problem(
        client.post("/auth/totp/confirm", json=old_start, headers=bearer(new_token)), 403
    )
    auth.sign_in(account)  # the new authenticator still signs in

    assert client.get("/auth/passkeys", headers=bearer(new_token)).get_json() == {"items": []}
    (removed,) = _removals(client, admin, account.id)
    assert removed["actor_id"] == _me(client, admin) and removed["passkey_id"] == passkey_id
