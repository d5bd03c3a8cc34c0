"""The current account is resolved here, and only here.

A request's bearer token is verified first, without the database: that gives the
*principal* (who the token says is calling), usable from a view's first line. The account
behind it is then checked in the database (it exists and is enabled, the token's session
has not ended, its role allows the operation) in one of two ways, both one round trip:

- `checked_read(statement, params)`: a view that reads runs its statement together with the
  account's probe (`db.together`), so the read and the check are one statement;
- before the view runs (`authenticated()` without `checked_in_read`): for views that write;
  they pass the resulting `Account` to the services that write, so the type says the check
  happened before anything was written.

Whatever a view does, a request whose account is gone or disabled or whose session has
ended gets 401, and then one whose role is too low gets 403, before any other answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache, wraps
from types import MappingProxyType
from typing import Any, TypeVar, cast

import jwt
from flask import current_app, g, request
from sqlalchemy import bindparam, exists, select
from sqlalchemy.exc import SQLAlchemyError

from .. import clock, db, security
from ..config import Settings
from ..db import utcnow
from ..db.together import AnySelect, Together, run_together, together
from ..errors import ApiError, unauthorized
from ..models import SignInSession, User
from ..openapi import document_security
from ..signing import SigningKeys
from . import roles

F = TypeVar("F", bound=Callable[..., Any])

# What the database says of the caller's account: one indexed lookup by primary key.
_PROBE = select(
    User.id,
    User.role,
    User.disabled,
    exists()
    .where(
        SignInSession.id == bindparam("auth_session"),
        SignInSession.user_id == User.id,
        SignInSession.expires_at > bindparam("auth_now"),
    )
    .label("session_alive"),
).where(User.id == bindparam("auth_user"))


@dataclass(frozen=True)
class Principal:
    """The caller as its verified access token says; not yet checked against the database."""

    user_id: int
    session_id: int
    jti: str
    expires_at: int


@dataclass(frozen=True)
class Account:
    """The caller's account, checked in the database during this request."""

    id: int
    role: str


def principal() -> Principal:
    """The verified token's principal; set before any `authenticated` view runs."""
    result: Principal = g.principal
    return result


def account() -> Account:
    """The caller's checked account (checked before the view, or by its `checked_read`)."""
    if "account" not in g:
        raise RuntimeError("the account has not been checked in this request")
    result: Account = g.account
    return result


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
def _verified_claims(token: str, keys: SigningKeys, issuer: str, ttl: int) -> Mapping[str, Any]:
    """Signature and claims of a token, checked once; expiry is checked again at every use.

    A client sends the same token for up to 10 minutes: decoding it once saves PyJWT's
    work (an Ed25519 signature costs more than an HMAC) on every request. Only tokens
    that passed every check are kept; `keys` is one object per app, hashed by identity.
    """
    return MappingProxyType(security.decode_access_token(token, keys, issuer, ttl))


def _verify_token() -> Principal:
    """The principal of the request's bearer token, checked without the database; else 401."""
    settings: Settings = current_app.extensions["settings"]
    token = _bearer_token()
    try:
        claims = _verified_claims(
            token, settings.keys, settings.jwt_issuer, settings.access_token_ttl
        )
    except jwt.ExpiredSignatureError:
        raise unauthorized("The access token has expired.") from None
    except jwt.InvalidTokenError:
        raise unauthorized("The access token is invalid.") from None
    if claims["exp"] <= clock.now():  # checked again for a token decoded earlier
        raise unauthorized("The access token has expired.")
    return Principal(int(claims["sub"]), int(claims["sid"]), claims["jti"], claims["exp"])


def _probe_params(caller: Principal) -> dict[str, Any]:
    return {"auth_user": caller.user_id, "auth_session": caller.session_id, "auth_now": utcnow()}


def _accept(row: tuple[Any, ...] | None) -> Account:
    """The account from the probe's row: 401 when it is gone or disabled or the token's
    session has ended, 403 when its role does not allow what the view needs."""
    if row is None:
        raise unauthorized("The account of this access token no longer exists.")
    user_id, role, disabled, session_alive = row
    if disabled:
        raise unauthorized("The account of this access token is disabled.")
    if not session_alive:
        raise unauthorized("The session of this access token has ended; sign in again.")
    needed: str = g.needed_role
    if not roles.allows(role, needed):
        raise ApiError(403, f"This needs the {needed} role; this account is {role}.")
    g.account = checked = Account(user_id, role)
    return checked


def _check_account(caller: Principal) -> Account:
    """The account check on its own: one indexed round trip, no transaction."""
    row = db.reader().execute(_PROBE, _probe_params(caller)).first()
    return _accept(None if row is None else tuple(row))


_combined: dict[int, Together] = {}


def checked_read(statement: AnySelect, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Rows of `statement`, read in the same round trip that checks the caller's account
    (401 when it fails), in no particular order. For views of `authenticated(checked_in_read=
    True)`; `statement` must be a module-level constant (its combined form is kept)."""
    combined = _combined.get(id(statement))
    if combined is None or combined.statement is not statement:
        combined = _combined[id(statement)] = together(_PROBE, statement)
    caller = principal()
    probe_row, rows = run_together(db.reader(), combined, {**params, **_probe_params(caller)})
    _accept(probe_row)
    return rows


def authenticated(role: str = roles.VIEWER, *, checked_in_read: bool = False) -> Callable[[F], F]:
    """Require a valid bearer token (401 otherwise) of an account whose role allows `role`
    (403 otherwise), and document both in OpenAPI.

    The account is checked before the view runs, unless `checked_in_read`: then the view's
    `checked_read` checks it in the statement it reads with. If such a view fails before its
    read (a bad query string, say) or returns without one, the account is checked on its own
    first, so 401 and 403 still come before any other answer.
    """
    if checked_in_read and role != roles.VIEWER:
        # Whatever the role allows must not be looked at before the role is checked.
        raise ValueError("only views open to every role check the account in their read")

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.needed_role = role
            g.principal = caller = _verify_token()
            if not checked_in_read:
                _check_account(caller)
                return view(*args, **kwargs)
            try:
                response = view(*args, **kwargs)
            except SQLAlchemyError:
                raise  # the database is failing: that is the answer (503)
            except Exception as error:
                refused = isinstance(error, ApiError) and error.status in (401, 403)
                if "account" not in g and not refused:
                    _check_account(caller)
                raise
            if "account" not in g:
                _check_account(caller)
            return response

        document_security(wrapper, role)
        return cast(F, wrapper)

    return decorator
