"""Prices exact from request bytes to the database and back; strict quantities and text."""

from __future__ import annotations

from typing import Any

import pytest
from support import AuthActions, assert_problem, product_body


@pytest.fixture
def headers(auth: AuthActions) -> dict[str, str]:
    return auth.headers()


def post_raw(client: Any, headers: dict[str, str], price: str, quantity: str = "1") -> Any:
    """POST with the price and quantity written as raw JSON, exactly as a client sends them."""
    body = f'{{"name": "Mug", "price": {price}, "quantity": {quantity}}}'
    return client.post("/api/products", data=body, content_type="application/json", headers=headers)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("0", "0.00"),
        ("-0", "0.00"),
        ("-0.0", "0.00"),
        ('"0"', "0.00"),
        ("0.1", "0.10"),
        ("0.29", "0.29"),
        ("1.1", "1.10"),
        ('"1.100"', "1.10"),
        ("1.10000000000000000000000000000000000", "1.10"),
        ("12", "12.00"),
        ('"12.5"', "12.50"),
        ('"007.50"', "7.50"),
        ("1e2", "100.00"),
        ("1E-2", "0.01"),
        ("100.0e-2", "1.00"),
        ("1500.99", "1500.99"),
        ("99999999.99", "99999999.99"),
        ('"99999999.99"', "99999999.99"),
        ("99999999.990000", "99999999.99"),
        ("9007199254740993", None),  # beyond range, and beyond float precision
    ],
)
def test_price_is_stored_and_returned_exactly(
    client: Any, headers: dict[str, str], raw: str, stored: str | None
) -> None:
    r = post_raw(client, headers, raw)
    if stored is None:
        assert "price" in assert_problem(r, 422)["errors"]
        return
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["price"] == stored
    again = client.get(r.headers["Location"], headers=headers)
    assert again.get_json()["price"] == stored
    assert r.get_data() == again.get_data()


@pytest.mark.parametrize(
    "raw",
    [
        "-1",
        "-0.01",
        "1.105",
        '"1.105"',
        "2.675",
        "0.001",
        "1.10000000000000000000000000000001",
        "100000000",
        "99999999.991",
        "1e20",
        "1e999999",
        "1e-999999",
        '"-1"',
        '"+1"',
        '"-0"',
        '"1e2"',
        '" 1"',
        '"1 "',
        '"1 000"',
        '"1,5"',
        '".5"',
        '"5."',
        '"0x10"',
        '"abc"',
        '""',
        '"NaN"',
        '"Infinity"',
        '"\\u0661\\u0662"',
        "true",
        "false",
        "null",
        "[1]",
        '{"amount": 1}',
    ],
)
@pytest.mark.sqlite_only
def test_bad_prices_are_refused_never_rounded(
    client: Any, headers: dict[str, str], raw: str
) -> None:
    body = assert_problem(post_raw(client, headers, raw), 422)
    assert list(body["errors"]) == ["price"]
    assert client.get("/api/products", headers=headers).get_json()["items"] == []


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(client: Any, headers: dict[str, str], raw: str) -> None:
    assert_problem(post_raw(client, headers, raw), 400)


@pytest.mark.parametrize("raw", ["0", "5", "2147483647"])
def test_quantity_accepts_json_integers_in_range(
    client: Any, headers: dict[str, str], raw: str
) -> None:
    r = post_raw(client, headers, "1", raw)
    assert r.status_code == 201
    assert r.get_json()["quantity"] == int(raw)


@pytest.mark.parametrize(
    "raw",
    ["-1", "2147483648", "5.0", "5.5", "1e2", '"5"', "true", "false", "null", "[5]", "{}"],
)
@pytest.mark.sqlite_only
def test_quantity_refuses_anything_but_an_integer_in_range(
    client: Any, headers: dict[str, str], raw: str
) -> None:
    body = assert_problem(post_raw(client, headers, "1", raw), 422)
    assert list(body["errors"]) == ["quantity"]


@pytest.mark.parametrize(
    ("changes", "stored"),
    [
        ({"name": "  Mug  "}, {"name": "Mug"}),
        ({"name": "x"}, {"name": "x"}),
        ({"name": "n" * 100}, {"name": "n" * 100}),
        ({"name": "🦄" * 100}, {"name": "🦄" * 100}),
        ({"name": "👩‍👩‍👧"}, {"name": "👩‍👩‍👧"}),
        ({"description": "é" * 255}, {"description": "é" * 255}),
        ({"description": "🍵" * 255}, {"description": "🍵" * 255}),
        ({"description": ""}, {"description": ""}),
        ({"description": None}, {"description": None}),
        ({}, {"description": None}),
    ],
)
def test_text_is_counted_in_characters_and_round_trips(
    client: Any, headers: dict[str, str], changes: dict[str, Any], stored: dict[str, Any]
) -> None:
    body = product_body(without=["description"], **changes)
    r = client.post("/api/products", json=body, headers=headers)
    assert r.status_code == 201, r.get_json()
    again = client.get(r.headers["Location"], headers=headers).get_json()
    for field, value in stored.items():
        assert r.get_json()[field] == value
        assert again[field] == value


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"name": ""}, ["name"]),
        ({"name": "   "}, ["name"]),
        ({"name": "n" * 101}, ["name"]),
        ({"name": "🦄" * 101}, ["name"]),
        ({"name": None}, ["name"]),
        ({"name": 5}, ["name"]),
        ({"name": "\ud800"}, ["name"]),
        ({"description": "d" * 256}, ["description"]),
        ({"description": 5}, ["description"]),
        ({"id": 7}, ["id"]),
        ({"version": 9}, ["version"]),
        ({"created_at": "2026-01-01T00:00:00Z"}, ["created_at"]),
        ({"updated_at": "2026-01-01T00:00:00Z"}, ["updated_at"]),
        ({"colour": "red"}, ["colour"]),
        ({"name": "", "price": "-1", "quantity": 1.5}, ["name", "price", "quantity"]),
    ],
)
@pytest.mark.sqlite_only
def test_invalid_fields_are_named(
    client: Any, headers: dict[str, str], changes: dict[str, Any], fields: list[str]
) -> None:
    body = product_body(**changes)
    problem = assert_problem(client.post("/api/products", json=body, headers=headers), 422)
    assert sorted(problem["errors"]) == sorted(fields)


@pytest.mark.parametrize("missing", ["name", "price", "quantity"])
def test_required_fields(client: Any, headers: dict[str, str], missing: str) -> None:
    body = product_body(without=[missing])
    problem = assert_problem(client.post("/api/products", json=body, headers=headers), 422)
    assert list(problem["errors"]) == [missing]
