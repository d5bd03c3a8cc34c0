"""Access tokens: every bad bearer token is a 401 with a Bearer challenge, never 422/500."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support import AuthActions, assert_problem, create_product, execute_sql, signed_with

from shopapi import signing
from shopapi.config import Settings


@pytest.fixture(params=[signing.HS256, signing.EDDSA])
def settings(request: pytest.FixtureRequest, settings: Settings, key_files: Any) -> Settings:
    """Every test here runs with each algorithm the service signs with."""
    if request.param == signing.HS256:
        return settings
    return signed_with(settings, signing.EDDSA, key_files[0])


def _signed(claims: dict[str, Any], keys: signing.SigningKeys, **header: Any) -> str:
    """`claims` signed as they are with the service's real signing key (jwt.encode itself
    refuses some of the odd types below)."""
    kid = {} if keys.kid is None else {"kid": keys.kid}
    return jwt.PyJWS().encode(
        json.dumps(claims).encode(),
        keys.signing_key,
        algorithm=keys.algorithm,
        headers={"typ": "JWT", **kid, **header},
    )


def _verified(token: str, settings: Settings) -> dict[str, Any]:
    """What any verifier holding the published key (or the secret, with HS256) reads."""
    key = settings.keys.verifying[jwt.get_unverified_header(token).get("kid")]
    claims: dict[str, Any] = jwt.decode(
        token, key, algorithms=[settings.jwt_algorithm], issuer="shopapi"
    )
    return claims


def _signed_in(auth: AuthActions) -> tuple[int, str]:
    """A signed-in account's id and its session's id (the `sid` of its real token)."""
    account, token = auth.sign_in()
    return account.id, jwt.decode(token, options={"verify_signature": False})["sid"]


def _claims(settings: Settings, user: tuple[int, str], **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    user_id, session_id = user
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "sid": session_id,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "0123456789abcdef0123456789abcdef",
        "type": "access",
        "iss": settings.jwt_issuer,
    }
    # ("now", seconds): a time relative to when the token is made, not to when the module
    # was imported (a long test run would otherwise see "not yet valid" become valid).
    claims.update(
        {k: now + v[1] if isinstance(v, tuple) and v[0] == "now" else v for k, v in changes.items()}
    )
    return {k: v for k, v in claims.items() if v is not None}


def _refused(
    client: Any, headers: dict[str, str], path: str = "/auth/me", method: str = "GET"
) -> dict[str, Any]:
    r = client.open(path, method=method, headers=headers)
    body = assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    return body


@pytest.mark.parametrize(
    "header",
    [None, "", "Token x", "Bearer", "Bearer ", "Bearer a b", "Basic dXNlcjpwYXNz", "garbage"],
)
@pytest.mark.sqlite_only
def test_missing_or_malformed_authorization_header(client: Any, header: str | None) -> None:
    _refused(client, {} if header is None else {"Authorization": header})


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.x", "é" * 10])
@pytest.mark.sqlite_only
def test_garbage_token(client: Any, token: str) -> None:
    _refused(client, {"Authorization": f"Bearer {token}"})


BAD_CLAIMS: list[tuple[str, dict[str, Any]]] = [
    ("expired", {"iat": ("now", -700), "exp": ("now", -100)}),
    ("not yet valid", {"nbf": ("now", 300)}),
    ("refresh type", {"type": "refresh"}),
    ("mfa type", {"type": "mfa"}),
    ("wrong issuer", {"iss": "another-service"}),
    ("integer sub", {"sub": 1}),
    ("non-numeric sub", {"sub": "alice"}),
    ("superscript sub", {"sub": "²"}),
    ("huge sub", {"sub": "9" * 30}),
    ("list jti", {"jti": ["x"]}),
    ("integer sid", {"sid": 1}),
    ("non-numeric sid", {"sid": "abc"}),
    *[
        (f"no {name}", {name: None})
        for name in ("sub", "sid", "iat", "nbf", "exp", "jti", "type", "iss")
    ],
]


@pytest.mark.parametrize("changes", [c for _, c in BAD_CLAIMS], ids=[n for n, _ in BAD_CLAIMS])
@pytest.mark.sqlite_only
def test_tokens_with_bad_claims(
    client: Any, auth: AuthActions, settings: Settings, changes: dict[str, Any]
) -> None:
    token = _signed(_claims(settings, _signed_in(auth), **changes), settings.keys)
    _refused(client, {"Authorization": f"Bearer {token}"})


def test_crafted_token_with_the_right_key_and_claims_is_accepted(
    client: Any, auth: AuthActions, settings: Settings
) -> None:
    """The control for the cases above: only the one change makes them fail."""
    user = _signed_in(auth)
    token = _signed(_claims(settings, user), settings.keys)
    r = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.get_json()["id"] == user[0]


@pytest.mark.parametrize(
    "algorithm", ["none", "HS512", "HS384", "wrong key", "the other algorithm", "unknown kid"]
)
@pytest.mark.sqlite_only
def test_tokens_signed_otherwise(
    client: Any,
    auth: AuthActions,
    settings: Settings,
    key_files: tuple[str, str],
    algorithm: str,
) -> None:
    claims = _claims(settings, _signed_in(auth))
    eddsa = settings.jwt_algorithm == signing.EDDSA
    secret = settings.jwt_secret_key
    if algorithm == "none":
        token = jwt.encode(claims, None, algorithm="none")
    elif algorithm == "wrong key" and eddsa:
        other = Ed25519PrivateKey.generate()  # a key of the attacker's, our key's kid
        token = _signed(claims, signing.eddsa([other]), kid=settings.keys.kid)
    elif algorithm == "wrong key":
        token = jwt.encode(claims, "x" * 20 + secret[20:], algorithm="HS256")
    elif algorithm == "the other algorithm" and eddsa:  # HS256 with the real secret
        token = jwt.encode(claims, secret, algorithm="HS256")
    elif algorithm == "the other algorithm":  # EdDSA with a real key file
        token = _signed(claims, signing.load(key_files[:1]))
    elif algorithm == "unknown kid":  # signed by a key the service does not publish
        token = _signed(claims, signing.load(key_files[1:]))
    else:
        token = jwt.encode(claims, secret, algorithm=algorithm)
    _refused(client, {"Authorization": f"Bearer {token}"})


ATTACKER = Ed25519PrivateKey.generate()
KEY_HEADERS: dict[str, Any] = {
    "embedded jwk": {
        **signing.public_jwk(ATTACKER.public_key()),
        "kid": signing.thumbprint(ATTACKER.public_key()),
    },
    "jku": "https://attacker.example/.well-known/jwks.json",
    "x5u": "https://attacker.example/signing.pem",
    "x5c": ["MIIBLjCB4aADAgECAhQ"],
}


@pytest.mark.parametrize("member", list(KEY_HEADERS))
@pytest.mark.parametrize("signer", ["an attacker's key", "the service's key"])
@pytest.mark.sqlite_only
def test_a_token_that_names_its_own_key_is_refused(
    client: Any, auth: AuthActions, settings: Settings, member: str, signer: str
) -> None:
    """The service never fetches or trusts a key that a token names (RFC 8725, 3.10): signed
    with the key its header points to, or even with the service's own key, it is 401."""
    claims = _claims(settings, _signed_in(auth))
    if signer == "the service's key":
        keys = settings.keys
    elif settings.jwt_algorithm == signing.EDDSA:
        keys = signing.eddsa([ATTACKER])
    else:
        keys = signing.hs256("an attacker's secret, of thirty-two bytes or more")
    token = _signed(claims, keys, **{member: KEY_HEADERS[member]})
    body = _refused(client, {"Authorization": f"Bearer {token}"})
    assert body["detail"] == "The access token is invalid."


