"""Entry point: `python app.py` applies pending migrations and serves; `app` is for WSGI
servers, `rsgi` (the same app, bodies read first) for `make serve`'s granian."""

from __future__ import annotations

import logging

from dotenv import load_dotenv

load_dotenv()

from shopapi import create_app  # noqa: E402 - .env must be loaded before settings are read
from shopapi.config import Settings  # noqa: E402
from shopapi.db import upgrade  # noqa: E402
from shopapi.logs import configure_logging  # noqa: E402
from shopapi.serving import QuietRequestHandler, body_first  # noqa: E402
from shopapi.webhooks import start_delivery  # noqa: E402

configure_logging()
settings = Settings.from_env()
app = create_app(settings)
# Each of granian's workers delivers webhooks from the moment it serves.
rsgi = body_first(app, settings, on_start=lambda: start_delivery(app))

if __name__ == "__main__":
    upgrade(settings.database_url)
    start_delivery(app)
    logging.getLogger("shopapi").info(
        "serving", extra={"url": f"http://{settings.host}:{settings.port}", "env": settings.app_env}
    )
    # Werkzeug's server, threaded, never with the debugger; `make serve` runs granian.
    app.run(
        host=settings.host,
        port=settings.port,
        debug=False,
        threaded=True,
        request_handler=QuietRequestHandler,
    )
