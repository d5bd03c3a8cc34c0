"""What an error answer must look like: an RFC 9457 problem (application/problem+json)."""

from __future__ import annotations

from typing import Any

import requests


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The response (Flask's test client) is an RFC 9457 problem of `status`; returns its body."""
    assert response.status_code == status, (response.status_code, response.data[:500])
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body: dict[str, Any] = response.get_json(force=True)
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert "type" in body
    return body


def is_problem(response: requests.Response, status: int) -> bool:
    """Whether a live server's answer is a problem+json of `status`."""
    return response.status_code == status and response.headers.get("Content-Type", "").startswith(
        "application/problem+json"
    )
