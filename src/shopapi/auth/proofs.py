"""A fresh proof for account care: the password, and a TOTP code or a recovery code.

A proof is judged whole. Both parts are counted first (a slot of the account's password
limit and one of its code limit, as at sign-in), then judged without using anything up.
When any part is wrong, nothing is used up (the recovery code stays usable, the TOTP step
is not taken), the wrong parts stay counted (and logged), and the answer is one 403 whose
body does not say which part was wrong. When every part is right, the code is used up by
one conditional statement (so a proof works once, also when two requests race with it)
and both slots are given back.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from .. import db, metrics, security
from ..audit import events
from ..config import Settings
from ..errors import ApiError
from ..models import RecoveryCode, User
from . import attempts
from .service import code_hash, hasher, hashing, too_many

WRONG_PROOF = "The password or the code is wrong."


@dataclass(frozen=True)
class Proof:
    password: str
    otp: str | None = None
    recovery_code: str | None = None


def check(session: Session, settings: Settings, user: User, proof: Proof) -> None:
    """Use the proof up if every part of it is right; 403 (or 429) otherwise (503 while
    the hashing pool is full, before anything is counted)."""
    with hashing(settings).place():
        _check(session, settings, user, proof)


def _check(session: Session, settings: Settings, user: User, proof: Proof) -> None:
    # What the counters are keyed on, read now: a rollback expires the account's row.
    counted = (user.username_normalized, str(user.id))
    password_slot = attempts.reserve(attempts.PASSWORD, user.username_normalized)
    if not password_slot.granted:
        raise too_many(
            "Too many failed sign-ins for this account.", password_slot.retry_after, "password"
        )
    code_slot = attempts.reserve(attempts.CODE, str(user.id))
    if not code_slot.granted:
        attempts.release(attempts.PASSWORD, user.username_normalized)
        raise too_many("Too many wrong codes for this account.", code_slot.retry_after, "code")

    password_right = security.verify_password(
        hasher(settings), user.password, proof.password, hashing(settings)
    )
    step = _totp_step(settings, user, proof.otp) if proof.otp is not None else None
    code_right = step is not None if proof.otp is not None else _unused(session, user, proof)
    if password_right and code_right:
        code_right = _use_up(session, user, proof, step)
    if password_right and code_right:
        db.when_work_ends(lambda: _give_back(counted, password=True, code=True))
        return
    # After the unit of work ends: on SQLite the conditional UPDATE above holds the lock.
    db.when_work_ends(lambda: _give_back(counted, password=password_right, code=code_right))
    failed: list[events.EventType] = []
    if not password_right:
        failed += ["password_failed", *(("locked_out",) if password_slot.last else ())]
        metrics.sign_in_failed("password", locked_out=password_slot.last)
    if not code_right:
        failed += ["code_failed", *(("locked_out",) if code_slot.last else ())]
        metrics.sign_in_failed("code", locked_out=code_slot.last)
    events.record_failure(int(counted[1]), *dict.fromkeys(failed))
    raise ApiError(403, WRONG_PROOF)


def _give_back(counted: tuple[str, str], *, password: bool, code: bool) -> None:
    if password:
        attempts.release(attempts.PASSWORD, counted[0])
    if code:
        attempts.release(attempts.CODE, counted[1])


def _totp_step(settings: Settings, user: User, otp: str) -> int | None:
    """The step of a right code that has not been used (its step is newer than the last)."""
    secret = security.decrypt(settings.totp_encryption_keys, user.twofa_secret)
    step = security.matching_step(secret, otp)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return None
    return step


def _unused(session: Session, user: User, proof: Proof) -> bool:
    r = RecoveryCode
    found = session.scalar(
        select(
            exists().where(
                r.user_id == user.id,
                r.code_hash == code_hash(proof.recovery_code or ""),
                r.used_at.is_(None),
            )
        )
    )
    return bool(found)


def _use_up(session: Session, user: User, proof: Proof, step: int | None) -> bool:
    """Take the TOTP step or use the recovery code up: false when a concurrent request
    took it first."""
    if step is not None:
        statement = (
            update(User)
            .where(
                User.id == user.id,
                (User.totp_last_step.is_(None)) | (User.totp_last_step < step),
            )
            .values(totp_last_step=step)
        )
    else:
        r = RecoveryCode
        statement = (
            update(r)
            .where(
                r.user_id == user.id,
                r.code_hash == code_hash(proof.recovery_code or ""),
                r.used_at.is_(None),
            )
            .values(used_at=db.utcnow())
        )
    result = session.execute(statement.execution_options(synchronize_session=False))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
