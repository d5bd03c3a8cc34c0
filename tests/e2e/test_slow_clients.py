"""Slow clients cost a connection, never a thread: the production server, as `make serve`
starts it, while clients send their headers or bodies slowly or not at all.

The bounds are lowered to 2 s here (HEADER_TIMEOUT, BODY_TIMEOUT) so that the attack's
connections are cut off, and come back, within the test; `make slowloris` holds 256 for
60 s against the defaults and prints the figures.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from slowloris import attack
from support import (
    PASSWORD,
    HttpAuth,
    LiveServer,
    loopback_address,
    server_env,
    start_production,
    stop_production,
)

from shopapi.config import Settings

pytestmark = pytest.mark.e2e
BOUND = 2


@pytest.fixture
def server(settings: Settings, secrets_env: dict[str, str], tmp_path: Path) -> Iterator[LiveServer]:
    env = server_env(settings, secrets_env, BODY_TIMEOUT=str(BOUND), HEADER_TIMEOUT=str(BOUND))
    server = start_production(env, tmp_path / "server.log", workers=2)
    yield server
    stop_production(server)


def _connect(server: LiveServer) -> socket.socket:
    parts = urlsplit(server.url)
    conn = socket.create_connection((parts.hostname, parts.port), timeout=30)
    return conn


def _until_closed(conn: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (30 s at most)."""
    received = b""
    try:
        while chunk := conn.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def test_64_slow_bodies_leave_health_checks_and_signed_in_reads_answering(
    server: LiveServer,
) -> None:
    _, token = HttpAuth(server.url, loopback_address()).sign_in()
    report = attack(server.url, token, connections=64, seconds=3 * BOUND)
    for probe in report.probes:
        assert probe.latencies, probe.name
        assert not probe.failures, (probe.name, probe.failures)
    # Each slow body was answered 408 after the bound, and its client came back.
    assert report.slow.answered_408 >= 64, report.slow
    assert report.slow.opened > 64
    assert not report.slow.other_answers, report.slow.other_answers


def test_a_body_that_stops_coming_gets_408_and_nothing_is_registered(
    server: LiveServer,
) -> None:
    username = f"slow_{uuid.uuid4().hex[:8]}"
    body = f'{{"username": "{username}", "password": "{PASSWORD}"}}'.encode()
    head = (
        "POST /auth/register HTTP/1.1\r\nHost: localhost\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with _connect(server) as conn:
        conn.sendall(head + body[:-2])  # all but the closing quote and brace
        answer = _until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"content-type: application/problem+json" in answer.lower()
    assert f"did not arrive within {BOUND} seconds".encode() in answer
    # Nothing of the request reached the service: the name is still free.
    r = requests.post(
        f"{server.url}/auth/register", json={"username": username, "password": PASSWORD}, timeout=30
    )
    assert r.status_code == 201, r.text


def test_headers_that_stop_coming_get_the_connection_closed(server: LiveServer) -> None:
    with _connect(server) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")  # no blank line
        answer = _until_closed(conn)
    assert b"200 OK" not in answer
    assert requests.get(f"{server.url}/healthz", timeout=30).status_code == 200


def test_a_body_sent_in_pieces_within_the_bound_is_served(server: LiveServer) -> None:
    body = f'{{"username": "nobody_{uuid.uuid4().hex[:8]}", "password": "wrong-password"}}'
    head = (
        "POST /auth/login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with _connect(server) as conn:
        conn.sendall(head)
        for start in range(0, len(body), 16):
            conn.sendall(body[start : start + 16].encode())
        answer = _until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b"The username or password is wrong." in answer
