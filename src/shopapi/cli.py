"""`flask` commands: database migrations, and the purge of expired rows."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from . import db
from .config import Settings

db_cli = AppGroup("db", help="Database migrations.")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    settings: Settings = current_app.extensions["settings"]
    db.upgrade(settings.database_url, revision)
    click.echo(f"database at {revision}")


def register(app: Flask) -> None:
    from .purge import purge_command

    app.cli.add_command(db_cli)
    app.cli.add_command(purge_command)
