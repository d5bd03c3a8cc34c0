"""The current user is resolved here, and only here."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache, wraps
from types import MappingProxyType
from typing import Any, TypeVar, cast

import jwt
from flask import current_app, g, request
from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Executable,
    FromClause,
    Select,
    Subquery,
    bindparam,
    exists,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.exc import SQLAlchemyError

from .. import db, security
from ..config import Settings
from ..errors import ApiError, unauthorized
from ..models import RevokedToken, User

F = TypeVar("F", bound=Callable[..., Any])

# What resolves the current user: the account (by primary key) and whether the token was
# revoked. Every statement that checks an account starts with these columns.
_ACCOUNT_COLUMNS = (
    User.id,
    exists().where(RevokedToken.jti == bindparam("auth_jti")).label("auth_revoked"),
)
_ACCOUNT = len(_ACCOUNT_COLUMNS)
# One indexed round trip.
_USER_AND_REVOCATION = select(*_ACCOUNT_COLUMNS).where(User.id == bindparam("auth_user"))


@dataclass(frozen=True)
class CurrentUser:
    id: int
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


def _token_claims() -> Mapping[str, Any]:
    """The claims of the request's bearer token, checked without the database; 401 otherwise."""
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
    return claims


def _account_params(claims: Mapping[str, Any]) -> dict[str, Any]:
    return {"auth_jti": claims["jti"], "auth_user": int(claims["sub"])}


def _resolve(row: Any, claims: Mapping[str, Any]) -> CurrentUser:
    """The current user from a row that starts with `_ACCOUNT_COLUMNS` (None: no account)."""
    if row is None:
        raise unauthorized("The account of this access token no longer exists.")
    user_id, revoked = row[:_ACCOUNT]
    if revoked:
        raise unauthorized("The access token has been revoked.")
    return CurrentUser(user_id, claims["jti"], claims["exp"])


def authenticate(claims: Mapping[str, Any] | None = None) -> CurrentUser:
    """The current user: the token (unless its `claims` were checked already), then the
    account, in one indexed round trip; 401 otherwise."""
    claims = _token_claims() if claims is None else claims
    # Core on the read-only connection: no ORM work, no transaction to end.
    row = db.reader().execute(_USER_AND_REVOCATION, _account_params(claims)).first()
    return _resolve(row, claims)


def login_required(view: F) -> F:
    """Resolve the bearer token to the current user before the view runs; 401 otherwise."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.current_user = authenticate()
        return view(*args, **kwargs)

    return cast(F, wrapper)


# --- reads that check the account in their own statement ------------------------------


def with_account(
    *columns: Any, join: FromClause | None = None, on: ColumnElement[bool] | None = None
) -> Select[Any]:
    """One statement that checks the current user's account and reads `columns`: of the
    account itself, or of one row of `join`, LEFT JOINed `on` a key lookup. For
    `fetch_as_current_user`.

    A read then costs one round trip instead of two. The first of `columns` must never
    be null in a matching row (a primary key, say). For many rows, see `with_account_rows`.
    """
    users = User.__table__
    source = users if join is None else users.outerjoin(join, on)
    return (
        select(*_ACCOUNT_COLUMNS, *columns)
        .select_from(source)
        .where(User.id == bindparam("auth_user"))
    )


def with_account_rows(resource: Select[Any] | Subquery) -> CompoundSelect[Any]:
    """Like `with_account`, for a `resource` of many rows (a page, with ORDER BY and LIMIT).

    The account's row and the resource's rows come back together (UNION ALL), each padded
    with NULLs in the other's columns, so neither changes how the other is planned: the
    resource keeps its index walk and stops at its LIMIT. (A LEFT JOIN onto the resource
    would have the database sort the whole range first.) The first column of `resource`
    must never be null. Give a SELECT with ORDER BY or LIMIT as a subquery where the
    database takes neither on a part of a UNION, as SQLite does not.
    """
    columns = list(resource.c if isinstance(resource, Subquery) else resource.selected_columns)
    account = select(*_ACCOUNT_COLUMNS, *(type_coerce(null(), c.type) for c in columns))
    padding = [type_coerce(null(), c.type) for c in _ACCOUNT_COLUMNS]
    if isinstance(resource, Subquery):
        rows = select(*padding, *columns)
    else:
        rows = resource.with_only_columns(*padding, *columns)
    return union_all(account.where(User.id == bindparam("auth_user")), rows)


def fetch_as_current_user(
    conn: Connection, statement: Executable, params: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """Run a `with_account` or `with_account_rows` statement: check the account as
    `login_required` does (401 when it is gone or the token was revoked), then return the
    resource's rows, without the account's columns, in no particular order."""
    claims: Mapping[str, Any] = g.token_claims
    account = None
    rows = []
    for row in conn.execute(statement, {**params, **_account_params(claims)}):
        if row[0] is not None:  # the account (and, joined, the resource's one row)
            account = row
        if row[_ACCOUNT] is not None:
            rows.append(row[_ACCOUNT:])
    g.current_user = _resolve(account, claims)
    return rows


def token_required(view: F) -> F:
    """Like `login_required`, for a view that checks the account itself, in the statement it
    reads with (`with_account` and `fetch_as_current_user`).

    The token is checked before the view runs (no database work). Whatever else the view
    answers, a request whose account is gone or whose token was revoked gets 401: when the
    view fails before its statement ran (a bad query string, say), the account is checked
    on its own first. A view that returns without checking the account is a bug, and its
    response is never sent.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.token_claims = claims = _token_claims()
        try:
            response = view(*args, **kwargs)
        except SQLAlchemyError:
            raise  # the database is failing: that is the answer (503)
        except Exception as error:
            refused = isinstance(error, ApiError) and error.status == 401
            if "current_user" not in g and not refused:
                g.current_user = authenticate(claims)  # 401 comes before any other answer
            raise
        if "current_user" not in g:
            raise RuntimeError(f"{view.__name__} did not check the account of its token")
        return response

    return cast(F, wrapper)
