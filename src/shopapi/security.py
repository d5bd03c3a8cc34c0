"""Security primitives as plain functions: passwords, TOTP, secrets at rest, tokens."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import jwt
import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from . import clock
from .signing import SigningKeys

TOTP_STEP = 30
TOTP_DIGITS = 6
RECOVERY_CODE_COUNT = 10
REQUIRED_CLAIMS = ["sub", "sid", "iat", "nbf", "exp", "jti", "type", "iss"]
# The header members the service writes. Any other (jku, x5u, jwk, x5c, crit, ...) would
# ask a verifier to fetch or trust a key the token names itself: such a token is refused.
TOKEN_HEADER = frozenset({"alg", "typ", "kid"})
T = TypeVar("T")


# --- passwords -------------------------------------------------------------------------


def password_hasher(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    """Argon2id; the whole password is hashed (no 72-byte truncation as with bcrypt)."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


# Argon2 runs outside the GIL, in a small per-process pool of threads with a lower CPU
# priority: a burst of sign-ins then takes the CPU the readers leave, instead of
# starving them (hashing is deliberately slow; reads must stay fast). The pool's queue is
# short and a hash beyond it is refused at once (`HashingBusy`): request threads never
# pile up behind hashes, so there are always threads left to serve reads.
HASHING_THREADS = 1
HASHING_QUEUE = 2
HASHING_NICENESS = 19
# What a refusal asks the client to wait: about one hash and a queue ahead of it.
HASHING_RETRY_AFTER = 1


class HashingBusy(RuntimeError):
    """Every hashing thread of this process is busy and its queue is full."""


