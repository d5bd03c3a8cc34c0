"""Structured JSON logs, one line per request, with a request id; never a secret.

Only method, route, the ids in the path, status, duration, client address and the request
id are logged for a request. The route is the matched rule in the OpenAPI form
(`/api/products/{product_id}`), never the path as sent: a token pasted into an address,
or a path no rule matched (logged as `unmatched`), never reaches the log; neither does the
query string. Bodies and headers, where passwords, codes and tokens travel, are not logged.
"""

from __future__ import annotations

import atexit
import itertools
import json
import logging
import os
import re
import secrets
import select
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from json.encoder import encode_basestring_ascii as quoted
from typing import Any, Protocol

import flask

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}
# Where request lines go: stderr once configure_logging() has run (python app.py, the
# production server). Before that (an app embedded elsewhere, the tests), they go through
# the `shopapi.access` logger to whatever logging the host set up.
_log_fd: int | None = None
access_log = logging.getLogger("shopapi.access")
log = logging.getLogger(__name__)
STUCK_EXIT_CODE = 70
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


ROUTE_KEY = "shopapi.route"  # where the matched rule waits for the WSGI middleware
IDS_KEY = "shopapi.ids"  # and the ids of the path: {"product_id": 7}
UNMATCHED = "unmatched"  # the route of every request no rule matched (never the raw path)
_PARAMETER = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


class Request(flask.Request):
    """Flask's request, which hands its matched rule and the ids in its path to the WSGI
    layer (`RequestLog` and its observer run after the request context is gone). Only
    integers (the `id` converter's values) are handed on: another path part, such as a
    file name, is text a client chose."""

    def close(self) -> None:
        rule = self.url_rule
        self.environ[ROUTE_KEY] = None if rule is None else rule.rule
        args = self.view_args or {}
        self.environ[IDS_KEY] = {k: v for k, v in args.items() if type(v) is int}
        super().close()


@lru_cache(maxsize=256)
def route_template(rule: str | None) -> str:
    """A Flask rule in the OpenAPI form of /openapi.json: `/api/products/{product_id}`."""
    return UNMATCHED if rule is None else _PARAMETER.sub(r"{\1}", rule)


class Observer(Protocol):
    """What else sees each request (`shopapi.metrics.RequestMetrics`)."""

    def started(self) -> None: ...

    def finished(self, environ: dict[str, Any], status: str, seconds: float) -> None: ...

    def flush(self) -> None: ...


def _timestamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class LineHandler(logging.Handler):
    """Writes each record as one line with a single write(2) to a file descriptor.

    A write of a line shorter than PIPE_BUF to a pipe, or to a file opened for appending,
    is never interleaved with another, so threads need no lock (and no extra thread).
    """

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd

    def handle(self, record: logging.LogRecord) -> bool:
        passed = bool(self.filter(record))
        if passed:
            self.emit(record)
        return passed

    def emit(self, record: logging.LogRecord) -> None:
        try:
            os.write(self.fd, (self.format(record) + "\n").encode())
        except Exception:  # noqa: BLE001 - logging must never fail a request
            self.handleError(record)


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr for the whole process."""
    global _log_fd
    _log_fd = sys.stderr.fileno()
    handler = LineHandler(_log_fd)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Werkzeug's own request lines would repeat ours (and print query strings).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


class LineBuffer:
    """Request lines wait here, and a thread of this process writes them every 50 ms, as
    many whole lines per write(2) as fit in PIPE_BUF (so that no other process's line can
    land inside one). A request only appends to a deque: no lock, no system call. With a
    write per request, the thread gave up the GIL for the system call and then waited to
    take it back: half of the profile of `/healthz`. A crash loses at most 50 ms of lines.
    """

    FLUSH_EVERY = 0.05

    def __init__(self) -> None:
        self._lines: deque[bytes] = deque()
        self._pid = 0

    def add(self, line: bytes) -> None:
        if self._pid != os.getpid():  # a forked worker writes its own lines
            self._start()
        self._lines.append(line)

    def _start(self) -> None:
        self._pid = os.getpid()
        self._lines = deque()
        threading.Thread(target=self._run, name="request-log", daemon=True).start()
        atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            time.sleep(self.FLUSH_EVERY)
            self.flush()

    def flush(self) -> None:
        chunk = bytearray()
        while True:
            try:
                line = self._lines.popleft()
            except IndexError:  # empty (another flush may have taken the last lines)
                break
            if chunk and len(chunk) + len(line) > select.PIPE_BUF:
                _write(chunk)
                chunk = bytearray()
            chunk += line
        if chunk:
            _write(chunk)


def _write(data: bytes | bytearray) -> None:
    try:
        os.write(_log_fd if _log_fd is not None else 2, data)
    except OSError:  # logging must never fail a request
        pass


_buffer = LineBuffer()


def flush_request_lines() -> None:
    """Write the request lines still waiting in this process's buffer now."""
    _buffer.flush()


