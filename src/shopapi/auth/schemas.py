"""Request and response shapes of the sign-in flow (inputs and outputs kept apart)."""

from __future__ import annotations

from typing import Any

from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Integer, List, Nested, Raw, String
from apiflask.validators import Length, Regexp
from marshmallow import ValidationError, validates_schema

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


class VerifyIn(Schema):
    mfa_token = String(required=True, validate=[storable_text, Length(min=1, max=128)])
    otp = String(validate=Regexp(r"^[0-9]{6}\Z", error="A code is 6 digits."))
    recovery_code = String(validate=[storable_text, Length(min=1, max=64)])

    @validates_schema
    def one_code(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if ("otp" in data) == ("recovery_code" in data):
            raise ValidationError("Send exactly one of otp or recovery_code.", field_name="otp")


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


class RefreshIn(Schema):
    # Any value: a malformed refresh token is refused like an unknown one (401, not 422).
    refresh_token = Raw(required=True, allow_none=True, metadata={"type": "string"})


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


class UserOut(Schema):
    id = Integer()
    username = String()
    role = String(metadata={"description": "viewer, editor or admin"})
    created_at = DateTime(format="%Y-%m-%dT%H:%M:%SZ")


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
    method = String(metadata={"description": "signed_in: totp or recovery_code"})
    reason = String(metadata={"description": "session_ended: why"})
    actor_id = Integer(metadata={"description": "The admin who caused it"})
    from_ = String(
        data_key="from", attribute="from", metadata={"description": "role_changed: before"}
    )
    to = String(metadata={"description": "role_changed: after"})


class EventPageOut(Schema):
    items = List(Nested(EventOut))
    next_cursor = String(allow_none=True)