class HashingPool:
    """`threads` niced threads hashing, and room for `queue` hashes waiting for one.

    A request takes its place with `place()` before any other work of a sign-in, so a
    refusal costs nothing but the check; the hashes it runs meanwhile use that place.
    """

    def __init__(self, threads: int, queue: int) -> None:
        self.threads, self.queue = threads, queue
        self._executor = ThreadPoolExecutor(
            threads, thread_name_prefix="argon2", initializer=_lower_priority
        )
        self._places = threading.BoundedSemaphore(threads + queue)
        self._lock = threading.Lock()
        self._taken = 0
        self._held = threading.local()

    @property
    def taken(self) -> int:
        """Places taken now (hashes running, waiting, or about to be asked for)."""
        return self._taken

    @contextlib.contextmanager
    def place(self) -> Iterator[None]:
        """Hold a place for this thread's hashes; `HashingBusy` at once when none is free."""
        if getattr(self._held, "depth", 0):
            self._held.depth += 1  # already holds one: hashes of one request share it
        else:
            if not self._places.acquire(blocking=False):
                raise HashingBusy(f"{self.threads} hashing and {self.queue} waiting")
            with self._lock:
                self._taken += 1
            self._held.depth = 1
        try:
            yield
        finally:
            self._held.depth -= 1
            if not self._held.depth:
                with self._lock:
                    self._taken -= 1
                self._places.release()

    def run(self, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)` on a hashing thread, in this thread's place (or a new one)."""
        with self.place():
            return self._executor.submit(work, *args).result()


_pools: dict[tuple[int, int, int], HashingPool] = {}
_pools_lock = threading.Lock()


def _lower_priority() -> None:
    # On Linux a thread is a task of its own: this lowers this thread only.
    with contextlib.suppress(AttributeError, OSError):
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(current + HASHING_NICENESS, 19))


def hashing_pool(threads: int = HASHING_THREADS, queue: int = HASHING_QUEUE) -> HashingPool:
    """This process's pool of that size (a forked worker makes its own): every app of a
    process with the same settings shares one bound."""
    key = (os.getpid(), threads, queue)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = HashingPool(threads, queue)
        return pool


def hash_password(hasher: PasswordHasher, password: str, pool: HashingPool | None = None) -> str:
    return (pool or hashing_pool()).run(hasher.hash, password)


def verify_password(
    hasher: PasswordHasher, stored_hash: str, password: str, pool: HashingPool | None = None
) -> bool:
    return (pool or hashing_pool()).run(_verify, hasher, stored_hash, password)


def _verify(hasher: PasswordHasher, stored_hash: str, password: str) -> bool:
    try:
        return hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The most commonly used passwords (lower-cased), shipped with the package."""
    path = Path(__file__).parent / "data" / "common-passwords.txt"
    return frozenset(line.strip().lower() for line in path.read_text().splitlines() if line)


def password_problems(password: str, username: str) -> list[str]:
    """Why a new password is refused; empty when it is acceptable."""
    problems = []
    if password.lower() in common_passwords():
        problems.append("This password is among the most commonly used; choose another.")
    if username and username.lower() in password.lower():
        problems.append("The password must not contain the username.")
    return problems


# --- TOTP (RFC 6238) -------------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32(length=32)


def totp_uri(secret: str, username: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def qr_png_data_uri(uri: str) -> str:
    return str(segno.make(uri, error="m").png_data_uri(scale=5, border=4))


def current_step(now: float | None = None) -> int:
    return int((clock.now() if now is None else now) // TOTP_STEP)


def matching_step(secret: str, code: str, now: float | None = None, drift: int = 1) -> int | None:
    """The time step (within `drift` steps of now) whose code equals `code`, else None."""
    # ASCII only: str.isdigit() also accepts "²" or "١", which compare_digest refuses.
    if len(code) != TOTP_DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    step = current_step(now)
    found = None
    for candidate in range(step - drift, step + drift + 1):
        # Compare every candidate in constant time, whatever matched before.
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            found = candidate
    return found


# --- secrets at rest -------------------------------------------------------------------


def cipher(keys: tuple[str, ...]) -> MultiFernet:
    """Encrypts with the first key, decrypts with any: rotation by prepending a new key."""
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(keys: tuple[str, ...], plaintext: str) -> str:
    return cipher(keys).encrypt(plaintext.encode()).decode()


def decrypt(keys: tuple[str, ...], token: str) -> str:
    try:
        return cipher(keys).decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("stored secret cannot be decrypted with the configured keys") from None


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


API_KEY_PREFIX = "shk_"


def new_api_key() -> str:
    """An API key: `shk_` (for secret scanners) and 256 random bits, URL-safe base64.

    It is stored as its SHA-256: a fast hash is right for a random secret of 256 bits (no
    guess can be tried against it, however fast each try), unlike for a password, where
    the hash must be slow because the space of likely passwords is small.
    """
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def new_mfa_token() -> str:
    return secrets.token_urlsafe(32)


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """Codes of 80 random bits, shown as four groups of four base32 characters."""
    codes = []
    for _ in range(count):
        raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


def normalise_recovery_code(code: str) -> str:
    return code.strip().lower().replace("-", "").replace(" ", "")


# --- access tokens ---------------------------------------------------------------------


@dataclass(frozen=True)
class AccessToken:
    token: str
    jti: str
    expires_at: int


def create_access_token(
    user_id: int, session_id: int, keys: SigningKeys, issuer: str, ttl: int, now: int | None = None
) -> AccessToken:
    iat = int(clock.now()) if now is None else now
    jti = uuid.uuid4().hex
    claims = {
        "sub": str(user_id),
        "sid": str(session_id),
        "iat": iat,
        "nbf": iat,
        "exp": iat + ttl,
        "jti": jti,
        "type": "access",
        "iss": issuer,
    }
    headers = None if keys.kid is None else {"kid": keys.kid}
    token = jwt.encode(claims, keys.signing_key, algorithm=keys.algorithm, headers=headers)
    return AccessToken(token, jti, iat + ttl)


MAX_USER_ID = 2**63 - 1  # BIGINT on MariaDB, INTEGER on SQLite


def _is_user_id(sub: Any) -> bool:
    """A positive id in plain ASCII digits that every backend can store ("²" is a digit too)."""
    if not isinstance(sub, str) or not sub.isascii() or not sub.isdigit() or len(sub) > 19:
        return False
    return 0 < int(sub) <= MAX_USER_ID


# The last second of the year 9999: what every date type (Python's, the databases') holds.
MAX_TIMESTAMP = 253_402_300_799
TIME_CLAIMS = ("iat", "nbf", "exp")


def _is_timestamp(value: Any) -> bool:
    """A plain JSON integer (not a boolean, a float or a numeric string) of a real date."""
    return type(value) is int and 0 <= value <= MAX_TIMESTAMP


def _check_claim_types(claims: dict[str, Any], ttl: int) -> None:
    """Every claim of the right JSON type and in range, before anything compares or converts
    them: PyJWT takes `int()` of the times, so "9999999999", 1.5 or true pass its checks."""
    if not all(_is_timestamp(claims.get(name)) for name in TIME_CLAIMS):
        raise jwt.InvalidTokenError("iat, nbf and exp must be integer timestamps")
    if claims["exp"] - claims["iat"] != ttl:
        raise jwt.InvalidTokenError("the token's lifetime is not the one the service issues")
    sub, sid, jti = claims.get("sub"), claims.get("sid"), claims.get("jti")
    if not _is_user_id(sub) or not _is_user_id(sid) or not isinstance(jti, str) or len(jti) > 64:
        raise jwt.InvalidTokenError("malformed claims")
    if claims.get("type") != "access":
        raise jwt.InvalidTokenError("not an access token")


def _verifying_key(token: str, keys: SigningKeys) -> Any:
    """The configured key that must have signed `token`: its algorithm is the configured
    one and, for EdDSA, its `kid` is a published key's. Nothing else in the header counts."""
    header = jwt.get_unverified_header(token)
    if not TOKEN_HEADER.issuperset(header):
        raise jwt.InvalidTokenError("the token's header names keys or extensions")
    if header.get("alg") != keys.algorithm:
        raise jwt.InvalidAlgorithmError("not the configured algorithm")
    kid = header.get("kid")
    key = keys.verifying.get(kid) if kid is None or isinstance(kid, str) else None
    if key is None:
        raise jwt.InvalidTokenError("not signed by a published key")
    return key


def decode_access_token(
    token: str, keys: SigningKeys, issuer: str, ttl: int, now: float | None = None
) -> dict[str, Any]:
    """The verified claims of an access token that lives `ttl` seconds; raises
    `jwt.InvalidTokenError` for any bad token, whatever its header or claims hold."""
    claims: dict[str, Any] = jwt.decode(
        token,
        _verifying_key(token, keys),
        algorithms=[keys.algorithm],
        issuer=issuer,
        # The times are checked below, once their types are known to be sound: PyJWT
        # takes int() of them, so "9999999999", 1.5 or true would pass its checks.
        options={
            "require": REQUIRED_CLAIMS,
            "verify_exp": False,
            "verify_nbf": False,
            "verify_iat": False,
        },
    )
    _check_claim_types(claims, ttl)
    now = clock.now() if now is None else now
    if claims["exp"] <= now:
        raise jwt.ExpiredSignatureError("Signature has expired")
    if claims["nbf"] > now or claims["iat"] > now:
        raise jwt.ImmatureSignatureError("The token is not yet valid")
    return claims
