"""Passkeys (WebAuthn) of an account: creating one after a fresh proof, renaming and
removing them. py_webauthn does every WebAuthn check (CBOR, COSE keys, attestation, client
data, the relying party's id); this module keeps challenges single-use and the rows."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import webauthn
from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_client_data_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ..config import Settings
from ..db import utcnow
from ..errors import ApiError, validation_error
from ..models import Passkey, PasskeyRegistration, User
from . import events, proofs
from .current import Account
from .passkey_signin import credentials_of, descriptors, new_challenge

CHALLENGE_LIFETIME = timedelta(minutes=5)
NOT_FOUND = "No passkey of this account has that id."
# Listing reads: one statement (run with the account's check, see `current.checked_read`).
OWN_PASSKEYS = select(Passkey.id, Passkey.name, Passkey.created_at, Passkey.last_used_at).where(
    Passkey.user_id == bindparam("me")
)


def _user(session: Session, account: Account) -> User:
    user = session.get(User, account.id)
    if user is None:  # deleted by a concurrent request since the account was checked
        raise ApiError(404, "This account no longer exists.")
    return user


def creation_options(
    session: Session, settings: Settings, account: Account, proof: proofs.Proof
) -> dict[str, Any]:
    """Options for navigator.credentials.create(); the challenge is single-use, 5 minutes.

    A passkey here is a second factor after the password, so it need not verify the user
    (a PIN or a fingerprint) nor be discoverable; the account's passkeys are excluded, so
    one authenticator is not added twice."""
    user = _user(session, account)
    proofs.check(session, settings, user, proof)
    now = utcnow()
    r = PasskeyRegistration
    session.execute(delete(r).where(r.user_id == user.id, r.expires_at < now))
    challenge = new_challenge()
    options = webauthn.generate_registration_options(
        rp_id=settings.webauthn_rp_id,
        rp_name=settings.webauthn_rp_name,
        user_name=user.username,
        # Stable per account, so an authenticator replaces rather than piles up its entries.
        user_id=str(user.id).encode(),
        challenge=challenge,
        timeout=int(CHALLENGE_LIFETIME.total_seconds() * 1000),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.DISCOURAGED,
        ),
        exclude_credentials=descriptors(credentials_of(session, user.id)),
    )
    session.add(
        r(
            user_id=user.id,
            challenge=bytes_to_base64url(challenge),
            expires_at=now + CHALLENGE_LIFETIME,
        )
    )
    result: dict[str, Any] = json.loads(webauthn.options_to_json(options))
    return result


def _refused(why: str) -> ApiError:
    return validation_error({"credential": [why]})


def add(
    session: Session, settings: Settings, account: Account, *, name: str, credential: dict[str, Any]
) -> Passkey:
    """Verify a new credential against a live challenge of this account and keep it; the
    challenge is used up with it. Refused (422), it changes nothing."""
    try:
        client_data_json = base64url_to_bytes(credential["response"]["clientDataJSON"])
        challenge = parse_client_data_json(client_data_json).challenge
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise _refused("The credential's clientDataJSON cannot be read.") from None
    now = utcnow()
    r = PasskeyRegistration
    taken = session.execute(
        delete(r).where(
            r.user_id == account.id,
            r.challenge == bytes_to_base64url(challenge),
            r.expires_at > now,
        )
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise _refused("Its challenge is unknown, used or expired: ask for new options.")
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.webauthn_rp_id,
            expected_origin=list(settings.webauthn_origins),
            require_user_verification=False,
        )
    except WebAuthnException as error:
        raise _refused(f"The credential failed verification: {error}") from None
    except (ValueError, KeyError, TypeError):
        raise _refused("The credential is malformed.") from None
    transports = credential["response"].get("transports") or []
    passkey = Passkey(
        user_id=account.id,
        name=name,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=",".join(str(t) for t in transports)[:255],
        created_at=now,
    )
    session.add(passkey)
    session.flush()  # a credential already registered fails here, on its unique key (409)
    events.record(session, account.id, "passkey_added", passkey_id=passkey.id, name=name)
    return passkey


def rename(session: Session, account: Account, passkey_id: int, name: str) -> Passkey:
    passkey = session.scalar(
        select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == account.id)
    )
    if passkey is None:
        raise ApiError(404, NOT_FOUND)
    passkey.name = name
    return passkey


def remove(
    session: Session, settings: Settings, account: Account, passkey_id: int, proof: proofs.Proof
) -> None:
    """Remove a passkey of the account (404 for any other, before the proof is judged)."""
    mine = (Passkey.id == passkey_id) & (Passkey.user_id == account.id)
    name = session.scalar(select(Passkey.name).where(mine))
    if name is None:
        raise ApiError(404, NOT_FOUND)
    proofs.check(session, settings, _user(session, account), proof)
    if session.execute(delete(Passkey).where(mine)).rowcount != 1:  # type: ignore[attr-defined]
        raise ApiError(404, NOT_FOUND)  # removed by a concurrent request
    events.record(session, account.id, "passkey_removed", passkey_id=passkey_id, name=name)
