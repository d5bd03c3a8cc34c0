"""The production server's front: a request's body is read whole before a thread runs it.

Granian's WSGI interface hands a request to a worker thread as soon as its headers have
arrived, and the thread then waits for the body as fast as the client sends it, with no
time limit. A client sending one byte a second held a thread each, and sixteen such
clients stopped a server. Here granian serves RSGI instead: the body is read on the worker's
event loop, where a waiting connection costs a coroutine and not a thread, within
`body_timeout` seconds (408 and the connection closed otherwise) and up to one byte past
`max_body` (the app answers 413). Only then does the WSGI app run, on one of `threads`
threads, with the body in memory.

An answer that declares its length (every JSON answer) is sent in one piece. One that does
not (a streamed export) is sent as the app makes it, a piece at a time: each piece is made
on a request thread and sent from the event loop, so memory holds one piece, not the whole.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from granian.rsgi import (  # type: ignore[attr-defined] # re-exported without `as` its own name
    ProtocolClosed,
    ProtocolError,
)

log = logging.getLogger(__name__)
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Answer = tuple[int, list[tuple[str, str]], bytes, "Iterator[bytes] | None"]


class Headers(Protocol):
    def keys(self) -> Iterable[str]: ...

    def get(self, key: str, default: str | None = None) -> str | None: ...

    def get_all(self, key: str) -> list[str]: ...


class Scope(Protocol):
    proto: str
    http_version: str
    server: str
    client: str
    scheme: str
    method: str
    path: str
    query_string: str

    @property
    def headers(self) -> Headers: ...


class HttpProtocol(Protocol):
    def __aiter__(self) -> Any: ...

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None: ...

    def response_stream(self, status: int, headers: list[tuple[str, str]]) -> StreamTransport: ...


class StreamTransport(Protocol):
    async def send_bytes(self, data: bytes) -> None: ...


class BodyTooSlow(Exception):
    """The client did not send its whole body in time."""


def _address(host_port: str) -> tuple[str, str]:
    """`1.2.3.4:80` or `[::1]:80` as (address, port)."""
    host, _, port = host_port.rpartition(":")
    return host.strip("[]"), port


def _problem(status: int, title: str, detail: str) -> bytes:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return json.dumps(body).encode()


class BodyFirst:
    """RSGI application that serves the WSGI `app` once each request's body is in."""

    def __init__(
        self,
        app: WsgiApp,
        *,
        threads: int,
        body_timeout: float,
        max_body: int,
        larger_bodies: Mapping[str, int] | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        # Run once in each worker process as it starts serving (background work of its own).
        self.on_start = on_start
        self.threads = threads
        self.body_timeout = body_timeout
        self.max_body = max_body
        # Paths whose POST body may be larger than `max_body` (a CSV import), and how large.
        self.larger_bodies = dict(larger_bodies or {})
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self._too_slow = _problem(
            408,
            "Request Timeout",
            f"The request body did not arrive within {body_timeout:g} seconds.",
        )

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._executor()
        if self.on_start is not None:
            self.on_start()

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)  # requests in flight finish and are answered

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None or self._pool_pid != os.getpid():  # each worker its own
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="request")
            self._pool_pid = os.getpid()
        return self._pool

    async def __rsgi__(self, scope: Scope, protocol: HttpProtocol) -> None:
        if scope.proto != "http":  # websockets are off (--no-ws)
            return
        try:
            body = b""
            limit = self._limit(scope)
            if self._has_body(scope.headers, limit):
                body = await asyncio.wait_for(self._body(protocol, limit), self.body_timeout)
        except TimeoutError:
            log.info(
                "request body too slow; connection closed",
                # Never the path as sent: a token pasted into it would land in the log.
                extra={"method": scope.method, "remote_addr": _address(scope.client)[0]},
            )
            headers = [("content-type", "application/problem+json"), ("connection", "close")]
            protocol.response_bytes(408, headers, self._too_slow)
            return
        except (ProtocolClosed, ProtocolError):  # the client went away: nobody to answer
            return
        environ = self._environ(scope, body)
        loop = asyncio.get_running_loop()
        call: Awaitable[Answer] = loop.run_in_executor(self._executor(), self._call, environ)
        status, headers, content, rest = await call
        if rest is None:
            protocol.response_bytes(status, headers, content)
        else:
            await self._stream(protocol, status, headers, content, rest)

    async def _stream(
        self,
        protocol: HttpProtocol,
        status: int,
        headers: list[tuple[str, str]],
        first: bytes,
        rest: Iterator[bytes],
    ) -> None:
        """Send `first`, then each piece of `rest` as a request thread makes it; close the
        app's iterable (on a request thread: it may end a database transaction) whatever
        happens, a client that goes away included."""
        loop = asyncio.get_running_loop()
        pool = self._executor()
        try:
            transport = protocol.response_stream(status, headers)
            if first:
                await transport.send_bytes(first)
            while (piece := await loop.run_in_executor(pool, next, rest, None)) is not None:
                if piece:
                    await transport.send_bytes(piece)
        except (ProtocolClosed, ProtocolError, OSError):  # the client went away
            log.info("client left during a streamed answer")
        finally:
            await loop.run_in_executor(pool, _close, rest)

    def _limit(self, scope: Scope) -> int:
        if scope.method == "POST":
            return self.larger_bodies.get(scope.path, self.max_body)
        return self.max_body

    def _has_body(self, headers: Headers, limit: int) -> bool:
        """Whether there is a body to read. A declared length above the limit is not read
        at all: the app answers 413 from the header."""
        length = headers.get("content-length")
        if length is None:
            return headers.get("transfer-encoding") is not None
        return not (length.isdigit() and int(length) > limit) and length != "0"

    async def _body(self, protocol: HttpProtocol, limit: int) -> bytes:
        """The body, or its first `limit + 1` bytes when it is longer (the app sees that
        it is too large)."""
        received = bytearray()
        async for chunk in protocol:
            received += chunk
            if len(received) > limit:
                break
        return bytes(received[: limit + 1])

    def _environ(self, scope: Scope, body: bytes) -> dict[str, Any]:
        server, port = _address(scope.server)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": scope.method,
            "SCRIPT_NAME": "",
            # WSGI carries the path's bytes as latin-1 text; granian decoded them as UTF-8.
            "PATH_INFO": scope.path.encode("utf-8").decode("latin-1"),
            "QUERY_STRING": scope.query_string,
            "SERVER_NAME": server,
            "SERVER_PORT": port,
            "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
            "REMOTE_ADDR": _address(scope.client)[0],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scope.scheme,
            "wsgi.input": io.BytesIO(body),
            "wsgi.input_terminated": True,  # the stream ends where the body does
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        headers = scope.headers
        for name in set(headers.keys()):
            values = headers.get_all(name)
            if name == "content-type":
                environ["CONTENT_TYPE"] = values[0]
            elif name == "content-length":
                environ["CONTENT_LENGTH"] = values[0]
            else:
                key = "HTTP_" + name.upper().replace("-", "_")
                environ[key] = ("; " if name == "cookie" else ",").join(values)
        return environ

    def _call(self, environ: dict[str, Any]) -> Answer:
        """Run the WSGI app on this thread; its answer: status, headers, and the body joined
        (what it passed to WSGI's write() first, as the specification orders) with None,
        or, when the answer declares no length, what was written and the rest to stream."""
        started: list[Any] = []
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            started[:] = [int(status[:3]), headers]
            return written.append

        result = self.app(environ, start_response)
        status, headers = started[0], started[1]
        # 204 and 304 have no body, hence no length: nothing to stream.
        declared = status in (204, 304) or any(n.lower() == "content-length" for n, _ in headers)
        if not declared:
            return status, headers, b"".join(written), _Pieces(result)
        try:
            content = b"".join([*written, *result])
        finally:
            _close(result)
        return status, headers, content, None


class _Pieces:
    """The pieces of a WSGI answer, handed out one `next()` at a time, and its close()."""

    def __init__(self, result: Iterable[bytes]) -> None:
        self.result = result
        self.pieces = iter(result)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self.pieces)

    def close(self) -> None:
        _close(self.result)


def _close(result: Any) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()
