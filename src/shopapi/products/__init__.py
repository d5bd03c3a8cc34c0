"""Products: exact money, optimistic concurrency, idempotent creates, full history."""

from __future__ import annotations

from apiflask import APIFlask

from . import models as models  # the tables, for metadata users such as Alembic and tests


def register(app: APIFlask) -> None:
    from .commands import seed_products
    from .routes import bp

    app.register_blueprint(bp)
    app.cli.add_command(seed_products)
