"""Service accounts: integrations that belong to no person. An admin makes one with a role
(never admin) and manages its API keys; it has no password anyone knows, no authenticator
in use and no session, so it never signs in interactively."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from .. import security
from ..auth.service import hasher, hashing
from ..caller import Account
from ..config import Settings
from ..db import utcnow
from ..errors import ApiError
from ..models import User
from . import service

PERSON, SERVICE = "person", "service"


def create(
    session: Session, settings: Settings, admin: Account, *, username: str, role: str
) -> dict[str, Any]:
    """A new service account (409 when the name is taken, as at registration).

    Its password is the hash of 256 random bits nobody is told: `/auth/login` spends the
    same work on it as on a person's and answers a wrong password, whatever is sent."""
    unusable = security.hash_password(
        hasher(settings), secrets.token_urlsafe(32), hashing(settings)
    )
    user = User(
        username=username,
        username_normalized=username.lower(),
        password=unusable,
        twofa_secret=security.encrypt(settings.totp_encryption_keys, security.new_totp_secret()),
        role=role,
        disabled=False,
        created_at=utcnow(),
        kind=SERVICE,
    )
    session.add(user)
    session.flush()
    return service.get(session, user.id)


def remove(session: Session, user_id: int) -> None:
    """Delete a service account and its keys (404 for a person's account: people delete
    their own, with a proof)."""
    user = session.get(User, user_id)
    if user is None or user.kind != SERVICE:
        raise ApiError(404, f"There is no service account {user_id}.")
    session.execute(delete(User).where(User.id == user_id, User.kind == SERVICE))
