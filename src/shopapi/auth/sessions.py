"""Sessions: started by a sign-in, kept alive by rotating refresh tokens, ended by deletion.

A session row lives until it ends (logout, sign-out, reuse of a refresh token, a disabled
account) or expires: after `SESSION_IDLE_TIMEOUT` without a refresh, and at the latest
`SESSION_MAX_AGE` after its sign-in. Its access tokens carry its id (`sid`) and are refused
from the moment the row is gone. Refresh and device tokens are opaque, 256 random bits,
stored only as SHA-256 hashes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from .. import db, metrics, security
from ..audit import events
from ..config import Settings
from ..db import utcnow
from ..errors import ApiError, unauthorized
from ..models import DeviceToken, RefreshToken, SignInSession, User

DEVICE_TOKEN_LIFETIME = timedelta(days=90)
BAD_REFRESH_TOKEN = "The refresh token is invalid, expired or used up; sign in again."  # noqa: S105


@dataclass(frozen=True)
class Tokens:
    """What a sign-in or a refresh hands out."""

    access: security.AccessToken
    refresh_token: str
    refresh_expires_in: int
    session_id: int


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)  # 256 random bits


def _seconds(until: datetime, now: datetime) -> int:
    return max(int((until - now).total_seconds()), 0)


def _idle_end(settings: Settings, now: datetime, max_expires_at: datetime) -> datetime:
    return min(now + timedelta(seconds=settings.session_idle_timeout), max_expires_at)


def _issue(
    session: Session, settings: Settings, *, user_id: int, session_id: int, expires_at: datetime
) -> Tokens:
    now = utcnow()
    refresh = new_opaque_token()
    session.execute(
        insert(RefreshToken).values(
            session_id=session_id, token_hash=security.sha256(refresh), created_at=now
        )
    )
    access = security.create_access_token(
        user_id,
        session_id,
        settings.keys,
        settings.jwt_issuer,
        settings.access_token_ttl,
    )
    return Tokens(access, refresh, _seconds(expires_at, now), session_id)


def start(session: Session, settings: Settings, *, user_id: int, user_agent: str | None) -> Tokens:
    """A new session for a sign-in that just succeeded."""
    now = utcnow()
    max_expires_at = now + timedelta(seconds=settings.session_max_age)
    expires_at = _idle_end(settings, now, max_expires_at)
    result = session.connection().execute(
        insert(SignInSession).values(
            user_id=user_id,
            created_at=now,
            last_used_at=now,
            expires_at=expires_at,
            max_expires_at=max_expires_at,
            user_agent=user_agent,
        )
    )
    (session_id,) = result.inserted_primary_key or (None,)
    if session_id is None:  # pragma: no cover - every supported backend reports the new id
        raise RuntimeError("the database did not report the new session's id")
    db.when_committed(metrics.session_started)
    _end_past_cap(session, settings, user_id)
    return _issue(
        session, settings, user_id=user_id, session_id=int(session_id), expires_at=expires_at
    )


def _end_past_cap(session: Session, settings: Settings, user_id: int) -> None:
    """Past `SESSION_MAX_PER_ACCOUNT` live sessions, the oldest end (reason `session_cap`)."""
    s = SignInSession
    past = (
        session.execute(
            select(s.id)
            .where(s.user_id == user_id, s.expires_at > utcnow())
            .order_by(s.id.desc())
            .offset(settings.session_max_per_account)
        )
        .scalars()
        .all()
    )
    for session_id in past:
        end(session, user_id=user_id, session_id=session_id, reason="session_cap")


def refresh(session: Session, settings: Settings, *, token: str, user_agent: str | None) -> Tokens:
    """Rotate: use the refresh token up and hand out new tokens (of racing refreshes with one
    token exactly one wins). A used-up token presented again ends its whole session: the
    refusal is kept (committed), then 401.

    Locks are taken in the order every ending of a session takes them: the session row
    first (`FOR UPDATE`), then its refresh tokens; so a refresh racing a logout, a sign-out
    everywhere or a disabled account waits for it instead of deadlocking with it."""
    if not token.isascii() or not 0 < len(token) <= 128:
        raise unauthorized(BAD_REFRESH_TOKEN)
    now = utcnow()
    digest = security.sha256(token)
    s, r = SignInSession, RefreshToken
    session_id = session.scalar(select(r.session_id).where(r.token_hash == digest))
    if session_id is None:
        raise unauthorized(BAD_REFRESH_TOKEN)
    held = session.execute(
        select(s.user_id, s.max_expires_at, s.expires_at)
        .where(s.id == session_id)
        .with_for_update()
    ).first()
    if held is None:  # ended (its tokens went with it) while we looked
        raise unauthorized(BAD_REFRESH_TOKEN)
    user_id, max_expires_at, expires_at = held
    used = session.execute(
        update(r)
        .where(r.token_hash == digest, r.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        metrics.refresh_reused()
        end(session, user_id=user_id, session_id=session_id, reason="reuse_detected")
        raise unauthorized(
            "This refresh token was used already: its session has ended; sign in again."
        ).keeping_work()
    disabled = session.scalar(select(User.disabled).where(User.id == user_id))
    if expires_at <= now or disabled is not False:
        raise unauthorized(BAD_REFRESH_TOKEN)  # rolled back: the token is not used up
    expires_at = _idle_end(settings, now, max_expires_at)
    session.execute(
        update(s)
        .where(s.id == session_id)
        .values(last_used_at=now, expires_at=expires_at, user_agent=user_agent)
        .execution_options(synchronize_session=False)
    )
    db.when_committed(metrics.session_refreshed)
    return _issue(session, settings, user_id=user_id, session_id=session_id, expires_at=expires_at)


def end(
    session: Session,
    *,
    user_id: int,
    reason: str | None,
    session_id: int | None = None,
    keep: int | None = None,
    actor_id: int | None = None,
) -> int:
    """End one live session of the account (`session_id`), or all of them but `keep`; how
    many ended. Each ending is a `session_ended` event with `reason` (None: the caller
    records what happened itself, as logout does)."""
    s = SignInSession
    condition = [s.user_id == user_id, s.expires_at > utcnow()]
    if session_id is not None:
        condition.append(s.id == session_id)
    if keep is not None:
        condition.append(s.id != keep)
    ended = session.execute(select(s.id).where(*condition)).scalars().all()
    if not ended:
        return 0
    # Only rows still there count: a concurrent ending ends each session once.
    result = session.execute(delete(s).where(s.id.in_(ended)))
    count = int(result.rowcount)  # type: ignore[attr-defined]
    # Logout (reason None) records its own event; its sessions end as "signed_out".
    db.when_committed(lambda: metrics.sessions_ended(reason or "signed_out", count))
    if reason is not None:
        events.record_many(
            session, [user_id] * count, "session_ended", actor_id=actor_id, reason=reason
        )
    return count


def end_or_404(session: Session, *, user_id: int, session_id: int) -> None:
    if end(session, user_id=user_id, session_id=session_id, reason="revoked") != 1:
        raise ApiError(404, f"There is no live session {session_id} of this account.")


# The account's live sessions (read with `checked_read`: one round trip).
LIVE_SESSIONS = select(
    SignInSession.id,
    SignInSession.created_at,
    SignInSession.last_used_at,
    SignInSession.expires_at,
    SignInSession.user_agent,
).where(SignInSession.user_id == bindparam("me"), SignInSession.expires_at > bindparam("now"))


def new_device_token(session: Session, *, user_id: int) -> str:
    """A device token for the account's sign-in that just succeeded (valid 90 days)."""
    now = utcnow()
    token = new_opaque_token()
    session.execute(
        insert(DeviceToken).values(
            user_id=user_id,
            token_hash=security.sha256(token),
            created_at=now,
            expires_at=now + DEVICE_TOKEN_LIFETIME,
        )
    )
    return token


def device_of(session: Session, token: str, username_normalized: str) -> int | None:
    """The id of `token` if it is a live device token of that account, else None."""
    d = DeviceToken
    found: Any = session.execute(
        select(d.id)
        .join(User, User.id == d.user_id)
        .where(
            d.token_hash == security.sha256(token),
            d.expires_at > utcnow(),
            User.username_normalized == username_normalized,
        )
    ).scalar()
    return None if found is None else int(found)


def forget_devices(session: Session, *, user_id: int) -> None:
    """Every device token of the account dies: after a password change, a reset of its
    second factor or its disabling, no device signed in before may pass its lockout."""
    session.execute(delete(DeviceToken).where(DeviceToken.user_id == user_id))


def forget_device(device_id: int) -> None:
    """A device token that had its 10 failed passwords dies (its own short transaction: the
    login that found it may still fail)."""
    with db.side_connection() as conn:
        conn.execute(delete(DeviceToken).where(DeviceToken.id == device_id))
