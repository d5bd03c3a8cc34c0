"""Registration and the password + TOTP sign-in flow."""

from __future__ import annotations

from apiflask import APIFlask

from . import (  # noqa: F401 - their views join the blueprint
    account_routes,
    api_key_routes,
    passkey_routes,
    routes,
    session_routes,
)
from .blueprint import bp

__all__ = ["register"]


def register(app: APIFlask) -> None:
    app.register_blueprint(bp)
