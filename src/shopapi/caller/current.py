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
from datetime import datetime, timedelta
from functools import lru_cache, wraps
from types import MappingProxyType
from typing import Any, TypeVar, cast

import jwt
from flask import current_app, g, request
from sqlalchemy import and_, bindparam, exists, false, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.visitors import replacement_traverse

from .. import clock, db, extensions, security
from ..config import Settings
from ..db import utcnow
from ..db.together import AnySelect, Together, run_together, together
from ..errors import ApiError, unauthorized
from ..models import ApiKey, SignInSession, User
from ..openapi import document_security
from ..signing import SigningKeys
from . import roles, scopes

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

# The same for an API key: one indexed lookup by the key's hash (a unique key), and its
# account's role by primary key (null when the account is disabled). One table in FROM, so
# `together` joins it to a read as it joins the token's probe. A revoked or expired key's
# row is found, and refused.
_KEY_PROBE = select(
    ApiKey.user_id,
    select(User.role)
    .where(User.id == ApiKey.user_id, User.disabled.is_(false()))
    .scalar_subquery()
    .label("role"),
    and_(ApiKey.revoked_at.is_(None), ApiKey.expires_at > bindparam("auth_now")).label("key_alive"),
    ApiKey.id,
    ApiKey.name,
    ApiKey.scopes,
    ApiKey.last_used_at,
).where(ApiKey.key_hash == bindparam("auth_key"))
# In a statement read with a key's probe, the caller's id (the bind parameter `me`) is the
# key's owner, read by the same unique index in the same statement.
_OWNER_KEY = ApiKey.__table__.alias("owner_key")
_KEY_OWNER = (
    select(_OWNER_KEY.c.user_id)
    .where(_OWNER_KEY.c.key_hash == bindparam("auth_key_owner"))
    .correlate(None)
    .scalar_subquery()
)
# How often a key's last use is written: at most once a minute per key.
LAST_USE_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class Principal:
    """The caller as its verified access token says; not yet checked against the database."""

    user_id: int
    session_id: int
    jti: str
    expires_at: int
    # For an API key: the SHA-256 of the key (never the key); the ids above are then 0
    # until the database says whose key it is (`account()`).
    key_hash: str | None = None


@dataclass(frozen=True)
class KeyUse:
    """The API key a request came with, as the database says of it."""

    id: int
    name: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class Account:
    """The caller's account, checked in the database during this request."""

    id: int
    role: str
    # The API key the request came with (None for an access token).
    api_key: KeyUse | None = None

    @property
    def api_key_id(self) -> int | None:
        return None if self.api_key is None else self.api_key.id


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
    """The principal of the request's bearer token, checked without the database; else 401.
    An API key is only hashed here: the database says whether it is one."""
    settings: Settings = current_app.extensions["settings"]
    token = _bearer_token()
    if token.startswith(security.API_KEY_PREFIX):
        return Principal(0, 0, "", 0, key_hash=security.sha256(token))
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
    if caller.key_hash is not None:
        return {
            "auth_key": caller.key_hash,
            "auth_key_owner": caller.key_hash,
            "auth_now": utcnow(),
        }
    return {"auth_user": caller.user_id, "auth_session": caller.session_id, "auth_now": utcnow()}


def _probe(caller: Principal) -> AnySelect:
    return _PROBE if caller.key_hash is None else _KEY_PROBE


def _accept(row: tuple[Any, ...] | None) -> Account:
    """The account from the probe's row: 401 when it is gone or disabled or the token's
    session has ended (or the key is unknown, revoked or expired), then 403 when the key's
    scopes or the account's role do not allow what the view needs."""
    if principal().key_hash is not None:
        return _accept_key(row)
    if row is None:
        raise unauthorized("The account of this access token no longer exists.")
    user_id, role, disabled, session_alive = row
    if disabled:
        raise unauthorized("The account of this access token is disabled.")
    if not session_alive:
        raise unauthorized("The session of this access token has ended; sign in again.")
    return _allowed(Account(user_id, role))


