"""Views of account care and the account's security log."""

from __future__ import annotations

from typing import Any

from flask import Response

from .. import db
from ..audit import events
from ..caller import account as checked_account
from ..caller import authenticated, checked_read, principal
from ..resources.pages import PageQuery
from . import account
from .blueprint import PROOF_REFUSALS, bp, proof, settings
from .schemas import (
    EventPageOut,
    NewPasswordIn,
    ProofIn,
    RecoveryCodesOut,
    TotpConfirmIn,
    TotpReplacementOut,
)


@bp.post("/password")
@authenticated()
@bp.input(NewPasswordIn, arg_name="data")
@bp.output({}, status_code=204)
@bp.doc(responses=PROOF_REFUSALS)
def change_password(data: dict[str, Any]) -> Any:
    """Set a new password; every other session of the account ends."""
    account.change_password(
        db.session(),
        settings(),
        checked_account(),
        proof(data),
        new_password=data["new_password"],
        current_session=principal().session_id,
    )
    return Response(status=204)


@bp.post("/recovery-codes")
@authenticated()
@bp.input(ProofIn, arg_name="data")
@bp.output(RecoveryCodesOut)
@bp.doc(responses=PROOF_REFUSALS)
def replace_recovery_codes(data: dict[str, Any]) -> Any:
    """Ten new recovery codes (shown once); every earlier one stops working."""
    codes = account.replace_recovery_codes(db.session(), settings(), checked_account(), proof(data))
    return {"recovery_codes": codes}


@bp.post("/totp")
@authenticated()
@bp.input(ProofIn, arg_name="data")
@bp.output(TotpReplacementOut)
@bp.doc(responses=PROOF_REFUSALS)
def replace_totp(data: dict[str, Any]) -> Any:
    """A new authenticator to scan; the old one works until the new one is confirmed."""
    started = account.start_totp_replacement(
        db.session(), settings(), checked_account(), proof(data)
    )
    return {
        "totp": started.totp.as_dict(),
        "enrollment_token": started.enrollment_token,
        "expires_in": started.expires_in,
    }


@bp.post("/totp/confirm")
@authenticated()
@bp.input(TotpConfirmIn, arg_name="data")
@bp.output({}, status_code=204)
@bp.doc(responses={403: "A wrong code, or a used, expired or foreign enrollment token"})
def confirm_totp(data: dict[str, Any]) -> Any:
    """Confirm the new authenticator with one of its codes; every other session ends."""
    account.confirm_totp(
        db.session(),
        settings(),
        checked_account(),
        token=data["enrollment_token"],
        otp=data["otp"],
        current=principal().session_id,
    )
    return Response(status=204)


@bp.delete("/me")
@authenticated()
@bp.input(ProofIn, arg_name="data")
@bp.output({}, status_code=204)
@bp.doc(responses={**PROOF_REFUSALS, 409: "The last enabled admin cannot delete itself"})
def delete_me(data: dict[str, Any]) -> Any:
    """Delete the account and everything of it; its products and their history stay."""
    account.delete_account(db.session(), settings(), checked_account(), proof(data))
    return Response(status=204)


@bp.get("/events")
@authenticated(checked_in_read=True, scope="events:read")
@bp.input(PageQuery, location="query", arg_name="query")
@bp.output(EventPageOut)
@bp.doc(responses={422: "Bad limit or cursor"})
def list_events(query: dict[str, Any]) -> Any:
    """The account's security log, newest first."""
    return events.page(
        lambda statement, params: checked_read(statement, params),
        events.OWN_PAGE,
        {"me": principal().user_id},
        query,
        with_user=False,
        kept_days=settings().security_log_days,
    )
