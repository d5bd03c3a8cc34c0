"""Sign-in logic: validated data and a session in, results or `ApiError` out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from .. import db, metrics, security
from ..audit import events
from ..caller import roles
from ..config import Settings
from ..db import utcnow
from ..errors import ApiError, unauthorized
from ..models import MfaChallenge, RecoveryCode, ServiceFlag, User
from . import attempts, invites, passkey_signin, sessions

MAX_WRONG_CODES_PER_CHALLENGE = 5
ENROLLMENT_SHOWN_FOR = timedelta(hours=24)
BAD_CREDENTIALS = "The username or password is wrong."
BAD_MFA_TOKEN = "The mfa_token is invalid, expired or already used; log in again."  # noqa: S105
BAD_CODE = "The code is wrong or has already been used."
NO_PASSKEY = "This account has no passkey: use a code."
FIRST_ACCOUNT = "first_account_registered"


@dataclass(frozen=True)
class Enrollment:
    secret: str
    otpauth_uri: str
    qr_code: str

    def as_dict(self) -> dict[str, str]:
        return {"secret": self.secret, "otpauth_uri": self.otpauth_uri, "qr_code": self.qr_code}


def hasher(settings: Settings) -> PasswordHasher:
    return _hasher(*_params(settings))


def hashing(settings: Settings) -> security.HashingPool:
    """This process's bounded pool of hashing threads (HASH_THREADS, HASH_QUEUE)."""
    return security.hashing_pool(settings.hash_threads, settings.hash_queue)


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return security.password_hasher(time_cost, memory_cost, parallelism)


@lru_cache(maxsize=8)
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int) -> str:
    """A hash to verify against for unknown users, so they cost the same time."""
    return _hasher(time_cost, memory_cost, parallelism).hash(security.new_mfa_token())


def enrollment(settings: Settings, username: str, secret: str) -> Enrollment:
    uri = security.totp_uri(secret, username, settings.totp_issuer)
    return Enrollment(secret, uri, security.qr_png_data_uri(uri))


def register(
    session: Session,
    settings: Settings,
    *,
    username: str,
    password: str,
    invite_code: str | None = None,
) -> tuple[User, Enrollment, list[str]]:
    """A new account and its enrolment; a taken name fails on its unique constraint (409).

    Its role is the invite's, else NEW_USER_ROLE; outside production the first account a
    database ever has becomes admin, so a fresh `make run` has someone to run it.
    """
    if settings.registration == "closed":
        raise ApiError(403, "Registration is closed.")
    if invite_code is None and settings.registration == "invite":
        raise ApiError(403, "Registration needs an invite_code.")
    password_hash = security.hash_password(hasher(settings), password, hashing(settings))
    if invite_code is not None:
        role = invites.claim(session, invite_code)
        if role is None:
            raise ApiError(403, "The invite code is unknown, used or expired.")
    else:
        role = settings.new_user_role
    now = utcnow()
    if not settings.production and invite_code is None and _claim_first_account(session, now):
        role = roles.ADMIN
    secret = security.new_totp_secret()
    codes = security.new_recovery_codes()
    user = User(
        username=username,
        username_normalized=username.lower(),
        password=password_hash,
        twofa_secret=security.encrypt(settings.totp_encryption_keys, secret),
        enrollment_issued_at=now,
        role=role,
        disabled=False,
        created_at=now,
    )
    session.add(user)
    session.flush()
    events.record(session, user.id, "registered")
    session.execute(
        insert(RecoveryCode),
        [{"user_id": user.id, "code_hash": code_hash(c)} for c in codes],
    )
    return user, enrollment(settings, user.username, secret), codes


def _reserve_login(
    session: Session, subject: str, device_token: str | None
) -> tuple[str, str, attempts.Reservation]:
    """Count a login: on its device, if `device_token` is a live device token of that
    account with failures to spare; else on the account. A device token that has had its
    10 failures dies, and the login counts as one without it."""
    device = sessions.device_of(session, device_token, subject) if device_token else None
    if device is not None:
        slot = attempts.reserve(attempts.DEVICE, str(device))
        if slot.granted:
            return attempts.DEVICE, str(device), slot
        sessions.forget_device(device)
    return attempts.PASSWORD, subject, attempts.reserve(attempts.PASSWORD, subject)


def _claim_first_account(session: Session, now: datetime) -> bool:
    """Whether this is the first account the database ever had: the first to set the flag
    (a concurrent registration waits on its key, then finds it set)."""
    if session.get(ServiceFlag, FIRST_ACCOUNT) is not None:
        return False
    values = {"name": FIRST_ACCOUNT, "set_at": now}
    return db.insert_or_ignore(session.connection(), ServiceFlag.__table__, values)


def login(
    session: Session,
    settings: Settings,
    *,
    username: str,
    password: str,
    device_token: str | None = None,
) -> dict[str, Any]:
    """Check the password. A known device of the account (`device_token`) is counted on its
    own, and not refused by the account's lockout: whoever locks an account out does not
    lock its owner out of the devices it signed in from."""
    # A place in the hashing pool first, before anything is counted or read: a full pool
    # refuses a known and an unknown username alike (503), at the cost of a check.
    with hashing(settings).place():
        return _login(session, settings, username, password, device_token)


