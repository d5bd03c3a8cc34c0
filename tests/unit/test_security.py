"""Plain security functions, with explicit inputs: TOTP steps, recovery codes, tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable

import jwt
import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from shopapi import security, signing

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
KEY = "k" * 32 + "e" * 16 + "y" * 16  # 64 bytes: long enough for HS512 too
NOW = 1_800_000_015.0  # 15 s into step 60_000_000
STEP = 60_000_000


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_matching_step_accepts_one_step_either_side(offset: int) -> None:
    code = pyotp.TOTP(SECRET).at(NOW + 30 * offset)
    assert security.matching_step(SECRET, code, now=NOW) == STEP + offset


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_matching_step_rejects_codes_further_away(offset: int) -> None:
    code = pyotp.TOTP(SECRET).at(NOW + 30 * offset)
    near = {pyotp.TOTP(SECRET).at(NOW + 30 * k) for k in (-1, 0, 1)}
    assert code not in near  # these fixed inputs do not collide by chance
    assert security.matching_step(SECRET, code, now=NOW) is None


def test_matching_step_with_no_drift_allows_only_the_current_step() -> None:
    previous = pyotp.TOTP(SECRET).at(NOW - 30)
    assert security.matching_step(SECRET, previous, now=NOW, drift=0) is None
    assert security.matching_step(SECRET, pyotp.TOTP(SECRET).at(NOW), now=NOW, drift=0) == STEP


@pytest.mark.parametrize(
    "code",
    ["", "12345", "1234567", "12345a", " 12345", "１２３４５６", "١٢٣٤٥٦", "²²²²²²"],
)
def test_matching_step_refuses_anything_but_six_ascii_digits(code: str) -> None:
    assert security.matching_step(SECRET, code, now=NOW) is None


def test_current_step_is_thirty_second_windows() -> None:
    assert security.current_step(NOW) == STEP
    assert security.current_step(STEP * 30 - 0.001) == STEP - 1


def test_recovery_codes_are_distinct_and_grouped() -> None:
    codes = security.new_recovery_codes()
    assert len(codes) == 10 == len(set(codes))
    for code in codes:
        groups = code.split("-")
        assert [len(g) for g in groups] == [4, 4, 4, 4]


@pytest.mark.parametrize(
    "typed",
    ["abcd-efgh-ijkl-mnop", "ABCD-EFGH-IJKL-MNOP", " abcd efgh ijkl mnop ", "abcdefghijklmnop"],
)
def test_recovery_code_normalisation_forgives_case_dashes_and_spaces(typed: str) -> None:
    assert security.normalise_recovery_code(typed) == "abcdefghijklmnop"


def test_password_hash_is_argon2id_and_compares_the_whole_password() -> None:
    hasher = security.password_hasher(1, 256, 1)
    prefix = "x" * 100
    stored = hasher.hash(prefix + "A")
    assert stored.startswith("$argon2id$")
    assert security.verify_password(hasher, stored, prefix + "A")
    assert not security.verify_password(hasher, stored, prefix + "B")
    assert not security.verify_password(hasher, "not a hash", prefix + "A")


def test_secret_encryption_round_trips_and_rotates() -> None:
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_old = security.encrypt((old,), SECRET)
    assert SECRET not in sealed_old
    assert security.decrypt((new, old), sealed_old) == SECRET
    sealed_new = security.encrypt((new, old), SECRET)
    assert security.decrypt((new,), sealed_new) == SECRET
    with pytest.raises(ValueError):
        security.decrypt((old,), sealed_new)


ED_KEY = Ed25519PrivateKey.generate()
KEYS = {"HS256": signing.hs256(KEY), "EdDSA": signing.eddsa([ED_KEY])}
both = pytest.mark.parametrize("keys", list(KEYS.values()), ids=list(KEYS))


def _sign(keys: signing.SigningKeys, claims: dict[str, object], **header: object) -> str:
    """`claims` as they are (jwt.encode refuses some types), signed with `keys`' signing key."""
    kid = {} if keys.kid is None else {"kid": keys.kid}
    return jwt.PyJWS().encode(
        json.dumps(claims).encode(),
        keys.signing_key,
        algorithm=keys.algorithm,
        headers={"typ": "JWT", **kid, **header},
    )


