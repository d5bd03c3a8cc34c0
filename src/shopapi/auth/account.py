"""Account care: a new password, new recovery codes, a new authenticator, deleting the
account. Each needs a fresh proof (`proofs.check`) and happens in one unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.orm import Session

from .. import security
from ..audit import events
from ..caller import Account
from ..config import Settings
from ..db import utcnow
from ..errors import ApiError, validation_error
from ..models import AttemptCounter, DeviceToken, RecoveryCode, TotpEnrollment, User
from . import admins, attempts, proofs, sessions
from .service import Enrollment, code_hash, enrollment, hasher, hashing

ENROLLMENT_LIFETIME = timedelta(minutes=10)
MAX_WRONG_CODES_PER_ENROLLMENT = 5
BAD_ENROLLMENT = "The enrollment token is not valid, or the code is wrong."


def _user(session: Session, account: Account) -> User:
    user = session.get(User, account.id)
    if user is None:  # deleted by a concurrent request since the account was checked
        raise ApiError(404, "This account no longer exists.")
    return user


def change_password(
    session: Session,
    settings: Settings,
    account: Account,
    proof: proofs.Proof,
    *,
    new_password: str,
    current_session: int,
) -> None:
    """The new password follows the rules of registration; every other session ends."""
    user = _user(session, account)
    problems = security.password_problems(new_password, user.username)
    if problems:
        raise validation_error({"new_password": problems})
    proofs.check(session, settings, user, proof)
    user.password = security.hash_password(hasher(settings), new_password, hashing(settings))
    sessions.end(session, user_id=user.id, keep=current_session, reason="password_changed")
    sessions.forget_devices(session, user_id=user.id)
    events.record(session, user.id, "password_changed")


def replace_recovery_codes(
    session: Session, settings: Settings, account: Account, proof: proofs.Proof
) -> list[str]:
    """Ten new codes; every earlier one stops working."""
    user = _user(session, account)
    proofs.check(session, settings, user, proof)
    codes = security.new_recovery_codes()
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.execute(
        insert(RecoveryCode), [{"user_id": user.id, "code_hash": code_hash(c)} for c in codes]
    )
    events.record(session, user.id, "recovery_codes_replaced")
    return codes


@dataclass(frozen=True)
class Replacement:
    totp: Enrollment
    enrollment_token: str
    expires_in: int


def start_totp_replacement(
    session: Session, settings: Settings, account: Account, proof: proofs.Proof
) -> Replacement:
    """A new authenticator to scan; the old one works until the new one is confirmed."""
    user = _user(session, account)
    proofs.check(session, settings, user, proof)
    secret = security.new_totp_secret()
    token = security.new_mfa_token()
    session.execute(
        insert(TotpEnrollment).values(
            user_id=user.id,
            token_hash=security.sha256(token),
            secret=security.encrypt(settings.totp_encryption_keys, secret),
            expires_at=utcnow() + ENROLLMENT_LIFETIME,
            failed_attempts=0,
        )
    )
    return Replacement(
        enrollment(settings, user.username, secret),
        token,
        int(ENROLLMENT_LIFETIME.total_seconds()),
    )


def confirm_totp(
    session: Session, settings: Settings, account: Account, *, token: str, otp: str, current: int
) -> None:
    """The new secret replaces the old once a code of it is right; the confirming code's
    step is the first one taken, and every other session ends.

    Like an mfa_token, an enrollment token counts a judgement before the code is judged
    (one conditional statement on its own connection), so it dies after 5 wrong codes,
    however many race."""
    now = utcnow()
    e = TotpEnrollment
    found = session.execute(
        select(e.id, e.secret).where(
            e.token_hash == security.sha256(token),
            e.user_id == account.id,
            e.used_at.is_(None),
            e.expires_at > now,
            e.failed_attempts < MAX_WRONG_CODES_PER_ENROLLMENT,
        )
    ).first()
    if found is None or not attempts.reserve_judgement(
        TotpEnrollment, found.id, MAX_WRONG_CODES_PER_ENROLLMENT
    ):
        raise ApiError(403, BAD_ENROLLMENT)
    secret = security.decrypt(settings.totp_encryption_keys, found.secret)
    step = security.matching_step(secret, otp)
    if step is None:
        raise ApiError(403, BAD_ENROLLMENT)
    claimed = session.execute(
        update(e)
        .where(e.id == found.id, e.used_at.is_(None))
        .values(used_at=now, failed_attempts=e.failed_attempts - 1)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise ApiError(403, BAD_ENROLLMENT)  # confirmed by a concurrent request
    session.execute(
        update(User)
        .where(User.id == account.id)
        .values(
            twofa_secret=found.secret,
            totp_last_step=step,
            totp_confirmed_at=now,
            enrollment_issued_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    sessions.end(session, user_id=account.id, keep=current, reason="totp_replaced")
    events.record(session, account.id, "totp_replaced")


def delete_account(
    session: Session, settings: Settings, account: Account, proof: proofs.Proof
) -> None:
    """The account and everything of it go (its sessions, codes, devices, counters, log);
    the products it touched and their history stay. The last enabled admin cannot: 409."""
    user = _user(session, account)
    guard = None
    if admins.is_enabled_admin(user):
        admins.lock_enabled_admins(session)
        guard = admins.another_enabled_admin(user.id)
        if not session.scalar(select(guard)):
            raise admins.last_admin()
    proofs.check(session, settings, user, proof)
    devices = select(DeviceToken.id).where(DeviceToken.user_id == user.id)
    device_ids = [str(d) for d in session.execute(devices).scalars()]
    c = AttemptCounter
    session.execute(
        delete(c).where(
            or_(
                (c.kind == attempts.PASSWORD) & (c.subject == user.username_normalized),
                (c.kind == attempts.CODE) & (c.subject == str(user.id)),
                (c.kind == attempts.DEVICE) & (c.subject.in_(device_ids)),
            )
        )
    )
    condition = [User.id == user.id] + ([guard] if guard is not None else [])
    deleted = session.execute(delete(User).where(*condition))
    if deleted.rowcount != 1:  # type: ignore[attr-defined]
        raise admins.last_admin()
