"""A passkey as the second factor of a sign-in: request options whose challenge the
mfa_token carries, and the judgement of an assertion. py_webauthn checks the signature,
client data and relying party; this module checks that the credential is the account's,
that the user handle, when the authenticator sends one, is the account's too, and that
its signature count moves forward (a count that goes back means a cloned authenticator)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import webauthn
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    UserVerificationRequirement,
)

from ..config import Settings
from ..models import Passkey


def new_challenge() -> bytes:
    return secrets.token_bytes(32)


def user_handle(user_id: int) -> bytes:
    """The WebAuthn user handle of an account, given to its authenticators at creation."""
    return str(user_id).encode()


def _handle_is_theirs(assertion: dict[str, Any], user_id: int) -> bool:
    """An authenticator may leave the user handle out (null, or empty from some browsers);
    one it sends must be the account's."""
    handle = assertion["response"].get("userHandle")
    if not handle:
        return True
    try:
        return bool(base64url_to_bytes(handle) == user_handle(user_id))
    except (ValueError, TypeError):
        return False


def descriptors(rows: Any) -> list[PublicKeyCredentialDescriptor]:
    """The account's credentials as WebAuthn names them (to exclude or to allow)."""
    known = {t.value for t in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=credential_id,
            transports=[AuthenticatorTransport(t) for t in transports.split(",") if t in known]
            or None,
        )
        for credential_id, transports in rows
    ]


def credentials_of(session: Session, user_id: int) -> list[Any]:
    statement = select(Passkey.credential_id, Passkey.transports).where(Passkey.user_id == user_id)
    return list(session.execute(statement.order_by(Passkey.id)).all())


def has_passkey(session: Session, user_id: int) -> bool:
    found = session.scalar(select(Passkey.id).where(Passkey.user_id == user_id).limit(1))
    return found is not None


def request_options(
    session: Session, settings: Settings, user_id: int, timeout_ms: int
) -> tuple[str, dict[str, Any]] | None:
    """A new challenge (base64url) and the request options for the account's passkeys;
    None when it has none."""
    credentials = credentials_of(session, user_id)
    if not credentials:
        return None
    challenge = new_challenge()
    options = webauthn.generate_authentication_options(
        rp_id=settings.webauthn_rp_id,
        challenge=challenge,
        timeout=timeout_ms,
        allow_credentials=descriptors(credentials),
        user_verification=UserVerificationRequirement.DISCOURAGED,
    )
    result: dict[str, Any] = json.loads(webauthn.options_to_json(options))
    return bytes_to_base64url(challenge), result


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    # The passkey whose signature count went backwards (a signature that is otherwise right).
    regressed: int | None = None


WRONG = Verdict(False)


def judge(
    session: Session,
    settings: Settings,
    *,
    user_id: int,
    challenge: str,
    assertion: dict[str, Any],
    now: datetime,
) -> Verdict:
    """Accept an assertion of one of the account's passkeys over `challenge`, moving the
    passkey's signature count forward (one conditional statement, in the unit of work)."""
    try:
        raw_id = base64url_to_bytes(assertion["rawId"])
        if not _handle_is_theirs(assertion, user_id):  # another account's handle
            return WRONG
    except (ValueError, KeyError, TypeError, AttributeError):
        return WRONG
    p = Passkey
    found = session.execute(
        select(p.id, p.public_key, p.sign_count).where(
            p.user_id == user_id, p.credential_id == raw_id
        )
    ).first()
    if found is None:  # unknown, or another account's
        return WRONG
    try:
        verified = webauthn.verify_authentication_response(
            credential=assertion,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=settings.webauthn_rp_id,
            expected_origin=list(settings.webauthn_origins),
            credential_public_key=found.public_key,
            # Zero: the library's own count check would run before the signature's; the
            # count is judged below, only for an assertion that is otherwise right.
            credential_current_sign_count=0,
            require_user_verification=False,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        return WRONG
    new = verified.new_sign_count
    # Authenticators that keep no count send 0 each time (WebAuthn §6.1.1).
    if (new or found.sign_count) and new <= found.sign_count:
        return Verdict(False, regressed=found.id)
    moved = session.execute(
        update(p)
        .where(p.id == found.id, p.sign_count == found.sign_count)
        .values(sign_count=new, last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    return Verdict(moved.rowcount == 1)  # type: ignore[attr-defined]