class RequestLog:
    """WSGI middleware: a request id, the common response headers, one log line.

    Every request passes through here, so it does the least it can: no logging record,
    no dictionary, no JSON encoder beyond escaping the two strings a client chooses; the
    line is formatted at once (the clock's text once per second) and handed to a
    `LineBuffer`.

    With `stuck_after` (REQUEST_TIMEOUT seconds), a watchdog thread ends the process when a
    request has run that long: a thread cannot be stopped from outside, and a worker whose
    threads hang serves nobody; the production server starts a new worker in its place.
    """

    def __init__(
        self,
        app: WsgiApp,
        stuck_after: float = 0,
        observer: Observer | None = None,
        longer: Mapping[str, float] | None = None,
    ) -> None:
        self.app = app
        self.stuck_after = stuck_after
        # Paths whose POST may run longer than `stuck_after` (a file import), and how long.
        self.longer = dict(longer or {})
        self.observer = observer
        self._inflight: dict[int, tuple[float, str, float]] = {}
        self._watchdog_pid = 0
        self._ids = itertools.count()
        self._id_prefix = ""
        self._id_pid = 0
        self._second = -1
        self._stamp = ""

    def _new_id(self) -> str:
        # A random prefix per process and a counter: unique without a syscall per request.
        if self._id_pid != os.getpid():
            self._id_prefix, self._id_pid = secrets.token_hex(8), os.getpid()
        return f"{self._id_prefix}{next(self._ids):08x}"

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        request_id = environ.get("HTTP_X_REQUEST_ID")
        if not request_id or not REQUEST_ID.fullmatch(request_id):
            request_id = self._new_id()
        status = "500"

        def start(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal status
            status = code[:3]
            headers.append(("X-Request-ID", request_id))
            headers.append(("X-Content-Type-Options", "nosniff"))
            if not any(name.lower() == "cache-control" for name, _ in headers):
                headers.append(("Cache-Control", "no-store"))
            return start_response(code, headers, exc_info)

        if self.stuck_after:
            if self._watchdog_pid != os.getpid():
                self._start_watchdog()
            limit = self.stuck_after
            if environ.get("REQUEST_METHOD") == "POST":
                limit = max(limit, self.longer.get(environ.get("PATH_INFO", ""), 0))
            self._inflight[threading.get_ident()] = (started, request_id, limit)
        observer = self.observer
        if observer is not None:
            observer.started()
        try:
            return self.app(environ, start)
        finally:
            if self.stuck_after:
                self._inflight.pop(threading.get_ident(), None)
            seconds = time.perf_counter() - started
            if observer is not None:
                observer.finished(environ, status, seconds)
            self._write(environ, status, request_id, seconds)

    def _start_watchdog(self) -> None:
        self._watchdog_pid = os.getpid()  # a forked worker starts its own
        threading.Thread(target=self._watch, name="request-watchdog", daemon=True).start()

    def _watch(self) -> None:
        while True:
            time.sleep(min(1.0, self.stuck_after / 4))
            now = time.perf_counter()
            for started, request_id, limit in list(self._inflight.values()):
                if now - started > limit:
                    log.error(
                        "request stuck; ending this worker so that a new one replaces it",
                        extra={"request_id": request_id, "seconds": round(now - started, 1)},
                    )
                    _buffer.flush()
                    if self.observer is not None:
                        try:  # the counts of what this worker answered; never in the way
                            self.observer.flush()
                        except Exception:  # noqa: BLE001, S110 - the worker must end
                            pass
                    os._exit(STUCK_EXIT_CODE)

    def _write(self, environ: dict[str, Any], status: str, request_id: str, seconds: float) -> None:
        now = time.time()
        if int(now) != self._second:
            self._second, self._stamp = int(now), _timestamp(now)
        route = route_template(environ.get(ROUTE_KEY))
        ids: dict[str, int] = environ.get(IDS_KEY) or {}
        duration_ms = round(seconds * 1000, 2)
        if _log_fd is None:
            fields = {"request_id": request_id, "method": environ.get("REQUEST_METHOD", "")}
            fields |= {"path": route, **ids, "status": int(status), "duration_ms": duration_ms}
            access_log.info("request", extra={**fields, "remote_addr": environ.get("REMOTE_ADDR")})
            return
        # The route and the ids' names come from the service's own rules, the ids are
        # integers: only the method and the address need escaping.
        id_fields = "".join(f', "{name}": {value}' for name, value in ids.items())
        line = (
            f'{{"time": "{self._stamp}", "level": "info", "logger": "shopapi.access", '
            f'"message": "request", "request_id": "{request_id}", '
            f'"method": {quoted(environ.get("REQUEST_METHOD", ""))}, "path": "{route}"{id_fields}, '
            f'"status": {status}, "duration_ms": {duration_ms:.2f}, '
            f'"remote_addr": {quoted(environ.get("REMOTE_ADDR") or "")}}}\n'
        )
        _buffer.add(line.encode())
