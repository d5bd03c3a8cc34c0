"""Account administration: validated data, the checked admin and the unit of work in.

No change leaves the service without an enabled admin (see `auth.admins`): 409.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from .. import security
from ..audit import events
from ..auth import admins, attempts, passkeys, sessions
from ..caller import Account
from ..caller.roles import ADMIN
from ..config import Settings
from ..db import utcnow
from ..errors import ApiError, validation_error
from ..models import AttemptCounter, MfaChallenge, Passkey, RecoveryCode, TotpEnrollment, User
from ..resources.pages import keyset


def _exhausted(kind: str, subject: Any) -> ColumnElement[bool]:
    c = AttemptCounter
    return exists().where(
        c.kind == kind,
        c.subject == subject,
        c.count >= attempts.LIMIT,
        c.window_start > bindparam("window_opened_after"),
    )


# A user as the admin API shows it; `locked`: a per-account limit is exhausted right now.
USER_COLUMNS = (
    User.id,
    User.username,
    User.role,
    User.disabled,
    User.totp_confirmed_at.is_not(None).label("totp_confirmed"),
    or_(
        _exhausted(attempts.PASSWORD, User.username_normalized),
        _exhausted(attempts.CODE, cast(User.id, String)),
    ).label("locked"),
    User.created_at,
    User.kind,
)
ONE = select(*USER_COLUMNS).where(User.id == bindparam("id"))
PAGE = keyset("users", select(*USER_COLUMNS), User.id)


def window_params() -> dict[str, datetime]:
    return {"window_opened_after": utcnow() - attempts.WINDOW}


def not_found(user_id: int) -> ApiError:
    return ApiError(404, f"There is no user {user_id}.")


def as_api(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


def get(session: Session, user_id: int) -> dict[str, Any]:
    row = session.execute(ONE, {"id": user_id, **window_params()}).first()
    if row is None:
        raise not_found(user_id)
    return as_api(row)


def _target(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise not_found(user_id)
    return user


def change(
    session: Session,
    admin: Account,
    user_id: int,
    *,
    role: str | None = None,
    disabled: bool | None = None,
) -> dict[str, Any]:
    """Set a user's role and/or disabled flag; 409 when no enabled admin would remain."""
    target = _target(session, user_id)
    values: dict[str, Any] = {}
    if role is not None:
        values["role"] = role
    if disabled is not None:
        values["disabled"] = disabled
    if values:
        _apply(session, target, values)
    if role is not None and role != target.role:
        events.record(
            session, user_id, "role_changed", actor_id=admin.id, **{"from": target.role, "to": role}
        )
    if disabled is not None and disabled != target.disabled:
        events.record(session, user_id, "disabled" if disabled else "enabled", actor_id=admin.id)
    if disabled and not target.disabled:
        # Every session ends, and whoever is half way through signing in stops here.
        sessions.end(session, user_id=user_id, reason="disabled", actor_id=admin.id)
        sessions.forget_devices(session, user_id=user_id)
        session.execute(delete(MfaChallenge).where(MfaChallenge.user_id == user_id))
    session.expire(target)
    return get(session, user_id)


def _apply(session: Session, target: User, values: dict[str, Any]) -> None:
    if target.kind == "service" and values.get("role") == ADMIN:
        raise validation_error({"role": ["A service account cannot be an admin."]})
    was_admin = target.role == ADMIN and not target.disabled
    stays_admin = values.get("role", target.role) == ADMIN and not values.get(
        "disabled", target.disabled
    )
    guard: ColumnElement[bool] = true()
    if was_admin and not stays_admin:
        admins.lock_enabled_admins(session)
        guard = admins.another_enabled_admin(target.id)
    changed = session.execute(
        update(User)
        .where(User.id == target.id, guard)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise ApiError(409, "This is the last enabled admin: make another account admin first.")


def unlock(session: Session, admin: Account, user_id: int) -> None:
    """Start the account's password and code limits over."""
    target = _target(session, user_id)
    events.record(session, user_id, "unlocked", actor_id=admin.id)
    c = AttemptCounter
    session.execute(
        delete(c).where(
            or_(
                and_(c.kind == attempts.PASSWORD, c.subject == target.username_normalized),
                and_(c.kind == attempts.CODE, c.subject == str(target.id)),
            )
        )
    )


def reset_totp(session: Session, settings: Settings, admin: Account, user_id: int) -> None:
    """A new authenticator secret, shown at the next login as for a new account; the
    recovery codes, the passkeys, every session, any sign-in under way and any replacement
    of the authenticator under way are gone: the new secret is the only way in."""
    target = _target(session, user_id)
    secret = security.new_totp_secret()
    session.execute(
        update(User)
        .where(User.id == target.id)
        .values(
            twofa_secret=security.encrypt(settings.totp_encryption_keys, secret),
            totp_last_step=None,
            totp_confirmed_at=None,
            enrollment_issued_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == target.id))
    session.execute(delete(MfaChallenge).where(MfaChallenge.user_id == target.id))
    session.execute(delete(TotpEnrollment).where(TotpEnrollment.user_id == target.id))
    events.record(session, target.id, "totp_reset", actor_id=admin.id)
    passkeys.remove_of(session, target.id, actor_id=admin.id)
    sessions.end(session, user_id=target.id, reason="totp_reset", actor_id=admin.id)
    sessions.forget_devices(session, user_id=target.id)


def passkeys_of(session: Session, user_id: int) -> list[dict[str, Any]]:
    """A user's passkeys, oldest first (404 for no such user)."""
    _target(session, user_id)
    rows = session.execute(passkeys.OWN_PASSKEYS.order_by(Passkey.id), {"me": user_id}).all()
    return [as_api(row) for row in rows]


def remove_passkey(session: Session, admin: Account, user_id: int, passkey_id: int) -> None:
    """Remove a passkey of the user, recorded as the admin's doing (404 for any other)."""
    _target(session, user_id)
    if not passkeys.remove_of(session, user_id, passkey_id=passkey_id, actor_id=admin.id):
        raise ApiError(404, f"User {user_id} has no passkey {passkey_id}.")


def set_role_by_name(session: Session, username: str, role: str) -> User:
    """The command line's `users set-role`: the same rule as the API."""
    user = session.scalar(select(User).where(User.username_normalized == username.lower()))
    if user is None:
        raise LookupError(username)
    before = user.role
    _apply(session, user, {"role": role})
    if before != role:
        change: dict[str, Any] = {"from": before, "to": role}
        events.record(session, user.id, "role_changed", **change)
    session.expire(user)
    return user
