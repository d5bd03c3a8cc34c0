"""Views of service accounts and of any account's API keys (admins only)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app

from .. import db
from ..auth import api_keys
from ..auth.schemas import ApiKeyIn, ApiKeysOut, NewApiKeyOut
from ..caller import account, authenticated
from ..caller.roles import ADMIN
from . import service, service_accounts
from .routes import bp
from .schemas import AccountOut, ServiceAccountIn

_ONE = {404: "No such user"}


@bp.post("/service-accounts")
@authenticated(ADMIN)
@bp.input(ServiceAccountIn, arg_name="data")
@bp.output(AccountOut, status_code=201)
@bp.doc(responses={409: "The username is taken"})
def create_service_account(data: dict[str, Any]) -> Any:
    """A new service account (kind "service"): an integration with API keys only."""
    return service_accounts.create(
        db.session(),
        current_app.extensions["settings"],
        account(),
        username=data["username"],
        role=data["role"],
    )


@bp.delete("/service-accounts/<id:user_id>")
@authenticated(ADMIN)
@bp.output({}, status_code=204)
@bp.doc(responses={404: "No such service account"})
def delete_service_account(user_id: int) -> Any:
    """Delete a service account; its keys stop working at once."""
    service_accounts.remove(db.session(), user_id)
    return Response(status=204)


@bp.post("/users/<id:user_id>/api-keys")
@authenticated(ADMIN)
@bp.input(ApiKeyIn, arg_name="data")
@bp.output(NewApiKeyOut, status_code=201)
@bp.doc(
    responses={
        **_ONE,
        403: "A person's account: people make their own keys",
        409: api_keys.FULL,
    }
)
def create_user_api_key(user_id: int, data: dict[str, Any]) -> Any:
    """A new API key of a service account; the key is shown in this answer only."""
    made = api_keys.create_for_service(
        db.session(),
        account(),
        user_id,
        name=data["name"],
        wanted=data["scopes"],
        expires_in=data["expires_in"],
    )
    return api_keys.out(made.row, made.key)


@bp.get("/users/<id:user_id>/api-keys")
@authenticated(ADMIN)
@bp.output(ApiKeysOut)
@bp.doc(responses=_ONE)
def list_user_api_keys(user_id: int) -> Any:
    """The account's live API keys, newest first."""
    service.get(db.session(), user_id)  # 404 for no such user
    return {"items": api_keys.live_keys(db.session(), user_id)}


@bp.delete("/users/<id:user_id>/api-keys/<id:key_id>")
@authenticated(ADMIN)
@bp.output({}, status_code=204)
@bp.doc(responses={404: "No such user, or not a live key of theirs"})
def revoke_user_api_key(user_id: int, key_id: int) -> Any:
    """Revoke an API key of the account (recorded as the admin's doing)."""
    api_keys.revoke(db.session(), user_id, key_id, actor_id=account().id)
    return Response(status=204)
