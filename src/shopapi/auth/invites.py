"""Invites: single-use codes to register with a role, stored only as their SHA-256."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import security
from ..db import utcnow
from ..models import Invite

DEFAULT_LIFETIME = 7 * 24 * 3600
MAX_LIFETIME = 30 * 24 * 3600


def create(
    session: Session, *, role: str, expires_in: int = DEFAULT_LIFETIME, created_by: int | None
) -> tuple[str, datetime]:
    """A new invite: its code (shown once) and when it expires."""
    code = secrets.token_urlsafe(24)
    now = utcnow()
    expires_at = now + timedelta(seconds=expires_in)
    session.add(
        Invite(
            code_hash=security.sha256(code),
            role=role,
            created_by=created_by,
            created_at=now,
            expires_at=expires_at,
        )
    )
    session.flush()
    return code, expires_at


def claim(session: Session, code: str) -> str | None:
    """Use the invite up, if it is unknown to no one, unused and unexpired: one conditional
    statement, so of concurrent registrations with one code exactly one gets it. Its role,
    or None."""
    now = utcnow()
    digest = security.sha256(code)
    used = session.execute(
        update(Invite)
        .where(Invite.code_hash == digest, Invite.used_at.is_(None), Invite.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.scalar(select(Invite.role).where(Invite.code_hash == digest))
