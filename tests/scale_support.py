"""Old names of the scale-out and fault helpers, for tests written before tests/support/.

New tests import from `support`: server_env(settings_for(...), ...) instead of base_env,
HttpAuth(url, loopback_address()) instead of http_auth. This module goes once no test
imports it.
"""

from __future__ import annotations

from pathlib import Path

from support import (
    CuttableLink,
    HttpAuth,
    http_session,
    is_problem,
    loopback_address,
    server_env,
    settings_for,
    shared_redis,
    start_production,
    stop_production,
)

__all__ = [
    "CuttableLink",
    "base_env",
    "http_auth",
    "http_session",
    "is_problem",
    "loopback_address",
    "shared_redis",
    "start_production",
    "stop_production",
]


def base_env(
    database_url: str, secrets_env: dict[str, str], instance: Path, **extra: str
) -> dict[str, str]:
    return server_env(settings_for(database_url, instance, secrets_env), secrets_env, **extra)


def http_auth(base_url: str, source: str | None = None) -> HttpAuth:
    return HttpAuth(base_url, source or loopback_address())
