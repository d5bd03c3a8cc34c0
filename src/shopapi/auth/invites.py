"""Invites: single-use codes to register with a role, stored only as their SHA-256.

An invite is live while it is unused, unexpired, and its maker is still an enabled admin:
an admin who is disabled, demoted or deleted takes every invite they made with them. An
invite made on the command line (`flask users invite`, no maker) needs only the first two.
Every use of that rule (registering, listing, revoking) is one statement's condition; a
registration also holds its maker's row until it commits, so it cannot slip past a
demotion of the maker that is under way (`claim`).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, delete, exists, false, or_, select, update
from sqlalchemy.orm import Session

from .. import security
from ..caller.roles import ADMIN
from ..db import utcnow
from ..models import Invite, User
from ..resources.pages import keyset

DEFAULT_LIFETIME = 7 * 24 * 3600
MAX_LIFETIME = 30 * 24 * 3600


def live(now: Any) -> ColumnElement[bool]:
    """The invite is unused, unexpired at `now`, and its maker (if any) an enabled admin."""
    maker = exists().where(
        User.id == Invite.created_by, User.role == ADMIN, User.disabled == false()
    )
    return and_(
        Invite.used_at.is_(None),
        Invite.expires_at > now,
        or_(Invite.created_by.is_(None), maker),
    )


# The admin API's page of live invites, in id order (keyset, as every list).
COLUMNS = (Invite.id, Invite.role, Invite.created_at, Invite.expires_at, Invite.created_by)
PAGE = keyset("invites", select(*COLUMNS).where(live(bindparam("now"))), Invite.id)


def create(
    session: Session, *, role: str, expires_in: int = DEFAULT_LIFETIME, created_by: int | None
) -> tuple[int, str, datetime]:
    """A new invite: its id, its code (shown once) and when it expires."""
    code = secrets.token_urlsafe(24)
    now = utcnow()
    expires_at = now + timedelta(seconds=expires_in)
    invite = Invite(
        code_hash=security.sha256(code),
        role=role,
        created_by=created_by,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(invite)
    session.flush()
    return invite.id, code, expires_at


def claim(session: Session, code: str) -> str | None:
    """Use the invite up, if it is live: one conditional statement, so of concurrent
    registrations with one code exactly one gets it, and none once its maker stopped being
    an enabled admin. Its role, or None."""
    now = utcnow()
    digest = security.sha256(code)
    # MariaDB: hold the maker's row (shared) until the registration commits, so that a
    # demotion, disabling or deletion under way (it locks that row) is waited for and then
    # seen, and one that comes later waits for the registration. SQLite's writers take turns.
    maker = select(Invite.created_by).where(Invite.code_hash == digest).scalar_subquery()
    session.execute(select(User.id).where(User.id == maker).with_for_update(read=True)).all()
    used = session.execute(
        update(Invite)
        .where(Invite.code_hash == digest, live(now))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.scalar(select(Invite.role).where(Invite.code_hash == digest))


def revoke(session: Session, invite_id: int) -> bool:
    """Delete a live invite; whether there was one."""
    gone = session.execute(
        delete(Invite)
        .where(Invite.id == invite_id, live(utcnow()))
        .execution_options(synchronize_session=False)
    )
    return bool(gone.rowcount == 1)  # type: ignore[attr-defined]