def _accept_key(row: tuple[Any, ...] | None) -> Account:
    # One answer for every refused key: whoever holds a key learns nothing of others.
    if row is None:
        raise unauthorized("The API key is not valid.")
    user_id, role, alive, key_id, name, granted, last_used_at = row
    if role is None or not alive:  # a disabled account's key, or a revoked or expired one
        raise unauthorized("The API key is not valid.")
    key = KeyUse(key_id, name, tuple(scopes.parsed(granted)))
    needed_scope: str | None = g.needed_scope
    if not scopes.allows(key.scopes, needed_scope):
        if needed_scope is None:
            raise ApiError(403, "API keys cannot be used here; sign in as a person.")
        raise ApiError(
            403, f"This needs the {needed_scope} scope; this API key has {', '.join(key.scopes)}."
        )
    checked = _allowed(Account(user_id, role, key))
    _note_use(key_id, last_used_at)
    extensions.per_api_key(key_id)
    return checked


def _allowed(checked: Account) -> Account:
    needed: str = g.needed_role
    if not roles.allows(checked.role, needed):
        raise ApiError(403, f"This needs the {needed} role; this account is {checked.role}.")
    g.account = checked
    return checked


def _note_use(key_id: int, last_used_at: datetime | None) -> None:
    """Write the key's last use when the stored one is a minute old or more: not on every
    request (the condition in the statement keeps racing instances to one write)."""
    now = utcnow()
    if last_used_at is not None and now - last_used_at < LAST_USE_EVERY:
        return
    since = now - LAST_USE_EVERY
    statement = (
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= since),
        )
        .values(last_used_at=now, last_used_ip=request.remote_addr)
    )

    def write() -> None:
        with db.side_connection() as conn:
            conn.execute(statement)

    db.when_work_ends(write)


def _check_account(caller: Principal) -> Account:
    """The account check on its own: one indexed round trip, no transaction."""
    row = db.reader().execute(_probe(caller), _probe_params(caller)).first()
    return _accept(None if row is None else tuple(row))


def _as_key_owner(statement: AnySelect) -> AnySelect:
    """`statement` with the caller's id (`me`) read as the key's owner, in the statement."""

    def replace(element: Any) -> Any:
        if isinstance(element, BindParameter) and element.key == "me":
            return _KEY_OWNER
        return None

    return cast(AnySelect, replacement_traverse(cast(Any, statement), {}, cast(Any, replace)))


_combined: dict[tuple[int, bool], tuple[AnySelect, Together]] = {}


def checked_read(statement: AnySelect, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Rows of `statement`, read in the same round trip that checks the caller's account
    (401 when it fails), in no particular order. For views of `authenticated(checked_in_read=
    True)`; `statement` must be a module-level constant (its combined form is kept)."""
    caller = principal()
    with_key = caller.key_hash is not None
    kept = _combined.get((id(statement), with_key))
    if kept is None or kept[0] is not statement:
        read = _as_key_owner(statement) if with_key else statement
        kept = _combined[(id(statement), with_key)] = (statement, together(_probe(caller), read))
    params = {name: value for name, value in params.items() if not (with_key and name == "me")}
    probe_row, rows = run_together(db.reader(), kept[1], {**params, **_probe_params(caller)})
    _accept(probe_row)
    return rows


def authenticated(
    role: str = roles.VIEWER, *, checked_in_read: bool = False, scope: str | None = None
) -> Callable[[F], F]:
    """Require a valid bearer token (401 otherwise) of an account whose role allows `role`
    (403 otherwise), and document both in OpenAPI. An API key is taken only when `scope`
    names what the view needs of it (`scopes.ANY_KEY`: every key); a key without that scope
    gets 403 before the role is looked at.

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
            found = g._get_current_object()  # once, not through the proxy at each use
            found.needed_role = role
            found.needed_scope = scope
            found.principal = caller = _verify_token()
            if not checked_in_read:
                _check_account(caller)
                return view(*args, **kwargs)
            try:
                response = view(*args, **kwargs)
            except SQLAlchemyError:
                raise  # the database is failing: that is the answer (503)
            except Exception as error:
                refused = isinstance(error, ApiError) and error.status in (401, 403)
                if "account" not in found and not refused:
                    _check_account(caller)
                raise
            if "account" not in found:
                _check_account(caller)
            return response

        document_security(wrapper, role, scope)
        return cast(F, wrapper)

    return decorator
