"""Stock: movements of products' quantities, `available`, and reservations that hold stock
for a checkout."""

from __future__ import annotations

from apiflask import APIFlask

from . import models as models  # the tables, for metadata users such as Alembic and tests


def register(app: APIFlask) -> None:
    from .reservation_routes import bp as reservations_bp
    from .routes import bp

    app.register_blueprint(bp)
    app.register_blueprint(reservations_bp)
