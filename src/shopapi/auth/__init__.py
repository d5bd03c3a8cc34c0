"""Registration and the password + TOTP sign-in flow."""

from __future__ import annotations

from apiflask import APIFlask

from . import account_routes, passkey_routes, routes, session_routes  # noqa: F401 - their views join the blueprint
from .blueprint import bp

__all__ = ["register"]


def register(app: APIFlask) -> None:
    app.register_blueprint(bp)
