"""Passkeys (WebAuthn) of an account: creating one after a fresh proof, renaming and
removing them. py_webauthn does every WebAuthn check (CBOR, COSE keys, attestation, client
data, the relying party's id); this module keeps the account's pending options single-use,
the count of its passkeys capped, and the rows."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import webauthn
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import InvalidRegistrationResponse, WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from .. import db
from ..audit import events
from ..caller import Account
from ..config import Settings
from ..db import utcnow
from ..errors import ApiError, validation_error
from ..models import Passkey, PasskeyRegistration, User
from . import proofs
from .passkey_signin import credentials_of, descriptors, new_challenge, user_handle

CHALLENGE_LIFETIME = timedelta(minutes=5)
MAX_PASSKEYS = 10
NOT_FOUND = "No passkey of this account has that id."
FULL = f"This account has {MAX_PASSKEYS} passkeys, the most it may have: remove one first."
# Why a credential is refused: the service's own words only (never the library's, which
# would echo what the client sent and change with its versions).
NO_OPTIONS = "No options are pending for this account: ask POST /auth/passkeys/options first."
MALFORMED = "The credential is malformed."
FAILED = (
    "The credential does not answer the latest options for this site: "
    "ask for new options and create it again."
)
REFUSALS = (NO_OPTIONS, MALFORMED, FAILED)
# Listing reads: one statement (run with the account's check, see `current.checked_read`).
OWN_PASSKEYS = select(Passkey.id, Passkey.name, Passkey.created_at, Passkey.last_used_at).where(
    Passkey.user_id == bindparam("me")
)


def _user(session: Session, account: Account) -> User:
    user = session.get(User, account.id)
    if user is None:  # deleted by a concurrent request since the account was checked
        raise ApiError(404, "This account no longer exists.")
    return user


def _count(session: Session, user_id: int) -> int:
    return session.scalar(select(func.count()).where(Passkey.user_id == user_id)) or 0


def _room_for_one(session: Session, user_id: int) -> None:
    if _count(session, user_id) >= MAX_PASSKEYS:
        raise ApiError(409, FULL)


def creation_options(
    session: Session, settings: Settings, account: Account, proof: proofs.Proof
) -> dict[str, Any]:
    """Options for navigator.credentials.create(); the challenge is single-use, 5 minutes,
    and replaces any options of the account still pending.

    A passkey here is a second factor after the password, so it need not verify the user
    (a PIN or a fingerprint) nor be discoverable; the account's passkeys are excluded, so
    one authenticator is not added twice."""
    user = _user(session, account)
    _room_for_one(session, user.id)
    proofs.check(session, settings, user, proof)
    now = utcnow()
    r = PasskeyRegistration
    session.execute(delete(r).where(r.user_id == user.id))
    challenge = new_challenge()
    options = webauthn.generate_registration_options(
        rp_id=settings.webauthn_rp_id,
        rp_name=settings.webauthn_rp_name,
        user_name=user.username,
        # Stable per account, so an authenticator replaces rather than piles up its entries.
        user_id=user_handle(user.id),
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


def _take_pending(user_id: int, now: datetime) -> bytes | None:
    """Use up the account's latest live options (and any older ones) before the credential
    is judged, on a connection of its own: whatever the answer, they serve no second one."""
    r = PasskeyRegistration
    with db.side_connection() as conn:
        found = conn.execute(
            select(r.id, r.challenge)
            .where(r.user_id == user_id, r.expires_at > now)
            .order_by(r.id.desc())
            .limit(1)
        ).first()
        if found is None:
            return None
        taken = conn.execute(delete(r).where(r.id == found.id)).rowcount == 1
        conn.execute(delete(r).where(r.user_id == user_id, r.id < found.id))
    return base64url_to_bytes(found.challenge) if taken else None


def add(
    session: Session, settings: Settings, account: Account, *, name: str, credential: dict[str, Any]
) -> Passkey:
    """Judge a new credential against the options the account asked for last, and keep it.

    The options are spent by any answer, kept or refused; with none pending the credential
    is refused unread (422). Refused, nothing else changes."""
    now = utcnow()
    challenge = _take_pending(account.id, now)
    if challenge is None:
        raise _refused(NO_OPTIONS)
    _room_for_one(session, account.id)
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.webauthn_rp_id,
            expected_origin=list(settings.webauthn_origins),
            require_user_verification=False,
        )
    except InvalidRegistrationResponse:
        raise _refused(FAILED) from None
    # Anything else the library or the parsers under it raise (a clientDataJSON nested too
    # deep for json.loads raises RecursionError) is a credential that cannot be read.
    except (WebAuthnException, ValueError, KeyError, TypeError, RecursionError):
        raise _refused(MALFORMED) from None
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
    if session.scalar(select(Passkey.id).where(mine)) is None:
        raise ApiError(404, NOT_FOUND)
    proofs.check(session, settings, _user(session, account), proof)
    if not remove_of(session, account.id, passkey_id=passkey_id):
        raise ApiError(404, NOT_FOUND)  # removed by a concurrent request


def remove_of(
    session: Session, user_id: int, *, passkey_id: int | None = None, actor_id: int | None = None
) -> int:
    """Remove one passkey of the account (or, without `passkey_id`, all of them and any
    pending options), recording each as removed, by `actor_id` when an admin did it; how
    many went."""
    p = Passkey
    which = [p.user_id == user_id] + ([p.id == passkey_id] if passkey_id is not None else [])
    # Held until the unit of work ends (MariaDB), so a concurrent removal waits and finds none.
    gone = session.execute(select(p.id, p.name).where(*which).with_for_update()).all()
    if gone:
        session.execute(delete(p).where(p.id.in_([row.id for row in gone])))
    if passkey_id is None:
        r = PasskeyRegistration
        session.execute(delete(r).where(r.user_id == user_id))
    for removed_id, name in gone:
        events.record(
            session, user_id, "passkey_removed", actor_id=actor_id, passkey_id=removed_id, name=name
        )
    return len(gone)