def test_access_token_claims(client: Any, auth: AuthActions, settings: Settings) -> None:
    account, token = auth.sign_in()
    assert jwt.get_unverified_header(token)["alg"] == settings.jwt_algorithm
    claims = _verified(token, settings)
    assert claims["sub"] == str(account.id)
    assert claims["exp"] == claims["iat"] + 600
    assert claims["nbf"] <= claims["iat"] + 1
    assert claims["type"] == "access"
    assert claims["iss"] == settings.jwt_issuer
    assert isinstance(claims["jti"], str) and claims["jti"]


def test_each_sign_in_gets_its_own_token_id(auth: AuthActions, settings: Settings) -> None:
    account, first = auth.sign_in()
    _, second = auth.sign_in(account)

    def jti(token: str) -> str:
        return str(_verified(token, settings)["jti"])

    assert jti(first) != jti(second)


def test_token_in_the_query_string_is_not_accepted(client: Any, auth: AuthActions) -> None:
    _, token = auth.sign_in()
    _refused(client, {}, path=f"/auth/me?access_token={token}")


def test_mfa_token_is_not_an_access_token(client: Any, auth: AuthActions) -> None:
    mfa_token = auth.login(auth.register())
    _refused(client, {"Authorization": f"Bearer {mfa_token}"})


