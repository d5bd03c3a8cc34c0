"""Extension objects, built per application so several apps never share state."""

from __future__ import annotations

import logging

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from .config import Settings

log = logging.getLogger(__name__)


def make_limiter(app: Flask, settings: Settings) -> Limiter:
    """Per-address limits: in memory by default, in Redis when REDIS_URL is set.

    When Redis is unreachable the limiter falls back to per-process memory and logs a
    warning instead of failing the request (never a 500, never unlimited guessing).
    """
    storage = settings.redis_url or "memory://"
    options: dict[str, str | int] = (
        {"socket_connect_timeout": 1, "socket_timeout": 1} if settings.redis_url else {}
    )
    limiter = Limiter(
        key_func=get_remote_address,
        storage_uri=storage,
        storage_options=options,
        strategy="moving-window",
        headers_enabled=True,
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        key_prefix="shopapi",
    )
    limiter.init_app(app)
    app.extensions["shopapi_limiter"] = limiter
    return limiter
