"""`flask webhooks run`: deliver webhooks in the foreground, as a process of its own."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from .worker import Worker, engine_for

webhooks_cli = AppGroup("webhooks", help="Webhook delivery.")


@webhooks_cli.command("run")
def run() -> None:
    """Deliver due webhooks until stopped (beside or instead of the serving processes)."""
    settings = current_app.extensions["settings"]
    worker = Worker(engine_for(settings), settings)
    click.echo("delivering webhooks; Ctrl-C stops")
    try:
        worker.forever()
    except KeyboardInterrupt:
        click.echo("stopped")
