"""Serving: Werkzeug for development (`python app.py`), granian for production (`make serve`).

`python -m shopapi.serving` is what `make serve`, the end-to-end tests and the load and
fuzz drivers start: it replaces itself with granian serving `app:rsgi`, the WSGI app
behind `shopapi.gateway.BodyFirst` (bodies are read whole before a thread runs the
request), with the settings of shopapi.config (HOST, PORT, WEB_CONCURRENCY, THREADS,
HEADER_TIMEOUT, BODY_TIMEOUT) and the fixed bounds below. Why granian, and how each
production need is met: docs/development/performance.md, docs/operations/serving.md and
docs/operations/deployment.md.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
from collections.abc import Callable

from dotenv import find_dotenv, load_dotenv
from werkzeug.serving import WSGIRequestHandler

from . import MAX_BODY_BYTES
from .config import ConfigError, Settings
from .gateway import BodyFirst, WsgiApp
from .products.routes import IMPORT_PATH

PRODUCTION_SERVER = "granian"
# A worker that stops is replaced after this many seconds; on SIGTERM, in-flight requests
# get this long to finish before the workers are killed.
RESPAWN_SECONDS = "1"
SHUTDOWN_SECONDS = "30"
# With `make serve`, REQUEST_TIMEOUT defaults to this: a request running longer ends its
# worker, which granian replaces (see shopapi.logs.RequestLog); database and Redis waits
# are bounded well below it.
SERVED_REQUEST_TIMEOUT = "30"
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


class QuietRequestHandler(WSGIRequestHandler):
    """No request line of Werkzeug's own: it would print query strings, where a token
    pasted by mistake would land. The app logs method, path, status and duration."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


def granian_command(
    target: str,
    host: str,
    port: int,
    workers: int,
    header_timeout: int,
    executable: Callable[[str], str] = lambda name: shutil.which(name) or name,
) -> list[str]:
    """The granian command line serving the RSGI app `target` ("module:attribute")."""
    return [
        executable("granian"),
        "--interface",
        "rsgi",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        "1",  # RSGI's event loop; the app's THREADS threads are BodyFirst's
        "--http1-header-read-timeout",
        str(header_timeout * 1000),
        "--http",
        "1",  # behind a proxy or a load balancer; no HTTP/2 negotiation per connection
        "--no-ws",
        "--no-access-log",  # the app logs each request, without its query string
        "--respawn-failed-workers",
        "--respawn-interval",
        RESPAWN_SECONDS,
        "--workers-kill-timeout",
        SHUTDOWN_SECONDS,
        target,
    ]


def production_command(settings: Settings, target: str = "app:rsgi") -> list[str]:
    """`make serve`'s command line, from HOST, PORT, WEB_CONCURRENCY and HEADER_TIMEOUT."""
    return granian_command(
        target,
        settings.host,
        settings.port,
        settings.web_concurrency,
        settings.header_timeout,
        lambda name: str(_bin(name)),
    )


def body_first(
    app: WsgiApp, settings: Settings, on_start: Callable[[], None] | None = None
) -> BodyFirst:
    """What granian serves: `app` behind BodyFirst, with THREADS threads and BODY_TIMEOUT;
    `on_start` runs in each worker as it starts (its webhook delivery)."""
    return BodyFirst(
        app,
        threads=settings.threads,
        body_timeout=float(settings.body_timeout),
        max_body=MAX_BODY_BYTES,
        larger_bodies={IMPORT_PATH: settings.import_max_bytes},
        on_start=on_start,
    )


def _bin(name: str) -> str:
    """The tool installed beside this interpreter (the virtualenv's), else on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), name)
    return beside if os.path.exists(beside) else (shutil.which(name) or name)


def metrics_directory(settings: Settings) -> str:
    """Where the workers write their metrics (see shopapi.metrics): PROMETHEUS_MULTIPROC_DIR,
    else a folder of the instance folder per port (two servers never share one), emptied
    of an earlier run's files: the figures start from zero with the server."""
    path = settings.prometheus_multiproc_dir or os.path.join(
        settings.instance_path, f"metrics-{settings.port}"
    )
    os.makedirs(path, mode=0o700, exist_ok=True)
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)
    return path


def main() -> None:
    # The working directory's .env, as app.py reads it: the launcher and the workers read
    # the same settings.
    load_dotenv(find_dotenv(usecwd=True))
    env = {**os.environ}
    env.setdefault("REQUEST_TIMEOUT", SERVED_REQUEST_TIMEOUT)
    try:
        settings = Settings.read(env)
        if settings.production:
            # A missing secret or an unreadable secret file stops the launcher with one line,
            # not each worker with a traceback (development's are made by the workers).
            settings.with_secrets()
    except ConfigError as error:
        sys.exit(f"shopapi.serving: {error}")
    # Set before any worker imports prometheus_client, which reads it once, at import.
    env[MULTIPROC_DIR] = metrics_directory(settings)
    command = production_command(settings)
    os.execve(command[0], command, env)  # noqa: S606 - our own server, no shell


if __name__ == "__main__":
    main()
