"""Create, read, replace, patch and delete products through the app, on each backend."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import AuthActions, assert_problem

NEW = {"name": "Desk lamp", "description": "Warm light", "price": "19.90", "quantity": 3}


@pytest.fixture
def headers(auth: AuthActions) -> dict[str, str]:
    return auth.headers()


def create(client: Any, headers: dict[str, str], **changes: Any) -> Any:
    r = client.post("/api/products", json={**NEW, **changes}, headers=headers)
    assert r.status_code == 201, r.get_json()
    return r


def test_create_returns_the_product_its_location_and_etag(
    client: Any, headers: dict[str, str]
) -> None:
    r = create(client, headers)
    body = r.get_json()
    assert set(body) == {
        "id",
        "name",
        "description",
        "price",
        "quantity",
        "version",
        "created_at",
        "updated_at",
    }
    assert body["id"] > 0 and body["version"] == 1
    assert body["price"] == "19.90" and body["quantity"] == 3
    assert body["created_at"] == body["updated_at"]
    assert r.headers["Location"] == f"/api/products/{body['id']}"
    assert r.headers["ETag"] == '"1"'
    again = client.get(r.headers["Location"], headers=headers)
    assert again.status_code == 200
    assert again.get_json() == body
    assert again.headers["ETag"] == '"1"'