def test_logout_revokes_only_that_token(client: Any, auth: AuthActions) -> None:
    account, first = auth.sign_in()
    _, second = auth.sign_in(account)
    r = client.post("/auth/logout", headers={"Authorization": f"Bearer {first}"})
    assert r.status_code == 204
    _refused(client, {"Authorization": f"Bearer {first}"})
    _refused(client, {"Authorization": f"Bearer {first}"}, path="/auth/logout", method="POST")
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {second}"}).status_code == 200


def test_token_of_a_deleted_user(client: Any, auth: AuthActions, app: Any) -> None:
    account, token = auth.sign_in()
    execute_sql(app, "DELETE FROM users WHERE id = :id", id=account.id)
    _refused(client, {"Authorization": f"Bearer {token}"})


def test_me_shows_the_signed_in_user(client: Any, auth: AuthActions) -> None:
    account, token = auth.sign_in()
    r = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) == {"id", "username", "role", "created_at", "permissions"}
    assert body["id"] == account.id and body["username"] == account.username
    assert len(body["created_at"]) == 20 and body["created_at"].endswith("Z")


def test_logout_is_seen_by_every_instance(
    client: Any, auth: AuthActions, make_app: Callable[..., Any]
) -> None:
    _, token = auth.sign_in()
    other = make_app()
    headers = {"Authorization": f"Bearer {token}"}
    assert other.test_client().get("/auth/me", headers=headers).status_code == 200
    assert client.post("/auth/logout", headers=headers).status_code == 204
    _refused(other.test_client(), headers)


# Reads that check the account in the statement that reads their data, and requests that
# would fail for another reason first: the token's problem is what the client hears.
READS = [
    "/auth/me",
    "/api/products",
    "/api/products?limit=0",
    "/api/products?limit=abc",
    "/api/products?cursor=forged",
    "/api/products/{id}",
    "/api/products/999999999",
    "/api/products/9223372036854775807",  # the largest id there can be: none such
    "/api/products/{id}/history",
]


@pytest.mark.parametrize("path", READS)
@pytest.mark.parametrize("why", ["logged out", "account deleted"])
def test_reads_refuse_an_ended_session_or_a_deleted_account(
    client: Any, auth: AuthActions, app: Any, path: str, why: str
) -> None:
    account, token = auth.sign_in()
    headers = {"Authorization": f"Bearer {token}"}
    created = create_product(client, headers)
    path = path.format(id=created.get_json()["id"])
    if why == "logged out":
        assert client.post("/auth/logout", headers=headers).status_code == 204
    else:
        execute_sql(app, "DELETE FROM users WHERE id = :id", id=account.id)
    body = _refused(client, headers, path=path)
    assert body["detail"] == (
        "The session of this access token has ended; sign in again."
        if why == "logged out"
        else "The account of this access token no longer exists."
    )


def test_a_read_that_forgets_to_check_the_account_still_refuses_a_gone_account(
    app: Any, auth: AuthActions
) -> None:
    """A view that promises to check the account in its read but returns without reading
    is still checked before its answer leaves: a deleted account gets 401, never the data."""
    from apiflask import APIBlueprint

    from shopapi.caller import authenticated

    bp = APIBlueprint("careless", __name__)

    @bp.get("/careless")
    @authenticated(checked_in_read=True)
    def careless() -> Any:
        return {"secret": "data of any account"}

    app.register_blueprint(bp)
    account, token = auth.sign_in()
    headers = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/careless", headers=headers).get_json() == {
        "secret": "data of any account"
    }
    execute_sql(app, "DELETE FROM users WHERE id = :id", id=account.id)
    r = app.test_client().get("/careless", headers=headers)
    body = assert_problem(r, 401)
    assert "secret" not in r.get_data(as_text=True)
    assert body["detail"] == "The account of this access token no longer exists."


