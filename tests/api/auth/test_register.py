"""Registration: input rules, the response a user enrols from, and what is stored."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from support import PASSWORD, AuthActions, assert_problem, user_row

from shopapi.config import Settings
from shopapi.security import normalise_recovery_code


def _register(client: Any, username: str, password: str = PASSWORD) -> Any:
    return client.post("/auth/register", json={"username": username, "password": password})


@pytest.mark.parametrize(
    "username", ["abc", "a" * 50, "Alice.Smith_99-x", "...", "A-B", "0123456789"]
)
def test_accepted_usernames(client: Any, username: str) -> None:
    r = _register(client, username)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["username"] == username


@pytest.mark.parametrize(
    "username",
    ["ab", "a" * 51, "al ice", "alice!", "élodie", "alice\n", "al@ice", "", "ａｌｉｃｅ"],
)
@pytest.mark.sqlite_only
def test_refused_usernames(client: Any, username: str) -> None:
    body = assert_problem(_register(client, username), 422)
    assert set(body["errors"]) == {"username"}


@pytest.mark.parametrize(
    "password",
    [
        "12345Ab!",  # exactly 8
        "x" * 256,  # exactly 256
        "🔑🔑🔑🔑🔑🔑🔑🔑",  # 8 emoji are 8 characters
        "éàüöñçøå",  # 8 accented letters
        "パスワードは秘密だ",
        "correct horse battery staple",
    ],
)
def test_accepted_passwords(client: Any, auth: AuthActions, password: str) -> None:
    account = auth.register(password=password)
    r = client.post("/auth/login", json={"username": account.username, "password": password})
    assert r.status_code == 200


@pytest.mark.parametrize("password", ["", "1234567", "🔑" * 7, "é" * 7, "x" * 257, "🔑" * 257])
@pytest.mark.sqlite_only
def test_passwords_of_the_wrong_length(client: Any, password: str) -> None:
    body = assert_problem(_register(client, "bob_len", password), 422)
    assert set(body["errors"]) == {"password"}


@pytest.mark.parametrize("password", ["password1", "iloveyou", "PASSWORD1", "qwertyuiop"])
@pytest.mark.sqlite_only
def test_common_passwords_are_refused_with_a_reason(client: Any, password: str) -> None:
    body = assert_problem(_register(client, "carol", password), 422)
    assert "common" in " ".join(body["errors"]["password"]).lower()


@pytest.mark.parametrize("password", ["dave-secret-9", "myDAVEpass", "xxDaVexx"])
def test_password_containing_the_username_is_refused(client: Any, password: str) -> None:
    body = assert_problem(_register(client, "Dave", password), 422)
    assert "username" in " ".join(body["errors"]["password"]).lower()


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"username", "password"}),
        ({"username": "ab", "password": "short"}, {"username", "password"}),
        ({"username": 5, "password": ["x"]}, {"username", "password"}),
        ({"username": None, "password": None}, {"username", "password"}),
        ({"username": "a", "password": "password1"}, {"username", "password"}),
        ({"password": "iloveyou"}, {"username", "password"}),
        ({"username": "erin", "password": PASSWORD, "id": 7}, {"id"}),
        ({"username": "erin", "password": "iloveyou", "id": 7}, {"id", "password"}),
        ({"username": "erin", "password": PASSWORD, "is_admin": True}, {"is_admin"}),
    ],
)
@pytest.mark.sqlite_only
def test_every_bad_field_is_named(client: Any, payload: dict[str, Any], fields: set[str]) -> None:
    body = assert_problem(client.post("/auth/register", json=payload), 422)
    assert set(body["errors"]) == fields


def test_usernames_are_unique_without_regard_to_case(client: Any) -> None:
    assert _register(client, "Alice").status_code == 201
    for other in ("alice", "ALICE", "aLiCe"):
        assert_problem(_register(client, other), 409)


def test_register_response_is_what_an_authenticator_needs(client: Any, settings: Settings) -> None:
    r = _register(client, "frank")
    assert r.status_code == 201
    body = r.get_json()
    assert set(body) == {"id", "username", "role", "totp", "recovery_codes"}
    assert isinstance(body["id"], int) and body["id"] > 0
    assert body["username"] == "frank"
    totp = body["totp"]
    assert set(totp) == {"secret", "otpauth_uri", "qr_code"}
    assert re.fullmatch(r"[A-Z2-7]{16,}=*", totp["secret"])
    uri = urlsplit(totp["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == f"/{settings.totp_issuer}:frank"
    query = parse_qs(uri.query)
    assert query["secret"] == [totp["secret"]]
    assert query["issuer"] == [settings.totp_issuer]
    prefix = "data:image/png;base64,"
    assert totp["qr_code"].startswith(prefix)
    png = base64.b64decode(totp["qr_code"][len(prefix) :], validate=True)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    codes = body["recovery_codes"]
    assert len(codes) == 10 == len(set(codes))
    assert all(isinstance(c, str) and len(normalise_recovery_code(c)) >= 16 for c in codes)


def test_secrets_are_not_stored_in_plain_text(client: Any, app: Any, settings: Settings) -> None:
    password = "a-long-passphrase-\u00e9\U0001f511"
    body = _register(client, "grace", password).get_json()
    row = user_row(app, "grace")
    assert row.password.startswith("$argon2id$")
    assert password not in row.password
    secret = body["totp"]["secret"]
    assert secret not in row.twofa_secret
    key = Fernet(settings.totp_encryption_keys[0].encode())
    assert key.decrypt(row.twofa_secret.encode()).decode() == secret
    with app.extensions["db_engine"].connect() as conn:
        stored = conn.execute(
            text("SELECT code_hash FROM recovery_codes WHERE user_id = :id"), {"id": body["id"]}
        ).scalars()
        hashes = set(stored)
    assert len(hashes) == 10
    for code in body["recovery_codes"]:
        assert code not in hashes and normalise_recovery_code(code) not in hashes
    expected = {
        hashlib.sha256(normalise_recovery_code(c).encode()).hexdigest()
        for c in body["recovery_codes"]
    }
    assert hashes == expected


LONE_SURROGATE = '"pass\\ud800word-long"'


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/register", f'{{"username": "surrogate", "password": {LONE_SURROGATE}}}'),
        ("/auth/login", f'{{"username": "surrogate", "password": {LONE_SURROGATE}}}'),
        ("/auth/verify", f'{{"mfa_token": {LONE_SURROGATE}, "otp": "123456"}}'),
        ("/auth/verify", f'{{"mfa_token": "x", "recovery_code": {LONE_SURROGATE}}}'),
    ],
)
@pytest.mark.sqlite_only
def test_a_lone_surrogate_is_refused_as_invalid_text(client: Any, path: str, body: str) -> None:
    """JSON escapes can carry half a UTF-16 pair; it is a 422, never a crash."""
    r = client.post(path, data=body, content_type="application/json")
    assert r.status_code == 422, r.get_json()
    errors = r.get_json()["errors"]
    assert any("Unicode" in message for messages in errors.values() for message in messages)
