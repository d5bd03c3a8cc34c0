"""Registration and the password + TOTP sign-in flow."""

from __future__ import annotations

from apiflask import APIFlask
from flask_limiter import Limiter

from ..config import Settings
from .current import current_user, login_required
from .routes import bp

__all__ = ["current_user", "login_required", "register"]


def register(app: APIFlask, settings: Settings, limiter: Limiter) -> None:
    app.register_blueprint(bp)
    sign_in = limiter.shared_limit(lambda: settings.login_rate_limit_per_address, scope="sign-in")
    for endpoint in ("auth.login", "auth.verify"):
        app.view_functions[endpoint] = sign_in(app.view_functions[endpoint])
    app.view_functions["auth.register"] = limiter.limit(
        lambda: settings.register_rate_limit_per_address
    )(app.view_functions["auth.register"])