@both
def test_access_token_round_trip(keys: signing.SigningKeys) -> None:
    now = int(time.time())
    token = security.create_access_token(42, 7, keys, "shopapi", 600, now=now)
    claims = security.decode_access_token(token.token, keys, "shopapi", 600)
    assert claims["sub"] == "42" and claims["sid"] == "7"
    assert claims["exp"] == claims["iat"] + 600 == token.expires_at
    assert claims["jti"] == token.jti
    header = jwt.get_unverified_header(token.token)
    assert header["alg"] == keys.algorithm
    assert header.get("kid") == keys.kid  # EdDSA: the key's thumbprint; HS256: none


def _claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "42",
        "sid": "7",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "a" * 32,
        "type": "access",
        "iss": "shopapi",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


@both
def test_the_control_token_is_accepted(keys: signing.SigningKeys) -> None:
    """The control for the refusals below: a token signed as they are, with sound claims."""
    assert security.decode_access_token(_sign(keys, _claims()), keys, "shopapi", 600)["sub"] == "42"


# Each case is the changes to sound claims, given the moment of the test: times are taken
# when the test runs, not when the suite is collected (a long run would age them).
BAD_CLAIMS: list[Callable[[int], dict[str, object]]] = [
    lambda now: {"iat": now - 601, "nbf": now - 601, "exp": now - 1},
    lambda now: {"nbf": now + 600},
    lambda now: {"iat": now + 600, "exp": now + 1200},
    lambda now: {"exp": now + 3600},
    lambda now: {"type": "refresh"},
    lambda now: {"iss": "someone-else"},
    lambda now: {"sub": 42},
    lambda now: {"sub": "²"},
    lambda now: {"sub": "-1"},
    lambda now: {"sub": "9" * 40},
    lambda now: {"sub": "0"},
    lambda now: {"jti": "j" * 65},
    *[lambda now, name=name: {name: None} for name in security.REQUIRED_CLAIMS],
]


@both
@pytest.mark.parametrize("changes", BAD_CLAIMS)
def test_decode_access_token_refuses_bad_claims(
    keys: signing.SigningKeys, changes: Callable[[int], dict[str, object]]
) -> None:
    claims = _claims(**changes(int(time.time())))
    with pytest.raises(jwt.InvalidTokenError):
        security.decode_access_token(_sign(keys, claims), keys, "shopapi", 600)


@both
@pytest.mark.parametrize(
    "changes",
    [
        {"exp": "9999999999"},
        {"exp": 10**20},
        {"exp": True},
        {"exp": float(2**31)},
        {"iat": 1.5},
        {"iat": "1"},
        {"nbf": False},
        {"nbf": -1},
        {"nbf": [0]},
        {"sid": "x"},
        {"sid": True},
        {"sub": 1.0},
    ],
    ids=repr,
)
def test_decode_access_token_refuses_claims_of_the_wrong_type(
    keys: signing.SigningKeys, changes: dict[str, object]
) -> None:
    """Signed with the right key, but a time that is not a plain integer of a real date,
    or an id that is not a string of digits, is an invalid token (not a crash later)."""
    with pytest.raises(jwt.InvalidTokenError):
        security.decode_access_token(_sign(keys, _claims(**changes)), keys, "shopapi", 600)


def test_decode_access_token_refuses_other_algorithms_and_keys() -> None:
    claims = _claims()
    for token in (
        jwt.encode(claims, KEY, algorithm="HS512"),
        jwt.encode(claims, "another key of at least thirty-two bytes", algorithm="HS256"),
        jwt.encode(claims, None, algorithm="none"),
        _sign(KEYS["EdDSA"], claims),
    ):
        with pytest.raises(jwt.InvalidTokenError):
            security.decode_access_token(token, KEYS["HS256"], "shopapi", 600)


def _public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def _forged_eddsa_tokens() -> dict[str, str]:
    """Tokens an attacker can make without the service's private key."""
    claims, ours = _claims(), KEYS["EdDSA"]
    own = Ed25519PrivateKey.generate()
    own_kid = signing.thumbprint(own.public_key())
    own_jwk = {**signing.public_jwk(own.public_key()), "kid": own_kid}
    # PyJWT refuses to use a PEM public key as an HMAC secret; sign such a token by hand.
    hmac_input = _sign(KEYS["HS256"], claims, kid=ours.kid).rsplit(".", 1)[0]
    mac = hmac.new(_public_pem(ED_KEY), hmac_input.encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    return {
        "HS256 with the secret": _sign(KEYS["HS256"], claims),
        "HS256 with the public key as secret": f"{hmac_input}.{signature}",
        "none": jwt.encode(claims, None, algorithm="none", headers={"kid": ours.kid}),
        "own key, own kid": jwt.encode(claims, own, algorithm="EdDSA", headers={"kid": own_kid}),
        "own key, our kid": jwt.encode(claims, own, algorithm="EdDSA", headers={"kid": ours.kid}),
        "own key, no kid": jwt.encode(claims, own, algorithm="EdDSA"),
        "own key, embedded jwk": jwt.encode(
            claims, own, algorithm="EdDSA", headers={"kid": own_kid, "jwk": own_jwk}
        ),
        "own key, our kid, embedded jwk": jwt.encode(
            claims, own, algorithm="EdDSA", headers={"kid": ours.kid, "jwk": own_jwk}
        ),
        "own key, jku": jwt.encode(
            claims,
            own,
            algorithm="EdDSA",
            headers={"kid": own_kid, "jku": "https://attacker.example/jwks.json"},
        ),
        "own key, x5u": jwt.encode(
            claims,
            own,
            algorithm="EdDSA",
            headers={"kid": ours.kid, "x5u": "https://attacker.example/cert.pem"},
        ),
    }


@pytest.mark.parametrize("name", list(_forged_eddsa_tokens()))
def test_eddsa_refuses_tokens_made_without_its_private_key(name: str) -> None:
    token = _forged_eddsa_tokens()[name]
    with pytest.raises(jwt.InvalidTokenError):
        security.decode_access_token(token, KEYS["EdDSA"], "shopapi", 600)


@pytest.mark.parametrize("header", [{"jku": "https://a.example/k"}, {"x5u": "https://a.example/c"}])
def test_a_token_that_names_where_to_fetch_a_key_is_refused_even_when_signed_by_us(
    header: dict[str, str],
) -> None:
    """The service never fetches keys a token points to; such a header is not its own."""
    token = _sign(KEYS["EdDSA"], _claims(), **header)
    with pytest.raises(jwt.InvalidTokenError):
        security.decode_access_token(token, KEYS["EdDSA"], "shopapi", 600)


def test_password_hashing_runs_at_a_lower_cpu_priority_than_requests() -> None:
    """Argon2 work yields the CPU to readers: its threads are niced below request threads."""
    import os
    import threading

    from shopapi.security import HASHING_NICENESS, hash_password, password_hasher

    stored = hash_password(password_hasher(1, 256, 1), "violet-harbour-lantern")
    assert stored.startswith("$argon2id$")
    hashing = [t for t in threading.enumerate() if t.name.startswith("argon2")]
    assert hashing, [t.name for t in threading.enumerate()]  # the threads that did the hashing
    request_thread = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    for thread in hashing:
        assert thread.native_id is not None
        niceness = os.getpriority(os.PRIO_PROCESS, thread.native_id)
        assert niceness == min(request_thread + HASHING_NICENESS, 19)
