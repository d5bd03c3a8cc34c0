"""The web console: a browser client of the public API, served from the package's own files.

`/` is the console's one HTML page; its scripts and styles live under
`/console/<version>/`, where the version is a digest of the files, so browsers may keep
them for a year and still fetch new ones after an upgrade. The page calls the same JSON
endpoints as any other client, with the access token in the Authorization header.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Blueprint, Flask, Response, request, send_from_directory

HERE = Path(__file__).parent
STATIC = HERE / "static"
# The page runs only the console's own files; the QR code of an enrolment arrives from
# the API as a data: URI, hence `img-src data:`. No inline script or style is needed.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    # Cached, but checked with the ETag each time: a new release shows at the next visit.
    "Cache-Control": "no-cache",
}
IMMUTABLE = "public, max-age=31536000, immutable"
# Plain Blueprint, not APIBlueprint: the console is not part of the API's OpenAPI document.
bp = Blueprint("console", __name__)


def assets_version(folder: Path = STATIC) -> str:
    """A digest of every file under `folder`: it changes whenever one of them does."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


VERSION = assets_version()
PAGE = (HERE / "index.html").read_text(encoding="utf-8").replace("%ASSETS%", f"/console/{VERSION}")


@bp.get("/")
def page() -> Response:
    """The console's page; everything else it shows comes from the API."""
    response = Response(PAGE, mimetype="text/html")
    response.headers.update(PAGE_HEADERS)
    response.set_etag(VERSION)
    response.make_conditional(request)  # 304 when the browser has this release
    return response


@bp.get("/console/<version>/<path:filename>")
def asset(version: str, filename: str) -> Response:
    response = send_from_directory(STATIC, filename, max_age=0)
    if filename.endswith(".js"):
        response.mimetype = "text/javascript"  # RFC 9239; module scripts need a JS type
    # A page of an older release may still ask for its files: it gets today's, uncached.
    response.headers["Cache-Control"] = IMMUTABLE if version == VERSION else "no-cache"
    response.headers.pop("Expires", None)  # send_file's "Expires: now" contradicts a year
    return response


def register(app: Flask) -> None:
    app.register_blueprint(bp)
