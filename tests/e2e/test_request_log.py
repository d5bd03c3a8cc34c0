"""The request log of the real server: routes and ids, never a path or query as sent."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import pytest
import requests
from support import LiveServer

pytestmark = pytest.mark.e2e


def _line_of(server: LiveServer, request_id: str) -> dict[str, Any]:
    """The log line of the request sent with this X-Request-ID (lines are written in
    batches, a few milliseconds after the answer)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in server.log().splitlines():
            if line.startswith("{") and f'"request_id": "{request_id}"' in line:
                entry: dict[str, Any] = json.loads(line)
                return entry
        time.sleep(0.05)
    raise AssertionError(f"no log line for {request_id}: {server.log()[-2000:]}")


def _get(server: LiveServer, path: str) -> tuple[requests.Response, dict[str, Any]]:
    request_id = f"test-{secrets.token_hex(8)}"
    r = requests.get(f"{server.url}{path}", headers={"X-Request-ID": request_id}, timeout=30)
    return r, _line_of(server, request_id)


def test_a_token_in_an_unknown_path_or_a_query_never_reaches_the_log(
    live_server: LiveServer,
) -> None:
    token = "eyJhbGciOiJIUzI1NiJ9." + secrets.token_urlsafe(32)
    r, line = _get(live_server, f"/auth/me/{token}?access_token={token}")
    assert r.status_code == 404
    assert line["path"] == "unmatched" and line["status"] == 404
    r, line = _get(live_server, f"/api/products?cursor={token}&access_token={token}")
    assert r.status_code == 401
    assert line["path"] == "/api/products"
    assert token not in live_server.log()


def test_a_token_in_a_matched_path_is_logged_as_its_route(live_server: LiveServer) -> None:
    """A path part that is not an id (a console file's name) is never logged."""
    token = secrets.token_urlsafe(32)
    r, line = _get(live_server, f"/console/v1/{token}.js")
    assert r.status_code == 404
    assert line["path"] == "/console/{version}/{filename}"
    assert token not in live_server.log()


def test_ids_are_logged_beside_the_route(live_server: LiveServer) -> None:
    r, line = _get(live_server, "/api/products/9223372036854775807")
    assert r.status_code == 401
    assert line["path"] == "/api/products/{product_id}"
    assert line["product_id"] == 9223372036854775807
    r, line = _get(live_server, "/api/products/9223372036854775808")  # no id: no route
    assert r.status_code == 404
    assert line["path"] == "unmatched" and "product_id" not in line
