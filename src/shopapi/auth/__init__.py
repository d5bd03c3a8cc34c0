"""Registration and the password + TOTP sign-in flow."""

from __future__ import annotations

from typing import Any

from apiflask import APIFlask

from ..config import Settings
from ..extensions import AddressLimiter
from . import account_routes, passkey_routes, session_routes  # noqa: F401 - their views join the blueprint
from .routes import bp

TOO_MANY_SIGN_INS = (
    "Too many sign-ins and registrations from all clients together right now; "
    "wait before trying again."
)

__all__ = ["register"]


def register(app: APIFlask, settings: Settings, limiter: AddressLimiter) -> None:
    app.register_blueprint(bp)
    # Limits wrap the registered views, so each app has its own limiter and storage.
    views: dict[str, Any] = app.view_functions
    # The requests that cost a password hash also spend one budget of every client
    # together, checked after the client's own (which a flood exhausts first).
    hashing = limiter.limit_everyone(
        settings.login_rate_limit_global, scope="password-hashing", detail=TOO_MANY_SIGN_INS
    )
    for endpoint in ("auth.login", "auth.register"):
        views[endpoint] = hashing(views[endpoint])
    sign_in = limiter.limit(settings.login_rate_limit_per_address, scope="sign-in")
    for endpoint in ("auth.login", "auth.verify", "auth.passkey_request_options"):
        views[endpoint] = sign_in(views[endpoint])
    register_limit = limiter.limit(settings.register_rate_limit_per_address, scope="register")
    views["auth.register"] = register_limit(views["auth.register"])
