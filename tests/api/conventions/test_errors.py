"""Every error is problem+json; bodies are strict JSON objects of at most 1 MiB."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography.fernet import Fernet
from support import PASSWORD, AuthActions, assert_problem

# Errors are answered before any database work.
pytestmark = pytest.mark.sqlite_only
JSON = "application/json"


def test_unknown_path(client: Any) -> None:
    assert_problem(client.get("/no/such/thing"), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/auth/login"),
        ("DELETE", "/auth/register"),
        ("PUT", "/auth/me"),
        ("POST", "/healthz"),
    ],
)
def test_wrong_method(client: Any, method: str, path: str) -> None:
    r = client.open(path, method=method)
    assert_problem(r, 405)
    assert "Allow" in r.headers


def test_body_over_one_mebibyte(client: Any) -> None:
    padding = "x" * (1024 * 1024)
    r = client.post(
        "/auth/login", data=f'{{"username": "abc", "password": "{padding}"}}', content_type=JSON
    )
    assert_problem(r, 413)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("username=abc&password=x", "application/x-www-form-urlencoded"),
        ('{"username": "abc", "password": "x"}', "text/plain"),
        ('{"username": "abc", "password": "x"}', None),
    ],
)
def test_wrong_content_type(client: Any, data: str, content_type: str | None) -> None:
    r = client.post("/auth/login", data=data, content_type=content_type)
    assert_problem(r, 415)


@pytest.mark.parametrize(
    "data",
    [
        "",
        "{",
        "{'username': 'abc'}",
        "[]",
        '["username", "password"]',
        '"just a string"',
        "42",
        "null",
        '{"username": "abc", "password": NaN}',
        '{"username": "abc", "password": Infinity}',
        '{"username": "abc", "password": -Infinity}',
        '{"username": "abc", "password": ' + "9" * 5000 + "}",
        b'{"username": "\xff\xfe"}',
        "[" * 100_000 + "]" * 100_000,
    ],
    ids=lambda d: repr(d[:30]),
)
def test_bodies_that_are_not_a_json_object(client: Any, data: str | bytes) -> None:
    assert_problem(client.post("/auth/login", data=data, content_type=JSON), 400)


def test_validation_names_every_bad_field(client: Any) -> None:
    r = client.post("/auth/register", json={"username": "a", "password": "", "role": "admin"})
    body = assert_problem(r, 422)
    assert set(body["errors"]) == {"username", "password", "role"}
    assert all(isinstance(m, list) and m for m in body["errors"].values())


def test_a_body_of_thousands_of_unknown_fields_gets_a_short_answer(client: Any) -> None:
    """The declared fields' errors come first; fifty fields at most are listed, and the
    detail says how many more there were."""
    body = {"username": "a", **{f"f{i}": 1 for i in range(75_000)}}
    r = client.post("/auth/login", json=body)
    problem = assert_problem(r, 422)
    assert len(r.data) < 10_000
    assert len(problem["errors"]) == 50
    assert "username" in problem["errors"] and "password" in problem["errors"]
    assert "74952 more fields have errors" in problem["detail"]


def test_fifty_bad_fields_are_all_listed(client: Any) -> None:
    r = client.post("/auth/login", json={f"f{i}": 1 for i in range(48)})
    problem = assert_problem(r, 422)
    assert len(problem["errors"]) == 50  # username, password and the 48 unknown
    assert problem["detail"] == "The request has invalid fields."


def test_server_errors_never_show_internals(make_app: Callable[..., Any], client: Any) -> None:
    """A TOTP key that was replaced without rotation makes secrets unreadable: 500, cleanly."""
    auth = AuthActions(client)
    account = auth.register()
    broken = make_app(totp_encryption_keys=(Fernet.generate_key().decode(),))
    r = broken.test_client().post(
        "/auth/login", json={"username": account.username, "password": PASSWORD}
    )
    body = assert_problem(r, 500)
    text = r.get_data(as_text=True)
    for leak in ("Traceback", 'File "', "ValueError", "decrypt", "shopapi", "<html"):
        assert leak not in text
    assert set(body) == {"type", "title", "status", "detail"}


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/healthz", {}),
        ("GET", "/openapi.json", {}),
        ("GET", "/nowhere", {}),
        ("GET", "/auth/me", {}),
        ("POST", "/auth/login", {"json": {"username": "abc", "password": "x"}}),
        ("POST", "/auth/login", {"data": "[]", "content_type": JSON}),
    ],
)
def test_every_response_is_not_sniffed_nor_cached(
    client: Any, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    r = client.open(path, method=method, **kwargs)
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-store"


def test_signed_in_responses_are_not_cached(client: Any, auth: AuthActions) -> None:
    r = client.get("/auth/me", headers=auth.headers())
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_no_cors_unless_configured(client: Any) -> None:
    r = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers
