"""Plain security functions, with explicit inputs: TOTP steps, recovery codes, tokens."""

from __future__ import annotations

import time

import jwt
import pyotp
import pytest

from shopapi import security

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


def test_access_token_round_trip() -> None:
    now = int(time.time())
    token = security.create_access_token(42, 7, KEY, "shopapi", 600, now=now)
    claims = security.decode_access_token(token.token, KEY, "shopapi")
    assert claims["sub"] == "42" and claims["sid"] == "7"
    assert claims["exp"] == claims["iat"] + 600 == token.expires_at
    assert claims["jti"] == token.jti
    assert jwt.get_unverified_header(token.token)["alg"] == "HS256"


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


@pytest.mark.parametrize(
    "claims",
    [
        _claims(exp=int(time.time()) - 1),
        _claims(nbf=int(time.time()) + 600),
        _claims(type="refresh"),
        _claims(iss="someone-else"),
        _claims(sub=42),
        _claims(sub="²"),
        _claims(sub="-1"),
        _claims(sub="9" * 40),
        _claims(sub="0"),
        _claims(jti="j" * 65),
        *[_claims(**{name: None}) for name in security.REQUIRED_CLAIMS],
    ],
)
def test_decode_access_token_refuses_bad_claims(claims: dict[str, object]) -> None:
    token = jwt.encode(claims, KEY, algorithm="HS256")
    with pytest.raises(jwt.InvalidTokenError):
        security.decode_access_token(token, KEY, "shopapi")


def test_decode_access_token_refuses_other_algorithms_and_keys() -> None:
    claims = _claims()
    for token in (
        jwt.encode(claims, KEY, algorithm="HS512"),
        jwt.encode(claims, "another key of at least thirty-two bytes", algorithm="HS256"),
        jwt.encode(claims, None, algorithm="none"),
    ):
        with pytest.raises(jwt.InvalidTokenError):
            security.decode_access_token(token, KEY, "shopapi")


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
