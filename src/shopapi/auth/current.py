"""The current user is resolved here, and only here."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, wraps
from types import MappingProxyType
from typing import Any, TypeVar, cast

import jwt
from flask import current_app, g, request
from sqlalchemy import bindparam, exists, select

from .. import db, security
from ..config import Settings
from ..errors import unauthorized
from ..models import RevokedToken, User

F = TypeVar("F", bound=Callable[..., Any])

# One indexed round trip: the user (by primary key) and whether the token was revoked.
_USER_AND_REVOCATION = select(
    User.id,
    User.username,
    User.created_at,
    exists().where(RevokedToken.jti == bindparam("jti")).label("revoked"),
).where(User.id == bindparam("id"))


@dataclass(frozen=True)
class CurrentUser:
    id: int
    username: str
    created_at: datetime
    jti: str
    token_expires_at: int


def current_user() -> CurrentUser:
    user: CurrentUser = g.current_user
    return user


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise unauthorized("An access token is required.", error="")
    if scheme.lower() != "bearer" or not token.strip() or " " in token.strip():
        raise unauthorized(
            "The Authorization header must be 'Bearer <access_token>'.", error="invalid_request"
        )
    return token.strip()


@lru_cache(maxsize=4096)
def _verified_claims(token: str, key: str, issuer: str) -> Mapping[str, Any]:
    """Signature and claims of a token, checked once; expiry is checked again at every use.

    A client sends the same token for up to 10 minutes: decoding it once saves PyJWT's
    work on every request. Only tokens that passed every check are kept.
    """
    return MappingProxyType(security.decode_access_token(token, key, issuer))


def authenticate() -> CurrentUser:
    settings: Settings = current_app.extensions["settings"]
    token = _bearer_token()
    try:
        claims = _verified_claims(token, settings.jwt_secret_key, settings.jwt_issuer)
    except jwt.ExpiredSignatureError:
        raise unauthorized("The access token has expired.") from None
    except jwt.InvalidTokenError:
        raise unauthorized("The access token is invalid.") from None
    if claims["exp"] <= time.time():  # what PyJWT checks, for a token decoded earlier
        raise unauthorized("The access token has expired.")
    # Core on the read-only connection: no ORM work, no transaction to end.
    row = (
        db.reader()
        .execute(_USER_AND_REVOCATION, {"jti": claims["jti"], "id": int(claims["sub"])})
        .first()
    )
    if row is None:
        raise unauthorized("The account of this access token no longer exists.")
    if row.revoked:
        raise unauthorized("The access token has been revoked.")
    return CurrentUser(row.id, row.username, row.created_at, claims["jti"], claims["exp"])


def login_required(view: F) -> F:
    """Resolve the bearer token to the current user before the view runs; 401 otherwise."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.current_user = authenticate()
        return view(*args, **kwargs)

    wrapper._login_required = True  # type: ignore[attr-defined]
    return cast(F, wrapper)
