"""`flask webhooks run`: deliver webhooks in the foreground, as a process of its own."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from .worker import Worker

webhooks_cli = AppGroup("webhooks", help="Webhook delivery.")


@webhooks_cli.command("run")
def run() -> None:
    """Deliver due webhooks until stopped (beside or instead of the serving processes)."""
    worker = Worker(current_app.extensions["db_side"], current_app.extensions["settings"])
    click.echo("delivering webhooks; Ctrl-C stops")
    try:
        worker.forever()
    except KeyboardInterrupt:
        click.echo("stopped")
