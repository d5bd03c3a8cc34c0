"""Views of the caller's own API keys: made with a fresh proof, listed, revoked. A key
never reaches these views (only a person signed in manages keys)."""

from __future__ import annotations

from typing import Any

from flask import Response

from .. import db
from ..caller import account as checked_account
from ..caller import authenticated
from . import api_keys
from .blueprint import PROOF_REFUSALS, bp, proof, settings
from .schemas import ApiKeysOut, NewApiKeyOut, OwnApiKeyIn


@bp.post("/api-keys")
@authenticated()
@bp.input(OwnApiKeyIn, arg_name="data")
@bp.output(NewApiKeyOut, status_code=201)
@bp.doc(responses={**PROOF_REFUSALS, 409: api_keys.FULL})
def create_api_key(data: dict[str, Any]) -> Any:
    """A new API key of the account; the key is shown in this answer only."""
    made = api_keys.create_own(
        db.session(),
        settings(),
        checked_account(),
        proof(data),
        name=data["name"],
        wanted=data["scopes"],
        expires_in=data["expires_in"],
    )
    return api_keys.out(made.row, made.key)


@bp.get("/api-keys")
@authenticated()
@bp.output(ApiKeysOut)
def list_api_keys() -> Any:
    """The account's live API keys, newest first."""
    return {"items": api_keys.live_keys(db.session(), checked_account().id)}


@bp.delete("/api-keys/<id:key_id>")
@authenticated()
@bp.output({}, status_code=204)
@bp.doc(responses={404: api_keys.NOT_FOUND})
def revoke_api_key(key_id: int) -> Any:
    """Revoke an API key of the account: refused from its very next request."""
    api_keys.revoke(db.session(), checked_account().id, key_id)
    return Response(status=204)
