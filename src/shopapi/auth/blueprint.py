"""The `auth` blueprint and what its view modules share: settings, the request's user
agent, the token answer, and the fresh proof of account care."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import current_app, request

from ..config import Settings
from ..extensions import for_everyone, per_address
from . import sessions
from .proofs import Proof

bp = APIBlueprint("auth", __name__, url_prefix="/auth", tag="Authentication")

# The requests that cost a password hash also spend one budget of every client together,
# checked after the client's own (which a flood exhausts first).
TOO_MANY_SIGN_INS = (
    "Too many sign-ins and registrations from all clients together right now; "
    "wait before trying again."
)
sign_in_limit = per_address("sign-in", lambda s: s.login_rate_limit_per_address)
register_limit = per_address("register", lambda s: s.register_rate_limit_per_address)
hashing_budget = for_everyone(
    "password-hashing", lambda s: s.login_rate_limit_global, detail=TOO_MANY_SIGN_INS
)

# The answers of a view that takes a fresh proof (password and code), for its OpenAPI entry.
PROOF_REFUSALS = {403: "The password or the code is wrong", 429: "Too many failed attempts"}


def settings() -> Settings:
    found: Settings = current_app.extensions["settings"]
    return found


def user_agent() -> str | None:
    return request.user_agent.string[:255] or None


def proof(data: dict[str, Any]) -> Proof:
    """The fresh proof in a request body of `ProofIn` (or a schema that extends it)."""
    return Proof(data["password"], data.get("otp"), data.get("recovery_code"))


def token_body(tokens: sessions.Tokens) -> dict[str, Any]:
    return {
        "access_token": tokens.access.token,
        "token_type": "Bearer",
        "expires_in": settings().access_token_ttl,
        "refresh_token": tokens.refresh_token,
        "refresh_expires_in": tokens.refresh_expires_in,
    }
