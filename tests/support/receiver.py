"""A webhook receiver on the loopback: a small threaded HTTP server that keeps every request
it gets and answers as the test tells it (statuses in turn, a redirect, or holding the
request until released)."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Answers 200 unless `answers` (statuses, used in turn) or `redirect_to` say otherwise;
    while `hold` is set, requests wait until it is cleared (or their sender gives up)."""

    def __init__(self, host: str = "127.0.0.1", tls: tuple[str, str] | None = None) -> None:
        self.received: list[Received] = []
        self.answers: list[int] = []
        self.redirect_to: str | None = None
        # Called with each request before it is answered (in the server's thread).
        self.on_request: Callable[[Received], None] | None = None
        self.hold = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, location = receiver._answer(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                if status is None:
                    self.close_connection = True
                    return  # released without an answer: the sender sees the connection end
                self.send_response(status)
                if location is not None:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        scheme = "http"
        if tls is not None:  # (certificate file, key file)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://{host}:{self.port}/hook"

    def _answer(self, request: Received) -> tuple[int | None, str | None]:
        with self._lock:
            self.received.append(request)
            held = self.hold.is_set()
            status = self.answers.pop(0) if self.answers else 200
        if self.on_request is not None:
            self.on_request(request)
        if held:
            self._released.wait(60)
            return None, None
        if self.redirect_to is not None:
            return 302, self.redirect_to
        return status, None

    def release(self) -> None:
        self.hold.clear()
        self._released.set()

    def wait_for(self, count: int, seconds: float = 30) -> list[Received]:
        """The requests received, once there are at least `count` (or fail after `seconds`)."""
        deadline = time.monotonic() + seconds
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} webhooks received, wanted {count}")
            time.sleep(0.02)
        return list(self.received)


@contextmanager
def receiver(host: str = "127.0.0.1", tls: tuple[str, str] | None = None) -> Iterator[Receiver]:
    """A running `Receiver` (over TLS with `tls`: a certificate and its key), shut down
    after the block."""
    running = Receiver(host, tls)
    thread = threading.Thread(target=running.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield running
    finally:
        running.release()
        running.server.shutdown()
        running.server.server_close()


def certificate(folder: Path, name: str) -> tuple[str, str]:
    """A self-signed certificate for the DNS name `name` (its own CA) and its key, written to
    `folder`: the certificate file and the key file."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / f"{name}.crt", folder / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


def deliver(app: Any, **changes: Any) -> int:
    """Run the delivery worker's rounds until nothing is due (tests run no background
    thread); how many attempts it made. `changes` override the app's settings."""
    import dataclasses

    from shopapi.webhooks.worker import Worker

    settings = dataclasses.replace(app.extensions["settings"], **changes)
    worker = Worker(app.extensions["db_side"], settings)
    total = 0
    while (made := worker.run_once()) > 0:
        total += made
    return total
