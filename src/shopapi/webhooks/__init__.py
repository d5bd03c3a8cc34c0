"""Webhooks: other systems hear of changes without polling.

- `outbox.record()`: an event, and its deliveries, in the transaction of the change;
- `worker`: claims due attempts, signs them (Standard Webhooks) and sends them;
- `destinations`: which URLs may be sent to (no loopback, private, ... addresses) and
  sending to the address that was checked;
- `service`, `routes`, `schemas`: the admins' API under /admin/webhooks;
- `commands`: `flask webhooks run`, a worker of its own.
"""

from __future__ import annotations

from apiflask import APIFlask


def register(app: APIFlask) -> None:
    from .commands import webhooks_cli
    from .routes import bp

    app.register_blueprint(bp)
    app.cli.add_command(webhooks_cli)


def start_delivery(app: APIFlask) -> None:
    """Deliver webhooks from a background thread of this serving process (unless
    WEBHOOK_DELIVERY is off). Called where a process starts serving, never by create_app:
    the command line and the tests build apps that must not send anything."""
    from .worker import start

    start(app.extensions["settings"])
