"""Operations: liveness, readiness and the API documentation page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import String
from flask import (
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    send_from_directory,
)
from swagger_ui_bundle import swagger_ui_path

from . import db, metrics

bp = APIBlueprint("ops", __name__, tag="Operations")
TEMPLATES = Path(__file__).parent / "templates"
DOCS_ASSETS = {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"}


class StatusOut(Schema):
    status = String(metadata={"example": "ok"})


@bp.get("/healthz")
@bp.output(StatusOut, description="The process is up")
def healthz() -> Any:
    """Liveness: the process answers."""
    return jsonify(status="ok")


@bp.get("/readyz")
@bp.output(StatusOut, description="The database is reachable")
@bp.doc(responses={503: "The database is unreachable"})
def readyz() -> Any:
    """Readiness: the database answers."""
    if db.ping():
        return jsonify(status="ok")
    from .errors import problem

    metrics.unavailable("database")
    return problem(503, "The database is unreachable.", headers={"Retry-After": "5"})


@bp.get("/docs")
@bp.doc(hide=True)
def docs() -> Any:
    """Swagger UI, served from the package's own assets (works with no internet)."""
    html = render_template("docs.html", title=current_app.title)  # type: ignore[attr-defined]
    response = Response(html, mimetype="text/html")
    # Swagger UI sets inline styles, hence 'unsafe-inline' for styles (never for scripts).
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "frame-ancestors 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    return response


@bp.get("/docs/assets/<path:filename>")
@bp.doc(hide=True)
def docs_asset(filename: str) -> Any:
    if filename == "docs-init.js":
        return send_from_directory(TEMPLATES, filename, max_age=3600)
    if filename not in DOCS_ASSETS:
        abort(404)
    response = send_from_directory(swagger_ui_path, filename, max_age=3600)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
