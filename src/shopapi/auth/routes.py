"""Views of the sign-in flow: parse, call the service, serialise."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select

from .. import db
from ..caller import account as checked_account
from ..caller import authenticated, checked_read, principal, roles, scopes
from ..models import User
from . import service
from .blueprint import (
    bp,
    hashing_budget,
    register_limit,
    settings,
    sign_in_limit,
    token_body,
    user_agent,
)
from .schemas import (
    LoginIn,
    LoginOut,
    RegisterIn,
    RegisterOut,
    TokenOut,
    UserOut,
    VerifyIn,
)

_ME = select(User.id, User.username, User.role, User.created_at).where(User.id == bindparam("me"))


@bp.post("/register")
@register_limit
@hashing_budget
@bp.input(RegisterIn, arg_name="data")
@bp.output(RegisterOut, status_code=201)
@bp.doc(
    responses={
        403: "Registration is closed, needs an invite, or the invite is not valid",
        409: "Username taken",
        422: "Invalid input",
        429: "Too many requests",
    }
)
def register(data: dict[str, Any]) -> Any:
    """Create an account and its Google Authenticator enrolment."""
    user, enrollment, codes = service.register(
        db.session(),
        settings(),
        username=data["username"],
        password=data["password"],
        invite_code=data.get("invite_code"),
    )
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "totp": enrollment.as_dict(),
        "recovery_codes": codes,
    }


@bp.post("/login")
@sign_in_limit
@hashing_budget
@bp.input(LoginIn, arg_name="data")
@bp.output(LoginOut)
@bp.doc(
    responses={
        401: "Wrong username or password",
        403: "The right password of a disabled account",
        422: "Invalid input",
        429: "Too many failed attempts",
    }
)
def login(data: dict[str, Any]) -> Any:
    """Check the password; returns a single-use mfa_token for /auth/verify."""
    return service.login(
        db.session(),
        settings(),
        username=data["username"],
        password=data["password"],
        device_token=data.get("device_token"),
    )


@bp.post("/verify")
@sign_in_limit
@bp.input(VerifyIn, arg_name="data")
@bp.output(TokenOut)
@bp.doc(responses={401: "Bad mfa_token or code", 422: "Invalid input", 429: "Too many wrong codes"})
def verify(data: dict[str, Any]) -> Any:
    """Exchange an mfa_token and a code for an access token, a refresh token and a device
    token: a new session."""
    signed_in = service.verify(
        db.session(),
        settings(),
        mfa_token=data["mfa_token"],
        otp=data.get("otp"),
        recovery_code=data.get("recovery_code"),
        passkey=data.get("passkey"),
        user_agent=user_agent(),
    )
    return {**token_body(signed_in.tokens), "device_token": signed_in.device_token}


@bp.post("/logout")
@authenticated()
@bp.output({}, status_code=204)
def logout() -> Any:
    """End the session of the access token used: all of its tokens are refused from now."""
    caller = principal()
    service.logout(db.session(), user_id=caller.user_id, session_id=caller.session_id)
    return ""


@bp.get("/me")
@authenticated(checked_in_read=True, scope=scopes.ANY_KEY)
@bp.output(UserOut)
def me() -> Any:
    """The signed-in user (and the API key used, if any: its permissions narrowed by its
    scopes)."""
    ((user_id, username, role, created_at),) = checked_read(_ME, {"me": principal().user_id})
    body = {
        "id": user_id,
        "username": username,
        "role": role,
        "created_at": created_at,
        "permissions": roles.permissions(role),
    }
    key = checked_account().api_key
    if key is not None:
        granted = scopes.expand(key.scopes)
        body["permissions"] = [p for p in body["permissions"] if p in granted]
        body["api_key"] = {"id": key.id, "name": key.name, "scopes": list(key.scopes)}
    return body
