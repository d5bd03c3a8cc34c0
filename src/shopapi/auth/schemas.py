"""Request and response shapes of the sign-in flow (inputs and outputs kept apart)."""

from __future__ import annotations

from typing import Any

from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Dict, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range, Regexp
from marshmallow import INCLUDE, ValidationError, validates_schema

from ..caller.scopes import SCOPES
from ..security import password_problems
from ..validators import storable_text

USERNAME = Regexp(
    r"^[A-Za-z0-9._-]{3,50}\Z",
    error="Use 3-50 characters: letters A-Z, digits, '.', '_' or '-'.",
)


def username_field() -> String:
    return String(
        required=True, validate=USERNAME, metadata={"description": "3-50 of A-Z a-z 0-9 . _ -"}
    )


class RegisterIn(Schema):
    username = username_field()
    password = String(
        required=True,
        validate=[storable_text, Length(min=8, max=256)],
        metadata={"description": "8-256 characters of any kind; not a common password"},
    )
    invite_code = String(
        validate=[storable_text, Length(min=1, max=128)],
        metadata={"description": "An invite from an admin: the account gets the invite's role"},
    )

    # Also when another field is bad, so one 422 names every problem.
    @validates_schema(skip_on_field_errors=False)
    def password_is_acceptable(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if "password" not in data:  # missing or already refused for its length
            return
        problems = password_problems(data["password"], data.get("username", ""))
        if problems:
            raise ValidationError(problems, field_name="password")


def opaque_token(**kwargs: Any) -> String:
    return String(validate=[storable_text, Length(min=1, max=128)], **kwargs)


class LoginIn(Schema):
    username = username_field()
    password = String(required=True, validate=[storable_text, Length(min=1, max=256)])
    device_token = opaque_token(
        metadata={
            "description": "From an earlier /auth/verify on this device: the login is "
            "counted against the device alone, not the account's lockout"
        }
    )


BASE64URL = Regexp(r"^[A-Za-z0-9_-]*\Z", error="Use base64url without padding.")


def base64url(max_length: int, **kwargs: Any) -> String:
    return String(validate=[BASE64URL, Length(max=max_length)], **kwargs)


class _WebAuthnJson(Schema):
    class Meta:
        # Browsers' JSON forms grow new members; the library reads the ones it knows.
        unknown = INCLUDE


class AssertionResponseIn(_WebAuthnJson):
    # WebAuthn's member names, as browsers send them.
    clientDataJSON = base64url(8192, required=True)
    authenticatorData = base64url(8192, required=True)
    signature = base64url(8192, required=True)
    userHandle = base64url(1024, allow_none=True)


class AssertionIn(_WebAuthnJson):
    """An AuthenticationResponseJSON (WebAuthn Level 3), from navigator.credentials.get()."""

    id = base64url(1400, required=True)
    rawId = base64url(1400, required=True)
    type = String(required=True, validate=OneOf(["public-key"]))
    response = Nested(AssertionResponseIn, required=True)


class VerifyIn(Schema):
    mfa_token = String(required=True, validate=[storable_text, Length(min=1, max=128)])
    otp = String(validate=Regexp(r"^[0-9]{6}\Z", error="A code is 6 digits."))
    recovery_code = String(validate=[storable_text, Length(min=1, max=64)])
    passkey = Nested(
        AssertionIn,
        metadata={"description": "An assertion over the challenge of /auth/verify/passkey-options"},
    )

    @validates_schema
    def one_code(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if sum(key in data for key in ("otp", "recovery_code", "passkey")) != 1:
            raise ValidationError(
                "Send exactly one of otp, recovery_code or passkey.", field_name="otp"
            )


class PasskeyOptionsIn(Schema):
    mfa_token = String(required=True, validate=[storable_text, Length(min=1, max=128)])


class RegistrationResponseIn(_WebAuthnJson):
    clientDataJSON = base64url(8192, required=True)
    attestationObject = base64url(65536, required=True)
    transports = List(String(validate=Length(max=32)), validate=Length(max=10))


class RegistrationIn(_WebAuthnJson):
    """A RegistrationResponseJSON (WebAuthn Level 3), from navigator.credentials.create()."""

    id = base64url(1400, required=True)
    rawId = base64url(1400, required=True)
    type = String(required=True, validate=OneOf(["public-key"]))
    response = Nested(RegistrationResponseIn, required=True)


def passkey_name(**kwargs: Any) -> String:
    return String(
        validate=[storable_text, Length(min=1, max=64)],
        metadata={"description": "1-64 characters the owner recognises it by"},
        **kwargs,
    )


class NewPasskeyIn(Schema):
    name = passkey_name(required=True)
    credential = Nested(RegistrationIn, required=True)


class PasskeyRenameIn(Schema):
    name = passkey_name(required=True)


class PasskeyOut(Schema):
    id = Integer()
    name = String()
    created_at = DateTime(format="%Y-%m-%dT%H:%M:%SZ")
    last_used_at = DateTime(format="%Y-%m-%dT%H:%M:%SZ", allow_none=True)


class PasskeysOut(Schema):
    items = List(Nested(PasskeyOut))


class CreationOptionsOut(Schema):
    """PublicKeyCredentialCreationOptionsJSON, for navigator.credentials.create()."""

    rp = Dict()
    user = Dict()
    challenge = String(metadata={"description": "base64url; single-use, valid 5 minutes"})
    pubKeyCredParams = List(Dict())
    timeout = Integer()
    excludeCredentials = List(Dict())
    authenticatorSelection = Dict()
    attestation = String()


class RequestOptionsOut(Schema):
    """PublicKeyCredentialRequestOptionsJSON, for navigator.credentials.get()."""

    challenge = String(metadata={"description": "base64url; bound to the mfa_token"})
    timeout = Integer()
    rpId = String()
    allowCredentials = List(Dict())
    userVerification = String()


class TotpOut(Schema):
    secret = String(metadata={"description": "Base32 secret for manual entry"})
    otpauth_uri = String(metadata={"description": "Key URI that Google Authenticator scans"})
    qr_code = String(metadata={"description": "The Key URI as a PNG data URI"})


class RegisterOut(Schema):
    id = Integer()
    username = String()
    role = String(metadata={"description": "viewer, editor or admin"})
    totp = Nested(TotpOut)
    recovery_codes = List(String(), metadata={"description": "10 single-use codes, shown once"})


class LoginOut(Schema):
    mfa_token = String()
    expires_in = Integer()
    next = String()
    enrollment = Nested(TotpOut, metadata={"description": "Until the first verify with a code"})
    methods = List(
        String(),
        metadata={"description": "Second factors of the account: totp, recovery_code, passkey"},
    )


class RefreshIn(Schema):
    # A string (else 422); a malformed one is refused like an unknown one (401).
    refresh_token = String(required=True)


class RefreshOut(Schema):
    access_token = String()
    token_type = String()
    expires_in = Integer()
    refresh_token = String(metadata={"description": "Single-use: the next refresh takes it"})
    refresh_expires_in = Integer(
        metadata={"description": "Seconds the refresh token (and its session) has left"}
    )


class TokenOut(RefreshOut):
    device_token = String(
        metadata={"description": "Send it to /auth/login from this device (valid 90 days)"}
    )


class SessionOut(Schema):
    id = String(metadata={"description": "The sid claim of the session's access tokens"})
    created_at = DateTime(format="%Y-%m-%dT%H:%M:%SZ")
    last_used_at = DateTime(format="%Y-%m-%dT%H:%M:%SZ")
    expires_at = DateTime(format="%Y-%m-%dT%H:%M:%SZ")
    user_agent = String(allow_none=True)
    current = Boolean(metadata={"description": "The session of the access token used"})


class SessionsOut(Schema):
    items = List(Nested(SessionOut))


class ApiKeyUseOut(Schema):
    id = Integer()
    name = String()
    scopes = List(String())


class UserOut(Schema):
    id = Integer()
    username = String()
    role = String(metadata={"description": "viewer, editor or admin"})
    created_at = DateTime(format="%Y-%m-%dT%H:%M:%SZ")
    permissions = List(
        String(),
        metadata={
            "description": "What the role allows: products:read, products:write (editor), "
            "admin (admin); with an API key, only those its scopes allow"
        },
    )
    api_key = Nested(
        ApiKeyUseOut,
        metadata={"description": "Only with an API key: the key used"},
    )


class ProofIn(Schema):
    """A fresh proof: the current password and a TOTP code or a recovery code."""

    password = String(required=True, validate=[storable_text, Length(min=1, max=256)])
    otp = String(validate=Regexp(r"^[0-9]{6}\Z", error="A code is 6 digits."))
    recovery_code = String(validate=[storable_text, Length(min=1, max=64)])

    @validates_schema
    def one_code(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if ("otp" in data) == ("recovery_code" in data):
            raise ValidationError("Send exactly one of otp or recovery_code.", field_name="otp")


class NewPasswordIn(ProofIn):
    new_password = String(
        required=True,
        validate=[storable_text, Length(min=8, max=256)],
        metadata={"description": "As at registration: 8-256 characters, not a common password"},
    )


class RecoveryCodesOut(Schema):
    recovery_codes = List(String(), metadata={"description": "10 single-use codes, shown once"})


class TotpReplacementOut(Schema):
    totp = Nested(TotpOut)
    enrollment_token = String(metadata={"description": "Confirm with a code of the new secret"})
    expires_in = Integer(metadata={"description": "Seconds the enrollment token stays valid"})


class TotpConfirmIn(Schema):
    enrollment_token = String(required=True, validate=[storable_text, Length(min=1, max=128)])
    otp = String(required=True, validate=Regexp(r"^[0-9]{6}\Z", error="A code is 6 digits."))


class EventOut(Schema):
    id = Integer()
    at = DateTime(format="%Y-%m-%dT%H:%M:%SZ")
    type = String()
    ip = String(allow_none=True)
    user_agent = String(allow_none=True)
    method = String(metadata={"description": "signed_in: totp, recovery_code or passkey"})
    passkey_id = Integer(metadata={"description": "passkey_*: which passkey"})
    name = String(metadata={"description": "passkey_added, passkey_removed: its name"})
    reason = String(metadata={"description": "session_ended: why"})
    actor_id = Integer(metadata={"description": "The admin who caused it"})
    from_ = String(
        data_key="from", attribute="from", metadata={"description": "role_changed: before"}
    )
    to = String(metadata={"description": "role_changed: after"})


class EventPageOut(Schema):
    items = List(Nested(EventOut))
    next_cursor = String(allow_none=True)


class ApiKeyIn(Schema):
    """A new API key: its name, scopes and lifetime (an admin's, for a service account)."""

    name = String(required=True, validate=[storable_text, Length(min=1, max=100)])
    scopes = List(
        String(validate=OneOf(list(SCOPES))),
        required=True,
        validate=Length(min=1, max=len(list(SCOPES))),
        metadata={"description": "Any of " + ", ".join(list(SCOPES))},
    )
    expires_in = Integer(
        load_default=7776000,
        validate=Range(min=3600, max=31622400),
        metadata={"description": "Seconds until the key stops working (default 90 days)"},
    )


class OwnApiKeyIn(ApiKeyIn, ProofIn):
    """A new API key of the caller's account, with a fresh proof."""


class ApiKeyOut(Schema):
    id = Integer()
    name = String()
    prefix = String(metadata={"description": "The key's first 12 characters"})
    scopes = List(String())
    created_at = DateTime(format="%Y-%m-%dT%H:%M:%SZ")
    expires_at = DateTime(format="%Y-%m-%dT%H:%M:%SZ")
    last_used_at = DateTime(
        format="%Y-%m-%dT%H:%M:%SZ",
        allow_none=True,
        metadata={"description": "May lag the real last use by up to 60 seconds"},
    )
    last_used_ip = String(allow_none=True)


class ApiKeysOut(Schema):
    items = List(Nested(ApiKeyOut))


class NewApiKeyOut(Schema):
    id = Integer()
    name = String()
    key = String(metadata={"description": "The key itself: shown in this answer only"})
    prefix = String()
    scopes = List(String())
    created_at = DateTime(format="%Y-%m-%dT%H:%M:%SZ")
    expires_at = DateTime(format="%Y-%m-%dT%H:%M:%SZ")
