"""The production server's front streams an answer that declares no length (an export).

A small WSGI app behind `BodyFirst`, under granian as `make serve` runs it, makes its
answer in pieces and waits, after the first, for a sign that the client has it: the client
must see the first piece while the rest is still being made. An answer that declares its
length comes in one piece, as before; and when the client leaves in the middle, the app's
iterable is closed (where a real export ends its database transaction).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from harness import RunningServer, free_port, launch
from support.waiting import wait_until

from shopapi.serving import granian_command

pytestmark = [pytest.mark.e2e, pytest.mark.sqlite_only]

APP = '''
import os, time
from pathlib import Path
from shopapi.gateway import BodyFirst

FOLDER = Path(os.environ["STREAM_FOLDER"])


def app(environ, start_response):
    if environ["PATH_INFO"] == "/healthz":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    if environ["PATH_INFO"] == "/whole":
        body = b"x" * 100_000
        headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
        start_response("200 OK", headers)
        return [body[:50_000], body[50_000:]]
    start_response("200 OK", [("Content-Type", "text/csv")])
    return Pieces()


class Pieces:
    """Line 0, then (once the client says it has it) lines 1-99; close() leaves a mark."""

    def __init__(self):
        self.lines = iter(range(100))

    def __iter__(self):
        return self

    def __next__(self):
        n = next(self.lines)
        if n == 1:  # the rest only once the client has line 0 (up to 10 s)
            deadline = time.monotonic() + 10
            while not (FOLDER / "got-first").exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        return f"line {n}\\n".encode()

    def close(self):
        (FOLDER / "closed").write_text("closed")


rsgi = BodyFirst(app, threads=2, body_timeout=10, max_body=1 << 20)
'''


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    (tmp_path / "streaming_app.py").write_text(APP)
    env = {
        **os.environ,
        "STREAM_FOLDER": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path]),
    }
    port = free_port()
    granian = str(Path(sys.executable).with_name("granian"))
    command = granian_command("streaming_app:rsgi", "127.0.0.1", port, 1, 10, lambda _: granian)
    running = launch(command, env, log_path=tmp_path / "server.log", port=port)
    yield running
    running.stop()


def test_an_answer_without_a_length_reaches_the_client_while_it_is_being_made(
    server: RunningServer, tmp_path: Path
) -> None:
    with requests.get(f"{server.url}/stream", stream=True, timeout=30) as answer:
        assert answer.headers.get("Content-Length") is None
        lines = answer.iter_lines()
        assert next(lines) == b"line 0"  # before the app has made line 1
        (tmp_path / "got-first").write_text("yes")
        rest = list(lines)
    assert rest == [f"line {n}".encode() for n in range(1, 100)]
    wait_until(lambda: (tmp_path / "closed").exists(), what="the app's iterable closed")


def test_a_client_that_leaves_mid_answer_gets_the_app_iterable_closed(
    server: RunningServer, tmp_path: Path
) -> None:
    answer = requests.get(f"{server.url}/stream", stream=True, timeout=30)
    assert next(answer.iter_lines()) == b"line 0"
    answer.close()  # the client goes away with 99 lines to come
    (tmp_path / "got-first").write_text("yes")
    wait_until(lambda: (tmp_path / "closed").exists(), what="the app's iterable closed")


def test_an_answer_with_a_length_comes_whole(server: RunningServer) -> None:
    answer = requests.get(f"{server.url}/whole", timeout=30)
    assert answer.headers["Content-Length"] == "100000"
    assert answer.content == b"x" * 100_000
