"""`make bench-layers`: what each layer of the service costs a request, in one process.

`GET /healthz` reaches no database, so its cost is what every request pays outside any
view. The script calls the WSGI app directly (no server, no socket, no other process), for
the bare Flask app of scripts/bare_app.py, for the service as `make serve` builds it, and
for the service with one layer taken out at a time, in turn, BENCH_LAYER_ROUNDS times
(5), and prints the best CPU time per request of each and what each layer costs. Settings
as for `make run` (SQLite in a scratch instance folder; metrics in a scratch folder, in
multiprocess mode as under `make serve`).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

SCRATCH = tempfile.mkdtemp(prefix="shopapi-layers-")
os.environ.setdefault("INSTANCE_PATH", SCRATCH)
# prometheus_client reads it once, at import: set before anything imports the service.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(SCRATCH, "metrics"))
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

import flask  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

from shopapi import create_app, logs  # noqa: E402
from shopapi.config import Settings  # noqa: E402
from shopapi.logs import configure_logging, flush_request_lines  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import bare_app  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_LAYER_ROUNDS", "5"))
REQUESTS = 4000
Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def main() -> int:
    service = create_app(Settings.read())
    environ = EnvironBuilder(path="/healthz", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    base = environ.get_environ()

    def call(app: Wsgi) -> str:
        answered: list[str] = []
        for _ in app(dict(base), lambda status, headers, exc_info=None: answered.append(status)):
            pass
        return answered[0]

    configure_logging()  # as app.py does: request lines as `make serve` writes them
    # the first request starts the worker's threads and drops their starter
    if not call(service).startswith("200"):
        raise SystemExit("the service did not answer GET /healthz with 200")
    log = service.wsgi_app
    if not isinstance(log, logs.RequestLog):
        raise SystemExit("the service's outermost WSGI layer is not RequestLog")
    observer, inner = log.observer, log.app
    view: Any = service.view_functions["ops.healthz"]
    teardowns = list(service.teardown_appcontext_funcs)

    def swap(obj: Any, name: str, value: Any) -> Callable[[], Callable[[], None]]:
        def take_out() -> Callable[[], None]:
            kept = getattr(obj, name)
            setattr(obj, name, value)
            return lambda: setattr(obj, name, kept)

        return take_out

    def no_teardown() -> Callable[[], None]:
        service.teardown_appcontext_funcs.clear()
        return lambda: service.teardown_appcontext_funcs.extend(teardowns)

    def unwrapped_view() -> Callable[[], None]:
        service.view_functions["ops.healthz"] = view.__wrapped__
        return lambda: service.view_functions.__setitem__("ops.healthz", view)

    layers: dict[str, Callable[[], Callable[[], None]]] = {
        "metrics (RequestMetrics)": swap(log, "observer", None),
        "request id, headers, log line and metrics (RequestLog)": swap(service, "wsgi_app", inner),
        "unit of work (db.unit_of_work)": unwrapped_view,
        "database teardown (close_request_connections)": no_teardown,
        "route and ids for the log (logs.Request.close)": swap(
            logs.Request, "close", flask.Request.close
        ),
    }
    assert observer is not None, "metrics are off (METRICS_ENABLED)"
    best: dict[str, float] = {}

    def measure(name: str, app: Wsgi) -> None:
        if not call(app).startswith("200"):
            raise SystemExit(f"{name}: GET /healthz did not answer 200")
        for _ in range(300):
            call(app)
        started = time.process_time()
        for _ in range(REQUESTS):
            call(app)
        used = (time.process_time() - started) / REQUESTS * 1e6
        best[name] = min(best.get(name, used), used)

    # The request lines go where make serve's go (standard error): here, nowhere.
    kept_stderr = os.dup(2)
    with open(os.devnull, "wb") as nowhere:
        os.dup2(nowhere.fileno(), 2)
    try:
        rounds(measure, service, layers)
    finally:
        flush_request_lines()
        os.dup2(kept_stderr, 2)
        os.close(kept_stderr)
    report(best, layers)
    return 0


def rounds(
    measure: Callable[[str, Wsgi], None],
    service: Wsgi,
    layers: dict[str, Callable[[], Callable[[], None]]],
) -> None:
    for _ in range(ROUNDS):
        measure("bare Flask app", bare_app.app)
        measure("service", service)
        for name, take_out in layers.items():
            put_back = take_out()
            try:
                measure(name, service)
            finally:
                put_back()


def report(best: dict[str, float], layers: Iterable[str]) -> None:
    whole = best["service"]
    print(f"GET /healthz in one process, CPU per request, best of {ROUNDS} rounds")
    print(f"{'bare Flask app':66} {best['bare Flask app']:7.1f} us")
    print(f"{'service':66} {whole:7.1f} us")
    for name in layers:
        line = f"{'  without ' + name:66} {best[name]:7.1f} us"
        print(f"{line}   the layer: {whole - best[name]:5.1f} us")
    print(f"the service beyond the bare app: {whole - best['bare Flask app']:.1f} us")


if __name__ == "__main__":
    sys.exit(main())
