"""Account care: every operation needs a fresh proof, judged whole, used up once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from support import (
    PASSWORD,
    Account,
    AuthActions,
    assert_problem,
    bearer,
    create_product,
    execute_sql,
    wrong_code,
)

from shopapi.db import utcnow

WRONG = "The password or the code is wrong."


def _proof(account: Account, **changes: Any) -> dict[str, Any]:
    """A right proof: the password and one of the account's unused recovery codes (a TOTP
    code would move the clock on to the next 30 s step after each use)."""
    return {"password": account.password, "recovery_code": account.recovery_codes.pop(), **changes}


def _can_log_in(client: Any, username: str, password: str) -> bool:
    r = client.post("/auth/login", json={"username": username, "password": password})
    return r.status_code == 200


def test_a_password_change_ends_every_other_session(client: Any, auth: AuthActions) -> None:
    account, other = auth.sign_in()
    _, current = auth.sign_in(account)
    new = "a-brand-new-long-passphrase"
    r = client.post(
        "/auth/password", json={**_proof(account), "new_password": new}, headers=bearer(current)
    )
    assert r.status_code == 204
    assert not _can_log_in(client, account.username, account.password)
    assert _can_log_in(client, account.username, new)
    assert client.get("/auth/me", headers=bearer(current)).status_code == 200
    assert_problem(client.get("/auth/me", headers=bearer(other)), 401)


@pytest.mark.parametrize("new_password", ["password", "short", "my-{username}-secret"])
def test_a_weak_new_password_is_422_and_uses_nothing_up(
    client: Any, auth: AuthActions, new_password: str
) -> None:
    account, token = auth.sign_in()
    proof = {"password": account.password, "recovery_code": account.recovery_codes[0]}
    body = {**proof, "new_password": new_password.format(username=account.username)}
    r = client.post("/auth/password", json=body, headers=bearer(token))
    assert list(assert_problem(r, 422)["errors"]) == ["new_password"]
    assert _can_log_in(client, account.username, account.password)
    # The recovery code was not used up: it still proves.
    r = client.post("/auth/recovery-codes", json=proof, headers=bearer(token))
    assert r.status_code == 200


@pytest.mark.parametrize(
    "proof",
    [
        {"password": PASSWORD},
        {"password": PASSWORD, "otp": "123456", "recovery_code": "abcd"},
        {"otp": "123456"},
        {"password": PASSWORD, "otp": "12345"},
        {"password": "", "otp": "123456"},
    ],
)
@pytest.mark.sqlite_only
def test_missing_or_doubled_proof_fields_are_422(
    client: Any, auth: AuthActions, proof: dict[str, Any]
) -> None:
    r = client.post("/auth/recovery-codes", json=proof, headers=auth.headers())
    assert_problem(r, 422)


def test_a_wrong_part_gets_one_403_and_uses_no_part_up(client: Any, auth: AuthActions) -> None:
    account, token = auth.sign_in()
    code = account.recovery_codes[0]
    bodies = [
        {"password": account.password + "x", "recovery_code": code},  # the code is right
        {"password": account.password, "recovery_code": "zzzz-zzzz-zzzz-zzzz"},
        {"password": account.password, "otp": wrong_code(account.secret)},
    ]
    answers = [client.post("/auth/recovery-codes", json=b, headers=bearer(token)) for b in bodies]
    details = [assert_problem(r, 403) for r in answers]
    assert all(d == details[0] for d in details) and details[0]["detail"] == WRONG
    right = client.post(
        "/auth/recovery-codes",
        json={"password": account.password, "recovery_code": code},
        headers=bearer(token),
    )
    assert right.status_code == 200  # the code survived the proof whose password was wrong
    again = client.post(
        "/auth/recovery-codes",
        json={"password": account.password, "recovery_code": code},
        headers=bearer(token),
    )
    assert_problem(again, 403)  # ... and a right proof used it up


def test_a_code_used_to_sign_in_does_not_prove_again(client: Any, auth: AuthActions) -> None:
    account = auth.register()
    mfa = auth.login(account)
    code = account.next_code()
    token = client.post("/auth/verify", json={"mfa_token": mfa, "otp": code}).get_json()[
        "access_token"
    ]
    r = client.post(
        "/auth/recovery-codes",
        json={"password": account.password, "otp": code},
        headers=bearer(token),
    )
    assert_problem(r, 403)


def test_wrong_proofs_count_toward_the_account_limits(client: Any, auth: AuthActions) -> None:
    account, token = auth.sign_in()
    body = {"password": "not-the-password", "otp": wrong_code(account.secret)}
    for _ in range(10):
        assert_problem(client.post("/auth/recovery-codes", json=body, headers=bearer(token)), 403)
    r = client.post("/auth/recovery-codes", json=_proof(account), headers=bearer(token))
    assert int(assert_problem(r, 429)["status"]) == 429 and int(r.headers["Retry-After"]) > 0
    right = {"username": account.username, "password": account.password}
    assert_problem(client.post("/auth/login", json=right), 429)


def test_new_recovery_codes_replace_every_old_one(client: Any, auth: AuthActions) -> None:
    account, token = auth.sign_in()
    r = client.post("/auth/recovery-codes", json=_proof(account), headers=bearer(token))
    codes = r.get_json()["recovery_codes"]
    assert len(codes) == 10 and not set(codes) & set(account.recovery_codes)
    for code, works in ((account.recovery_codes[1], False), (codes[0], True)):
        mfa = auth.login(account)
        v = client.post("/auth/verify", json={"mfa_token": mfa, "recovery_code": code})
        assert (v.status_code == 200) is works


def _start_replacement(client: Any, account: Account, token: str, **proof: Any) -> Any:
    r = client.post("/auth/totp", json=proof or _proof(account), headers=bearer(token))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_a_new_authenticator_replaces_the_old_once_confirmed(
    client: Any, auth: AuthActions
) -> None:
    account, other = auth.sign_in()
    _, token = auth.sign_in(account)
    started = _start_replacement(client, account, token)
    assert started["expires_in"] == 600 and set(started["totp"]) == {
        "secret",
        "otpauth_uri",
        "qr_code",
    }
    new_secret = started["totp"]["secret"]
    auth.sign_in(account)  # the old authenticator still works
    wrong = {"enrollment_token": started["enrollment_token"], "otp": wrong_code(new_secret)}
    assert_problem(client.post("/auth/totp/confirm", json=wrong, headers=bearer(token)), 403)
    right = {
        "enrollment_token": started["enrollment_token"],
        "otp": account.current_code(new_secret),
    }
    assert client.post("/auth/totp/confirm", json=right, headers=bearer(token)).status_code == 204
    assert_problem(client.post("/auth/totp/confirm", json=right, headers=bearer(token)), 403)
    assert_problem(client.get("/auth/me", headers=bearer(other)), 401)
    assert client.get("/auth/me", headers=bearer(token)).status_code == 200
    old = client.post(
        "/auth/verify",
        json={"mfa_token": auth.login(account), "otp": account.current_code()},
    )
    assert_problem(old, 401)
    # The confirming code's step was taken: the same code does not sign in.
    same = client.post("/auth/verify", json={"mfa_token": auth.login(account), "otp": right["otp"]})
    assert_problem(same, 401)
    account.replace_authenticator(new_secret)
    auth.sign_in(account)


def test_an_enrollment_token_dies_after_five_wrong_codes(client: Any, auth: AuthActions) -> None:
    account, token = auth.sign_in()
    started = _start_replacement(client, account, token)
    secret = started["totp"]["secret"]
    body = {"enrollment_token": started["enrollment_token"], "otp": wrong_code(secret)}
    for _ in range(5):
        assert_problem(client.post("/auth/totp/confirm", json=body, headers=bearer(token)), 403)
    body["otp"] = account.current_code(secret)
    assert_problem(client.post("/auth/totp/confirm", json=body, headers=bearer(token)), 403)


def test_a_foreign_or_expired_enrollment_token_is_403(
    app: Any, client: Any, auth: AuthActions
) -> None:
    account, token = auth.sign_in()
    stranger, stranger_token = auth.sign_in()
    started = _start_replacement(client, account, token)
    right = {
        "enrollment_token": started["enrollment_token"],
        "otp": account.current_code(started["totp"]["secret"]),
    }
    assert_problem(
        client.post("/auth/totp/confirm", json=right, headers=bearer(stranger_token)), 403
    )
    execute_sql(
        app, "UPDATE totp_enrollments SET expires_at = :t", t=utcnow() - timedelta(seconds=1)
    )
    assert_problem(client.post("/auth/totp/confirm", json=right, headers=bearer(token)), 403)


def test_the_lost_phone_path(client: Any, auth: AuthActions) -> None:
    """Password and a recovery code sign in; a new authenticator; new recovery codes."""
    account = auth.register()
    auth.sign_in(account)
    code = account.recovery_codes[0]
    mfa = auth.login(account)
    token = client.post("/auth/verify", json={"mfa_token": mfa, "recovery_code": code}).get_json()[
        "access_token"
    ]
    started = _start_replacement(
        client, account, token, password=account.password, recovery_code=account.recovery_codes[1]
    )
    new_secret = started["totp"]["secret"]
    confirm = {
        "enrollment_token": started["enrollment_token"],
        "otp": account.current_code(new_secret),
    }
    assert client.post("/auth/totp/confirm", json=confirm, headers=bearer(token)).status_code == 204
    account.replace_authenticator(new_secret)
    r = client.post("/auth/recovery-codes", json=_proof(account), headers=bearer(token))
    assert r.status_code == 200 and len(r.get_json()["recovery_codes"]) == 10
    auth.sign_in(account)


def test_deleting_the_account_frees_its_name_and_keeps_its_products(
    client: Any, auth: AuthActions
) -> None:
    admin = auth.headers()
    account, token = auth.sign_in()
    product = create_product(client, bearer(token)).get_json()
    r = client.delete("/auth/me", json=_proof(account), headers=bearer(token))
    assert r.status_code == 204
    assert_problem(client.get("/auth/me", headers=bearer(token)), 401)
    assert not _can_log_in(client, account.username, account.password)
    assert_problem(client.get(f"/admin/users/{account.id}", headers=admin), 404)
    history = client.get(f"/api/products/{product['id']}/history", headers=admin).get_json()
    assert history["items"][0]["user_id"] == account.id
    again = client.post("/auth/register", json={"username": account.username, "password": PASSWORD})
    assert again.status_code == 201 and again.get_json()["id"] > account.id


def test_the_highest_id_is_never_handed_out_again(client: Any, auth: AuthActions) -> None:
    auth.register()  # the admin
    account, token = auth.sign_in()
    assert client.delete("/auth/me", json=_proof(account), headers=bearer(token)).status_code == 204
    newcomer = auth.register()
    assert newcomer.id > account.id


def test_the_last_admin_cannot_delete_itself(client: Any, auth: AuthActions) -> None:
    admin, token = auth.sign_in()
    r = client.delete("/auth/me", json=_proof(admin), headers=bearer(token))
    assert "last enabled admin" in assert_problem(r, 409)["detail"]
    assert client.get("/auth/me", headers=bearer(token)).status_code == 200