def _login(
    session: Session, settings: Settings, username: str, password: str, device_token: str | None
) -> dict[str, Any]:
    subject = username.lower()
    kind, counted, slot = _reserve_login(session, subject, device_token)
    if not slot.granted:
        raise too_many("Too many failed sign-ins for this account.", slot.retry_after, "password")
    user = session.scalar(select(User).where(User.username_normalized == subject))
    h, pool = hasher(settings), hashing(settings)
    stored = _dummy_hash(*_params(settings)) if user is None else user.password
    right = security.verify_password(h, stored, password, pool)
    if user is None:
        events.unknown_username("password")
        metrics.sign_in_failed("password")
        raise unauthorized(BAD_CREDENTIALS, error="")
    if not right:
        locked = slot.last and kind == attempts.PASSWORD
        events.record_failure(user.id, "password_failed", *(("locked_out",) if locked else ()))
        metrics.sign_in_failed("password", locked_out=locked)
        raise unauthorized(BAD_CREDENTIALS, error="")

    db.when_work_ends(lambda: attempts.release(kind, counted))
    if user.disabled:  # only the right password learns this
        raise ApiError(403, "This account is disabled; ask an administrator.")
    if h.check_needs_rehash(user.password):
        user.password = security.hash_password(h, password, pool)
    now = utcnow()
    token = security.new_mfa_token()
    session.execute(
        delete(MfaChallenge).where(MfaChallenge.user_id == user.id, MfaChallenge.expires_at < now)
    )
    session.add(
        MfaChallenge(
            token_hash=security.sha256(token),
            user_id=user.id,
            expires_at=now + timedelta(seconds=settings.mfa_token_ttl),
            failed_attempts=0,
        )
    )
    methods = ["totp", "recovery_code"]
    if passkey_signin.has_passkey(session, user.id):
        methods.append("passkey")
    result: dict[str, Any] = {
        "mfa_token": token,
        "expires_in": settings.mfa_token_ttl,
        "next": "/auth/verify",
        "methods": methods,
    }
    issued = user.enrollment_issued_at
    if issued is not None and now - issued < ENROLLMENT_SHOWN_FOR:
        secret = security.decrypt(settings.totp_encryption_keys, user.twofa_secret)
        result["enrollment"] = enrollment(settings, user.username, secret).as_dict()
    return result


@dataclass(frozen=True)
class SignedIn:
    tokens: sessions.Tokens
    device_token: str


def verify(
    session: Session,
    settings: Settings,
    *,
    mfa_token: str,
    otp: str | None = None,
    recovery_code: str | None = None,
    passkey: dict[str, Any] | None = None,
    user_agent: str | None = None,
) -> SignedIn:
    """Judge a code on a live challenge; a right one uses the challenge up.

    Counting is done before judging, each in one conditional statement on its own
    connection: a slot of the account's code limit, then one of the challenge's 5
    judgements. So of any number of codes racing on one challenge at most 5 are judged,
    and a wrong code stays counted when the request is rolled back. A right code gives the
    account's slot back, claims the challenge and starts a session, in the request's unit
    of work. A passkey's assertion is judged against the passkey challenge the mfa_token
    carries, which it takes first (so it is judged once, however it turns out).
    """
    now = utcnow()
    found = _live_challenge(session, mfa_token, now)
    if found is None:
        raise unauthorized(BAD_MFA_TOKEN, error="")
    challenge_id, user_id, passkey_challenge = found
    slot = attempts.reserve(attempts.CODE, str(user_id))
    if not slot.granted:
        raise too_many("Too many wrong codes for this account.", slot.retry_after, "code")

    def give_back() -> None:
        attempts.release(attempts.CODE, str(user_id))

    if not attempts.reserve_judgement(
        MfaChallenge, challenge_id, MAX_WRONG_CODES_PER_CHALLENGE, MfaChallenge.expires_at > now
    ):
        give_back()  # the challenge died meanwhile: this code is not judged
        raise unauthorized(BAD_MFA_TOKEN, error="")

    regressed = None
    if otp is not None:
        method, accepted = "totp", _accept_totp(session, settings, user_id, otp, now)
    elif passkey is not None:
        method, accepted = "passkey", False
        if passkey_challenge is not None and _take_passkey_challenge(
            challenge_id, passkey_challenge
        ):
            verdict = passkey_signin.judge(
                session,
                settings,
                user_id=user_id,
                challenge=passkey_challenge,
                assertion=passkey,
                now=now,
            )
            accepted, regressed = verdict.accepted, verdict.regressed
    else:
        method = "recovery_code"
        accepted = _accept_recovery_code(session, user_id, recovery_code or "", now)
    if not accepted:
        failures: list[events.Failure] = ["code_failed"]
        if slot.last:
            failures.append("locked_out")
        if regressed is not None:
            failures.append(("passkey_counter_regressed", {"passkey_id": regressed}))
        events.record_failure(user_id, *failures)
        metrics.sign_in_failed("code", locked_out=slot.last)
        raise unauthorized(BAD_CODE, error="")  # counted; nothing of this request is kept
    db.when_work_ends(give_back)
    if not _claim(session, challenge_id, now):
        raise unauthorized(BAD_MFA_TOKEN, error="")  # used by a concurrent right code
    session.execute(
        update(User)
        .where(User.id == user_id, User.enrollment_issued_at.is_not(None))
        .values(enrollment_issued_at=None)
    )
    events.record(session, user_id, "signed_in", method=method)
    db.when_committed(lambda: metrics.signed_in(method))
    tokens = sessions.start(session, settings, user_id=user_id, user_agent=user_agent)
    device = sessions.new_device_token(session, user_id=user_id)
    return SignedIn(tokens, device)


