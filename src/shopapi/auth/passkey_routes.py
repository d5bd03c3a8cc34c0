"""Views of passkeys: creating, listing, renaming and removing them, and their sign-in
options."""

from __future__ import annotations

from typing import Any

from flask import Response

from .. import db
from ..caller import account as checked_account
from ..caller import authenticated, checked_read, principal
from . import passkeys, service
from .blueprint import PROOF_REFUSALS, bp, proof, settings, sign_in_limit
from .schemas import (
    CreationOptionsOut,
    NewPasskeyIn,
    PasskeyOptionsIn,
    PasskeyOut,
    PasskeyRenameIn,
    PasskeysOut,
    ProofIn,
    RequestOptionsOut,
)

_FULL = f"The account has {passkeys.MAX_PASSKEYS} passkeys, the most it may have"


def _out(passkey: Any) -> dict[str, Any]:
    return {
        "id": passkey.id,
        "name": passkey.name,
        "created_at": passkey.created_at,
        "last_used_at": passkey.last_used_at,
    }


@bp.post("/passkeys/options")
@authenticated()
@bp.input(ProofIn, arg_name="data")
@bp.output(CreationOptionsOut)
@bp.doc(responses={**PROOF_REFUSALS, 409: _FULL})
def passkey_creation_options(data: dict[str, Any]) -> Any:
    """Options for navigator.credentials.create(); single-use, 5 minutes, replacing any
    earlier options of the account."""
    return passkeys.creation_options(db.session(), settings(), checked_account(), proof(data))


@bp.post("/passkeys")
@authenticated()
@bp.input(NewPasskeyIn, arg_name="data")
@bp.output(PasskeyOut, status_code=201)
@bp.doc(
    responses={
        409: f"This passkey is already registered, or {_FULL.lower()}",
        422: "Invalid input, no options pending, or a credential that fails verification",
    }
)
def add_passkey(data: dict[str, Any]) -> Any:
    """Keep a new passkey, created with the latest options of POST /auth/passkeys/options
    (any answer uses them up)."""
    passkey = passkeys.add(
        db.session(),
        settings(),
        checked_account(),
        name=data["name"],
        credential=data["credential"],
    )
    return _out(passkey)


@bp.get("/passkeys")
@authenticated(checked_in_read=True)
@bp.output(PasskeysOut)
def list_passkeys() -> Any:
    """The account's passkeys, oldest first."""
    rows = sorted(checked_read(passkeys.OWN_PASSKEYS, {"me": principal().user_id}))
    return {
        "items": [
            {"id": i, "name": name, "created_at": created, "last_used_at": used}
            for i, name, created, used in rows
        ]
    }


@bp.patch("/passkeys/<id:passkey_id>")
@authenticated()
@bp.input(PasskeyRenameIn, arg_name="data")
@bp.output(PasskeyOut)
@bp.doc(responses={404: "Not a passkey of this account"})
def rename_passkey(passkey_id: int, data: dict[str, Any]) -> Any:
    """Rename a passkey."""
    return _out(passkeys.rename(db.session(), checked_account(), passkey_id, data["name"]))


@bp.delete("/passkeys/<id:passkey_id>")
@authenticated()
@bp.input(ProofIn, arg_name="data")
@bp.output({}, status_code=204)
@bp.doc(responses={**PROOF_REFUSALS, 404: "Not a passkey of this account"})
def remove_passkey(passkey_id: int, data: dict[str, Any]) -> Any:
    """Remove a passkey; it no longer signs in."""
    passkeys.remove(db.session(), settings(), checked_account(), passkey_id, proof(data))
    return Response(status=204)


@bp.post("/verify/passkey-options")
@sign_in_limit
@bp.input(PasskeyOptionsIn, arg_name="data")
@bp.output(RequestOptionsOut)
@bp.doc(
    responses={
        401: "Bad, expired or used mfa_token",
        409: "The account has no passkey",
        422: "Invalid input",
    }
)
def passkey_request_options(data: dict[str, Any]) -> Any:
    """Options for navigator.credentials.get(), with a challenge bound to the mfa_token:
    the assertion goes to POST /auth/verify as `passkey`."""
    return service.passkey_options(db.session(), settings(), mfa_token=data["mfa_token"])
