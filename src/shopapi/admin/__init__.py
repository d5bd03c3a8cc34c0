"""Administration: accounts (roles, disabling, unlocking, authenticator resets), service
accounts and their API keys, and invites."""

from __future__ import annotations

from apiflask import APIFlask


def register(app: APIFlask) -> None:
    from . import key_routes  # noqa: F401 - its views join the blueprint
    from .commands import users_cli
    from .routes import bp

    app.register_blueprint(bp)
    app.cli.add_command(users_cli)