# Claims of the wrong JSON type or out of any sane range, in tokens signed with the real
# key: each is refused like any invalid token, wherever a token is taken, never a 500.
ODD_CLAIMS: list[tuple[str, dict[str, Any]]] = [
    ("exp numeric string", {"exp": "9999999999"}),
    ("exp beyond any date", {"exp": 10**20}),
    ("exp beyond 64 bits", {"exp": 2**64}),
    ("exp true", {"exp": True}),
    ("exp float", {"exp": float(int(time.time()) + 600)}),
    ("exp negative", {"iat": -600, "nbf": -600, "exp": 0}),
    ("exp list", {"exp": [1]}),
    ("exp far from iat", {"exp": ("now", 7200)}),
    ("iat fraction", {"iat": 1.5}),
    ("iat numeric string", {"iat": str(int(time.time()))}),
    ("iat false", {"iat": False}),
    ("nbf numeric string", {"nbf": "0"}),
    ("nbf beyond any date", {"nbf": -(10**20)}),
    ("nbf true", {"nbf": True}),
    ("sid not a number", {"sid": "x"}),
    ("sid true", {"sid": True}),
    ("sid float", {"sid": 1.0}),
    ("sub true", {"sub": True}),
    ("sub negative", {"sub": "-1"}),
    ("jti integer", {"jti": 1}),
    ("type list", {"type": ["access"]}),
    ("iss list", {"iss": ["shopapi"]}),
]
TAKING_A_TOKEN = [("GET", "/api/products"), ("GET", "/auth/me"), ("POST", "/auth/logout")]


def _odd_token(settings: Settings, auth: AuthActions, changes: dict[str, Any]) -> str:
    return _signed(_claims(settings, _signed_in(auth), **changes), settings.keys)


@pytest.mark.parametrize("changes", [c for _, c in ODD_CLAIMS], ids=[n for n, _ in ODD_CLAIMS])
@pytest.mark.sqlite_only
def test_tokens_with_odd_claim_types_are_refused(
    client: Any, auth: AuthActions, settings: Settings, changes: dict[str, Any]
) -> None:
    token = _odd_token(settings, auth, changes)
    for method, path in TAKING_A_TOKEN:
        body = _refused(client, {"Authorization": f"Bearer {token}"}, path=path, method=method)
        assert body["detail"] == "The access token is invalid.", path


@pytest.mark.parametrize(
    "changes", [{"exp": "9999999999"}, {"exp": 10**20}, {"iat": 1.5}], ids=["str", "huge", "float"]
)
@pytest.mark.sqlite_only
def test_tokens_with_odd_claims_do_not_pass_as_mfa_or_refresh_tokens(
    client: Any, auth: AuthActions, settings: Settings, changes: dict[str, Any]
) -> None:
    """/auth/verify and /auth/refresh take opaque tokens, not JWTs: a JWT there signs
    nobody in, whatever its claims (an mfa_token that long fails validation)."""
    token = _odd_token(settings, auth, changes)
    r = client.post("/auth/verify", json={"mfa_token": token, "otp": "123456"})
    assert list(assert_problem(r, 422)["errors"]) == ["mfa_token"]
    r = client.post("/auth/refresh", json={"refresh_token": token})
    assert "access_token" not in assert_problem(r, 401)


def test_a_token_with_odd_claims_leaves_its_session_alive(
    client: Any, auth: AuthActions, settings: Settings
) -> None:
    """A refused logout ends nothing: the account's real token still works."""
    account, real = auth.sign_in()
    session_id = jwt.decode(real, options={"verify_signature": False})["sid"]
    odd = _signed(_claims(settings, (account.id, session_id), exp=10**20), settings.keys)
    _refused(client, {"Authorization": f"Bearer {odd}"}, path="/auth/logout", method="POST")
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {real}"}).status_code == 200
