"""API keys: made by their owner with a fresh proof (or by an admin, for a service
account), listed, revoked. The key is shown once and stored only as its SHA-256; the caller
package finds it at each request (`caller.current`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .. import security
from ..audit import events
from ..caller import Account, roles, scopes
from ..config import Settings
from ..db import utcnow
from ..errors import ApiError, validation_error
from ..models import ApiKey, User
from . import proofs

MAX_LIVE_KEYS = 50
PREFIX_LENGTH = 12
NOT_FOUND = "No such API key of this account."
FULL = f"The account has {MAX_LIVE_KEYS} live API keys, the most it may have."


@dataclass(frozen=True)
class NewKey:
    """A key as made: the only time its secret is shown."""

    key: str
    row: ApiKey


def _live(now: datetime) -> Any:
    return (ApiKey.revoked_at.is_(None)) & (ApiKey.expires_at > now)


def out(row: ApiKey, key: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "scopes": scopes.parsed(row.scopes),
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "last_used_at": row.last_used_at,
        "last_used_ip": row.last_used_ip,
    }
    if key is not None:
        body["key"] = key
    return body


def _owner(session: Session, user_id: int) -> User:
    # Locked until the unit of work ends: two creations for one account count one by one.
    user = session.scalar(select(User).where(User.id == user_id).with_for_update())
    if user is None:
        raise ApiError(404, "This account no longer exists.")
    return user


def usable_scopes(role: str, wanted: list[str]) -> None:
    """422 naming the scopes the role could never use (a viewer's products:write, say)."""
    unusable = [s for s in wanted if not roles.allows(role, scopes.lowest_role(s))]
    if unusable:
        raise validation_error(
            {"scopes": [f"The {role} role cannot use {', '.join(sorted(unusable))}."]}
        )


def _make(
    session: Session,
    user: User,
    *,
    name: str,
    wanted: list[str],
    expires_in: int,
    actor_id: int | None,
) -> NewKey:
    now = utcnow()
    live = session.scalar(select(func.count()).where(ApiKey.user_id == user.id, _live(now)))
    if (live or 0) >= MAX_LIVE_KEYS:
        raise ApiError(409, FULL)
    key = security.new_api_key()
    row = ApiKey(
        user_id=user.id,
        key_hash=security.sha256(key),
        prefix=key[:PREFIX_LENGTH],
        name=name,
        scopes=scopes.stored(wanted),
        created_at=now,
        expires_at=now + timedelta(seconds=expires_in),
    )
    session.add(row)
    session.flush()
    events.record(
        session,
        user.id,
        "api_key_created",
        actor_id=actor_id,
        api_key_id=row.id,
        name=name,
        scopes=scopes.parsed(row.scopes),
    )
    return NewKey(key, row)


def create_own(
    session: Session,
    settings: Settings,
    account: Account,
    proof: proofs.Proof,
    *,
    name: str,
    wanted: list[str],
    expires_in: int,
) -> NewKey:
    """A key of the caller's account, after a fresh proof."""
    usable_scopes(account.role, wanted)
    user = _owner(session, account.id)
    proofs.check(session, settings, user, proof)
    return _make(session, user, name=name, wanted=wanted, expires_in=expires_in, actor_id=None)


def create_for_service(
    session: Session, admin: Account, user_id: int, *, name: str, wanted: list[str], expires_in: int
) -> NewKey:
    """A key of a service account, made by an admin (403 for a person's account)."""
    user = _owner(session, user_id)
    if user.kind != "service":
        raise ApiError(
            403, "People make their own API keys; only a service account's are made here."
        )
    usable_scopes(user.role, wanted)
    return _make(session, user, name=name, wanted=wanted, expires_in=expires_in, actor_id=admin.id)


def live_keys(session: Session, user_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(ApiKey).where(ApiKey.user_id == user_id, _live(utcnow())).order_by(ApiKey.id.desc())
    )
    return [out(row) for row in rows]


def revoke(session: Session, user_id: int, key_id: int, *, actor_id: int | None = None) -> None:
    """Revoke a live key of the account (404 for any other): refused from its next request,
    on every instance (each request reads the key's row)."""
    now = utcnow()
    gone = session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.user_id == user_id, _live(now))
        .values(revoked_at=now)
    )
    if gone.rowcount != 1:  # type: ignore[attr-defined]
        raise ApiError(404, NOT_FOUND)
    name = session.scalar(select(ApiKey.name).where(ApiKey.id == key_id))
    events.record(
        session, user_id, "api_key_revoked", actor_id=actor_id, api_key_id=key_id, name=name
    )
