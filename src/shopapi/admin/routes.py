"""Views of administration (admins only): parse, call the service, serialise."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from apiflask import APIBlueprint
from flask import Response, current_app

from .. import db
from ..audit import events
from ..auth import invites
from ..auth.schemas import PasskeysOut
from ..caller import account, authenticated
from ..caller.roles import ADMIN
from ..config import Settings
from ..db import utcnow
from ..errors import ApiError
from ..resources.pages import PageQuery, keyset_page
from . import service
from .schemas import (
    AccountChangeIn,
    AccountOut,
    AccountPageOut,
    AdminEventPageOut,
    EventQuery,
    InviteIn,
    InviteOut,
    InvitePageOut,
)

bp = APIBlueprint("admin", __name__, url_prefix="/admin", tag="Administration")
_ONE = {404: "No such user"}


def _settings() -> Settings:
    settings: Settings = current_app.extensions["settings"]
    return settings


def _read(statement: Any, params: Mapping[str, Any]) -> Sequence[Any]:
    return db.reader().execute(statement, params).all()


@bp.get("/users/<id:user_id>")
@authenticated(ADMIN)
@bp.output(AccountOut)
@bp.doc(responses=_ONE)
def get_user(user_id: int) -> Any:
    """One account."""
    return service.get(db.session(), user_id)


@bp.get("/users")
@authenticated(ADMIN)
@bp.input(PageQuery, location="query", arg_name="query")
@bp.output(AccountPageOut)
@bp.doc(responses={422: "Bad limit or cursor"})
def list_users(query: dict[str, Any]) -> Any:
    """Accounts ordered by id, a page at a time (follow next_cursor)."""
    found = keyset_page(_read, service.PAGE, query, service.window_params())
    return {"items": [service.as_api(r) for r in found.rows], "next_cursor": found.next_cursor}


@bp.patch("/users/<id:user_id>")
@authenticated(ADMIN)
@bp.input(AccountChangeIn, arg_name="data")
@bp.output(AccountOut)
@bp.doc(responses={**_ONE, 409: "It would leave no enabled admin"})
def change_user(user_id: int, data: dict[str, Any]) -> Any:
    """Change an account's role, or disable or enable it."""
    return service.change(db.session(), account(), user_id, **data)


@bp.post("/users/<id:user_id>/unlock")
@authenticated(ADMIN)
@bp.output({}, status_code=204)
@bp.doc(responses=_ONE)
def unlock_user(user_id: int) -> Any:
    """Start the account's password and code limits over."""
    service.unlock(db.session(), account(), user_id)
    return Response(status=204)


@bp.post("/users/<id:user_id>/reset-totp")
@authenticated(ADMIN)
@bp.output({}, status_code=204)
@bp.doc(responses=_ONE)
def reset_totp(user_id: int) -> Any:
    """Give the account a new authenticator (shown at its next login); its recovery codes
    and passkeys go, and so does any replacement of its authenticator under way."""
    service.reset_totp(db.session(), _settings(), account(), user_id)
    return Response(status=204)


@bp.get("/users/<id:user_id>/passkeys")
@authenticated(ADMIN)
@bp.output(PasskeysOut)
@bp.doc(responses=_ONE)
def list_user_passkeys(user_id: int) -> Any:
    """The account's passkeys, oldest first."""
    return {"items": service.passkeys_of(db.session(), user_id)}


@bp.delete("/users/<id:user_id>/passkeys/<id:passkey_id>")
@authenticated(ADMIN)
@bp.output({}, status_code=204)
@bp.doc(responses={404: "No such user, or not a passkey of theirs"})
def remove_user_passkey(user_id: int, passkey_id: int) -> Any:
    """Remove a passkey of the account; it no longer signs in."""
    service.remove_passkey(db.session(), account(), user_id, passkey_id)
    return Response(status=204)


@bp.post("/invites")
@authenticated(ADMIN)
@bp.input(InviteIn, arg_name="data")
@bp.output(InviteOut, status_code=201)
def create_invite(data: dict[str, Any]) -> Any:
    """A single-use code to register with a role; shown once."""
    _, code, expires_at = invites.create(
        db.session(), role=data["role"], expires_in=data["expires_in"], created_by=account().id
    )
    return {"code": code, "role": data["role"], "expires_at": expires_at}


@bp.get("/invites")
@authenticated(ADMIN)
@bp.input(PageQuery, location="query", arg_name="query")
@bp.output(InvitePageOut)
@bp.doc(responses={422: "Bad limit or cursor"})
def list_invites(query: dict[str, Any]) -> Any:
    """Live invites (unused, unexpired, their maker still an admin) by id; never a code."""
    found = keyset_page(_read, invites.PAGE, query, {"now": utcnow()})
    return {"items": [dict(r._mapping) for r in found.rows], "next_cursor": found.next_cursor}


@bp.delete("/invites/<id:invite_id>")
@authenticated(ADMIN)
@bp.output({}, status_code=204)
@bp.doc(responses={404: "No live invite with this id"})
def revoke_invite(invite_id: int) -> Any:
    """Revoke a live invite: its code no longer registers anyone."""
    if not invites.revoke(db.session(), invite_id):
        raise ApiError(404, f"There is no live invite {invite_id}.")
    return Response(status=204)


@bp.get("/events")
@authenticated(ADMIN)
@bp.input(EventQuery, location="query", arg_name="query")
@bp.output(AdminEventPageOut)
@bp.doc(responses={422: "Bad limit, cursor, user_id or type"})
def list_events(query: dict[str, Any]) -> Any:
    """Every account's security log, newest first; filter by user_id and type."""
    statement = events.all_page(user_id=query.get("user_id"), type_=query.get("type"))
    return events.page(
        _read,
        statement,
        {},
        query,
        with_user=True,
        kept_days=_settings().security_log_days,
    )
