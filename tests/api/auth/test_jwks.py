"""/.well-known/jwks.json, and key rotation that signs nobody out."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
import pytest
from support import AuthActions, assert_problem, signed_with

from shopapi import create_app, signing
from shopapi.config import Settings

JWKS = "/.well-known/jwks.json"


@contextmanager
def serving(settings: Settings) -> Iterator[Any]:
    """A test client of an app with `settings` (an instance of the service, restarted with
    other keys, on the same database)."""
    app = create_app(settings)
    try:
        yield app.test_client()
    finally:
        app.extensions["db_engine"].dispose()


def _rfc7638(jwk: dict[str, str]) -> str:
    """The thumbprint, computed here from the published members alone."""
    required = json.dumps({k: jwk[k] for k in ("crv", "kty", "x")}, sort_keys=True)
    digest = hashlib.sha256(required.replace(" ", "").encode()).digest()
    return jwt.utils.base64url_encode(digest).decode()


def _kid(token: str) -> str | None:
    kid: str | None = jwt.get_unverified_header(token).get("kid")
    return kid


def _me(client: Any, token: str) -> Any:
    return client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})


def test_jwks_publishes_every_key_and_verifies_the_tokens(
    settings: Settings, key_files: tuple[str, str], auth: AuthActions
) -> None:
    eddsa = signed_with(settings, "EdDSA", *key_files)
    with serving(eddsa) as client:
        r = client.get(JWKS)
        assert r.status_code == 200
        assert r.mimetype == "application/json"
        keys = r.get_json()["keys"]
        assert [sorted(k) for k in keys] == [["alg", "crv", "kid", "kty", "use", "x"]] * 2
        assert {(k["kty"], k["crv"], k["use"], k["alg"]) for k in keys} == {
            ("OKP", "Ed25519", "sig", "EdDSA")
        }
        assert [k["kid"] for k in keys] == [_rfc7638(k) for k in keys]
        account, token = AuthActions(client).sign_in()
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
    assert _kid(token) == keys[0]["kid"]  # the first key file signs
    # What any other service does: the published key alone verifies the token.
    public = jwt.PyJWK(keys[0])
    claims = jwt.decode(token, public, algorithms=["EdDSA"], issuer="shopapi")
    assert claims["sub"] == str(account.id)
    for path in key_files:  # no private part of any key, under any name
        private = signing.load_private_key(path).private_bytes_raw()
        assert jwt.utils.base64url_encode(private).decode() not in r.get_data(as_text=True)


def test_jwks_may_be_cached_and_carries_an_etag(
    settings: Settings, key_files: tuple[str, str]
) -> None:
    with serving(signed_with(settings, "EdDSA", key_files[0])) as client:
        first = client.get(JWKS)
        cache_control = first.headers["Cache-Control"]
        assert "no-store" not in cache_control and "public" in cache_control
        max_age = int(cache_control.split("max-age=")[1].split(",")[0])
        assert max_age > 0
        etag = first.headers["ETag"]
        assert etag.startswith('"') and etag.endswith('"') and len(etag) > 2
        unchanged = client.get(JWKS, headers={"If-None-Match": etag})
        assert unchanged.status_code == 304 and unchanged.get_data() == b""
        assert unchanged.headers["ETag"] == etag
        assert unchanged.headers["Cache-Control"] == cache_control
        other = client.get(JWKS, headers={"If-None-Match": '"another"'})
        assert other.status_code == 200 and other.get_json() == first.get_json()
        # The one answer that may be cached: the others still say no-store.
        assert client.get("/healthz").headers["Cache-Control"] == "no-store"
        assert client.get("/auth/me").headers["Cache-Control"] == "no-store"
    with serving(signed_with(settings, "EdDSA", *key_files)) as client:
        assert client.get(JWKS).headers["ETag"] != etag  # another key set, another tag


def test_jwks_with_hs256_is_empty(client: Any, settings: Settings) -> None:
    r = client.get(JWKS)
    assert r.status_code == 200
    assert r.get_json() == {"keys": []}
    assert settings.jwt_secret_key not in r.get_data(as_text=True)
    assert "no-store" not in r.headers["Cache-Control"] and r.headers["ETag"]


def test_jwks_needs_no_token_and_is_documented(client: Any) -> None:
    spec = client.get("/openapi.json").get_json()
    operation = spec["paths"][JWKS]["get"]
    assert "security" not in operation
    assert set(operation["responses"]) >= {"200", "304"}


def test_rotation_signs_nobody_out(settings: Settings, key_files: tuple[str, str]) -> None:
    """A new key in front: tokens of the old key keep working until it is dropped; the
    sessions themselves carry on across the whole rotation."""
    old_file, new_file = key_files
    with serving(signed_with(settings, "EdDSA", old_file)) as before:
        auth = AuthActions(before)
        account, old_token = auth.sign_in()
        refresh = before.post(
            "/auth/verify",
            json={"mfa_token": auth.login(account), "otp": account.next_code()},
        ).get_json()["refresh_token"]
        old_kid = _kid(old_token)

    with serving(signed_with(settings, "EdDSA", new_file, old_file)) as during:
        assert _me(during, old_token).status_code == 200  # the old key still verifies
        published = [k["kid"] for k in during.get(JWKS).get_json()["keys"]]
        assert published[1] == old_kid and published[0] != old_kid
        renewed = during.post("/auth/refresh", json={"refresh_token": refresh})
        assert renewed.status_code == 200
        new_token = renewed.get_json()["access_token"]
        assert _kid(new_token) == published[0]  # the new key signs from now on
        _, fresh = AuthActions(during).sign_in()
        assert _kid(fresh) == published[0]

    with serving(signed_with(settings, "EdDSA", new_file)) as after:
        body = assert_problem(_me(after, old_token), 401)
        assert body["detail"] == "The access token is invalid."
        assert _me(after, new_token).status_code == 200
        assert _me(after, fresh).status_code == 200
        assert [k["kid"] for k in after.get(JWKS).get_json()["keys"]] == [published[0]]


@pytest.mark.parametrize(("issued_with", "checked_with"), [("HS256", "EdDSA"), ("EdDSA", "HS256")])
def test_a_token_of_the_other_algorithm_is_refused(
    settings: Settings, key_files: tuple[str, str], issued_with: str, checked_with: str
) -> None:
    """Switching algorithms: tokens of the one no longer configured stop working (same
    JWT_SECRET_KEY, same key files present, same database)."""
    files = key_files[:1]
    with serving(signed_with(settings, issued_with, *files[: issued_with == "EdDSA"])) as a:
        auth = AuthActions(a)
        account = auth.register()
        verified = a.post(
            "/auth/verify", json={"mfa_token": auth.login(account), "otp": account.next_code()}
        ).get_json()
        token = verified["access_token"]
        assert _me(a, token).status_code == 200
    with serving(signed_with(settings, checked_with, *files[: checked_with == "EdDSA"])) as b:
        assert_problem(_me(b, token), 401)
        # The session goes on: its refresh token gets a token signed the new way.
        renewed = b.post("/auth/refresh", json={"refresh_token": verified["refresh_token"]})
        assert renewed.status_code == 200
        fresh = renewed.get_json()["access_token"]
        assert jwt.get_unverified_header(fresh)["alg"] == checked_with
        assert _me(b, fresh).status_code == 200
