"""Products API with password + TOTP sign-in, short-lived JWTs and exact, audited data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apiflask import APIFlask
from flask import Response, request
from sqlalchemy import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from . import db, logs, routing
from .config import Settings
from .errors import register_error_handlers
from .jsonbody import register_json_loader
from .metrics.scrape import register as register_metrics
from .metrics.traffic import RequestMetrics

MAX_BODY_BYTES = 1024 * 1024
# The longest a CSV import may run before it counts as stuck (with REQUEST_TIMEOUT set).
IMPORT_SECONDS = 600


def create_app(config: Settings | Mapping[str, Any] | None = None) -> APIFlask:
    """Build the application. `config` is a `Settings`, or overrides for `Settings.from_env`."""
    settings = config if isinstance(config, Settings) else Settings.from_env(**dict(config or {}))
    if settings.signing_keys is None:  # built by hand, not by from_env: check and load them
        settings = settings.with_secrets()
    app = APIFlask(
        __name__,
        title="Shop API",
        version="1.0.0",
        docs_path=None,
        spec_path="/openapi.json",
        instance_path=settings.instance_path,
    )
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        JSON_SORT_KEYS=False,
        VALIDATION_ERROR_STATUS_CODE=422,
        AUTO_404_RESPONSE=False,
        AUTO_VALIDATION_ERROR_RESPONSE=False,
        AUTO_AUTH_ERROR_RESPONSE=False,
        # Swagger UI (packaged) renders OpenAPI 3.0.x; APIFlask would say 3.1.0.
        OPENAPI_VERSION="3.0.3",
        DEBUG=False,
    )
    app.extensions["settings"] = settings
    # Hands each request's route and ids to the log line (and the metrics) outside Flask.
    app.request_class = logs.Request
    routing.register(app.url_map)
    # Outside Flask, so that every answer (a 404 or 405 from routing too) has them and
    # costs no Flask hook: the request id, nosniff, no-store, the request's log line and
    # its metrics.
    request_metrics = RequestMetrics() if settings.metrics_enabled else None
    from .products.routes import IMPORT_PATH

    app.wsgi_app = logs.RequestLog(  # type: ignore[method-assign]
        app.wsgi_app,
        stuck_after=settings.request_timeout,
        observer=request_metrics,
        # A large file's import runs longer than other requests: it is not stuck.
        longer={IMPORT_PATH: IMPORT_SECONDS},
    )
    if settings.trusted_proxies > 0:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    register_json_loader()
    register_error_handlers(app)
    register_database(app, settings)
    register_blueprints(app, settings)
    if request_metrics is not None:
        register_metrics(app, settings.metrics_allowed_networks, request_metrics)
    register_headers(app, settings)
    register_cli(app)
    # Every view runs in the request's one unit of work (committed when it returns).
    for endpoint, view in app.view_functions.items():
        app.view_functions[endpoint] = db.unit_of_work(view)
    register_housekeeping(app, settings)
    return app


def register_database(app: APIFlask, settings: Settings) -> None:
    def engine(read_only: bool = False) -> Engine:
        return db.make_engine(
            settings.database_url,
            connect_timeout=settings.db_connect_timeout,
            query_timeout=settings.db_query_timeout,
            lock_wait_timeout=max(1, settings.db_retry_seconds // 2),
            read_only=read_only,
            pool_size=settings.db_pool_size,
        )

    main = engine()
    reader = engine(read_only=True) if main.dialect.name == "mysql" else None
    db.init_app(app, main, engine(), reader, retry_seconds=settings.db_retry_seconds)


def register_blueprints(app: APIFlask, settings: Settings) -> None:
    from .admin import register as register_admin
    from .auth import register as register_auth
    from .console import register as register_console
    from .extensions import check_rate_limits, make_limiter
    from .openapi import register as register_openapi
    from .ops import bp as ops_bp
    from .products import register as register_products
    from .stock import register as register_stock
    from .webhooks import register as register_webhooks

    make_limiter(app, settings)
    app.register_blueprint(ops_bp)
    register_auth(app)
    register_products(app)
    register_stock(app)
    register_admin(app)
    register_webhooks(app)
    register_openapi(app)
    register_console(app)
    check_rate_limits(app, settings)


def register_headers(app: APIFlask, settings: Settings) -> None:
    """CORS, when origins are configured (nosniff and no-store come from `logs.RequestLog`)."""
    origins = frozenset(settings.cors_origins)
    if not origins:
        return  # no hook at all: nothing for every request to pay

    @app.after_request
    def cors_headers(response: Response) -> Response:
        _cors(response, origins)
        return response


def _cors(response: Response, origins: frozenset[str]) -> None:
    """CORS only for the configured origins (CORS_ORIGINS); off when none are set."""
    origin = request.headers.get("Origin")
    if not origin or ("*" not in origins and origin not in origins):
        return
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = "ETag, Location, Retry-After"
    response.headers.add("Vary", "Origin")
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE"
        response.headers["Access-Control-Allow-Headers"] = (
            "Authorization, Content-Type, If-Match, Idempotency-Key"
        )
        response.headers["Access-Control-Max-Age"] = "600"


def register_housekeeping(app: APIFlask, settings: Settings) -> None:
    """Expired rows are purged by a thread of each serving process (see `purge`); last, as
    it wraps the WSGI callable the other steps built."""
    from .purge import start_with_first_request

    start_with_first_request(app, settings)


def register_cli(app: APIFlask) -> None:
    from .cli import register

    register(app)