def passkey_options(session: Session, settings: Settings, *, mfa_token: str) -> dict[str, Any]:
    """Request options for the account's passkeys; their challenge replaces any earlier
    one of this mfa_token and lives as long as it (401 for a dead token, 409 with no
    passkey)."""
    now = utcnow()
    found = _live_challenge(session, mfa_token, now)
    if found is None:
        raise unauthorized(BAD_MFA_TOKEN, error="")
    challenge_id, user_id, _ = found
    expires_at = session.scalar(
        select(MfaChallenge.expires_at).where(MfaChallenge.id == challenge_id)
    )
    remaining_ms = max(int(((expires_at or now) - now).total_seconds() * 1000), 1000)
    made = passkey_signin.request_options(session, settings, user_id, remaining_ms)
    if made is None:
        raise ApiError(409, NO_PASSKEY)
    challenge, options = made
    c = MfaChallenge
    stored = session.execute(
        update(c)
        .where(*_alive(now), c.id == challenge_id)
        .values(passkey_challenge=challenge)
        .execution_options(synchronize_session=False)
    )
    if stored.rowcount != 1:  # type: ignore[attr-defined]
        raise unauthorized(BAD_MFA_TOKEN, error="")  # used or killed meanwhile
    return options


def _alive(now: datetime) -> tuple[Any, ...]:
    c = MfaChallenge
    return (
        c.used_at.is_(None),
        c.expires_at > now,
        c.failed_attempts < MAX_WRONG_CODES_PER_CHALLENGE,
    )


def _live_challenge(session: Session, mfa_token: str, now: datetime) -> Any:
    c = MfaChallenge
    return session.execute(
        select(c.id, c.user_id, c.passkey_challenge).where(
            c.token_hash == security.sha256(mfa_token), *_alive(now)
        )
    ).first()


def _take_passkey_challenge(challenge_id: int, challenge: str) -> bool:
    """Use the passkey challenge up before its assertion is judged, on a connection of its
    own: an assertion is judged once, also when its request fails or races another."""
    c = MfaChallenge
    with db.side_connection() as conn:
        result = conn.execute(
            update(c)
            .where(c.id == challenge_id, c.passkey_challenge == challenge)
            .values(passkey_challenge=None)
        )
        return bool(result.rowcount == 1)


def logout(session: Session, *, user_id: int, session_id: int) -> None:
    """End the session of the access token used (a concurrent logout ends it too)."""
    if sessions.end(session, user_id=user_id, session_id=session_id, reason=None):
        events.record(session, user_id, "signed_out")


def _claim(session: Session, challenge_id: int, now: datetime) -> bool:
    """Use the challenge up and take back its judgement (it was right): one statement."""
    c = MfaChallenge
    result = session.execute(
        update(c)
        .where(c.id == challenge_id, c.used_at.is_(None))
        .values(used_at=now, failed_attempts=c.failed_attempts - 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _accept_totp(
    session: Session, settings: Settings, user_id: int, otp: str, now: datetime
) -> bool:
    """Accept a code only by moving the user's last step forward (no replay, ever)."""
    encrypted = session.scalar(select(User.twofa_secret).where(User.id == user_id))
    if encrypted is None:
        return False
    step = security.matching_step(security.decrypt(settings.totp_encryption_keys, encrypted), otp)
    if step is None:
        return False
    result = session.execute(
        update(User)
        .where(
            User.id == user_id,
            (User.totp_last_step.is_(None)) | (User.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.execute(
        update(User)
        .where(User.id == user_id, User.totp_confirmed_at.is_(None))
        .values(totp_confirmed_at=now)
        .execution_options(synchronize_session=False)
    )
    return True


def _accept_recovery_code(session: Session, user_id: int, code: str, now: datetime) -> bool:
    r = RecoveryCode
    result = session.execute(
        update(r)
        .where(
            r.user_id == user_id,
            r.code_hash == code_hash(code),
            r.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def code_hash(code: str) -> str:
    return security.sha256(security.normalise_recovery_code(code))


def _params(settings: Settings) -> tuple[int, int, int]:
    return settings.argon2_time_cost, settings.argon2_memory_cost, settings.argon2_parallelism


def too_many(detail: str, retry_after: int, limit: str) -> ApiError:
    """429 of an account's limit (`limit`: "password" or "code")."""
    metrics.rate_limited(f"{limit}_per_account")
    return ApiError(429, detail, headers={"Retry-After": str(retry_after)})
