"""Create, read, replace, patch and delete products through the app, on each backend."""

from __future__ import annotations

from typing import Any

import pytest
from support import AuthActions, assert_problem, create_product, product_body


@pytest.fixture
def headers(auth: AuthActions) -> dict[str, str]:
    return auth.headers()


def test_create_returns_the_product_its_location_and_etag(
    client: Any, headers: dict[str, str]
) -> None:
    r = create_product(client, headers, price="19.90", quantity=3)
    body = r.get_json()
    assert set(body) == {
        "id",
        "sku",
        "name",
        "description",
        "price",
        "quantity",
        "version",
        "created_at",
        "updated_at",
        "available",
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


def test_put_replaces_every_field_and_bumps_the_version(
    client: Any, headers: dict[str, str]
) -> None:
    first = create_product(client, headers).get_json()
    url = f"/api/products/{first['id']}"
    r = client.put(url, json={"name": "Floor lamp", "price": 45, "quantity": 0}, headers=headers)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["name"] == "Floor lamp" and body["price"] == "45.00" and body["quantity"] == 0
    assert body["description"] is None  # omitted in a PUT: null
    assert body["version"] == 2 and r.headers["ETag"] == '"2"'
    assert body["created_at"] == first["created_at"]
    assert client.get(url, headers=headers).get_json() == body


def test_put_needs_every_required_field(client: Any, headers: dict[str, str]) -> None:
    url = create_product(client, headers).headers["Location"]
    problem = assert_problem(client.put(url, json={"name": "x"}, headers=headers), 422)
    assert sorted(problem["errors"]) == ["price", "quantity"]


def test_patch_changes_only_the_fields_sent(client: Any, headers: dict[str, str]) -> None:
    first = create_product(client, headers).get_json()
    url = f"/api/products/{first['id']}"
    r = client.patch(url, json={"quantity": 7}, headers=headers)
    assert r.status_code == 200
    assert r.get_json() == {
        **first,
        "quantity": 7,
        "available": 7,
        "version": 2,
        "updated_at": r.get_json()["updated_at"],
    }
    r = client.patch(url, json={"description": None, "price": "0.5"}, headers=headers)
    assert r.get_json()["description"] is None and r.get_json()["price"] == "0.50"
    assert r.get_json()["version"] == 3
    assert client.get(url, headers=headers).get_json() == r.get_json()


def test_patch_that_changes_nothing_keeps_the_version(client: Any, headers: dict[str, str]) -> None:
    url = create_product(client, headers, name="Desk lamp", price="19.90").headers["Location"]
    for body in ({}, {"name": " Desk lamp ", "price": 19.9}):
        r = client.patch(url, json=body, headers=headers)
        assert r.status_code == 200
        assert r.get_json()["version"] == 1 and r.headers["ETag"] == '"1"'


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"name": None}, ["name"]),
        ({"price": None}, ["price"]),
        ({"quantity": None}, ["quantity"]),
        ({"price": "1.001"}, ["price"]),
        ({"version": 5}, ["version"]),
        ({"id": 1}, ["id"]),
    ],
)
@pytest.mark.sqlite_only
def test_patch_validates_what_it_gets(
    client: Any, headers: dict[str, str], body: dict[str, Any], fields: list[str]
) -> None:
    url = create_product(client, headers).headers["Location"]
    assert sorted(assert_problem(client.patch(url, json=body, headers=headers), 422)["errors"]) == (
        fields
    )
    assert client.get(url, headers=headers).get_json()["version"] == 1


def test_delete_removes_the_product(client: Any, headers: dict[str, str]) -> None:
    url = create_product(client, headers).headers["Location"]
    r = client.delete(url, headers=headers)
    assert r.status_code == 204 and r.get_data() == b""
    assert_problem(client.get(url, headers=headers), 404)
    assert_problem(client.delete(url, headers=headers), 404)
    assert_problem(client.patch(url, json={"quantity": 1}, headers=headers), 404)


@pytest.mark.parametrize(
    "path",
    [
        "/api/products/424242",
        "/api/products/0",
        "/api/products/-1",
        "/api/products/abc",
        "/api/products/1.5",
        "/api/products/99999999999999999999999",
        "/api/products/9223372036854775808",
    ],
)
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_unknown_ids_are_404(client: Any, headers: dict[str, str], path: str, method: str) -> None:
    r = getattr(client, method)(
        path, json=product_body() if method in ("put", "patch") else None, headers=headers
    )
    assert_problem(r, 404)
    assert_problem(client.get(path + "/history", headers=headers), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/products"),
        ("get", "/api/products"),
        ("get", "/api/products/1"),
        ("put", "/api/products/1"),
        ("patch", "/api/products/1"),
        ("delete", "/api/products/1"),
        ("get", "/api/products/1/history"),
    ],
)
@pytest.mark.parametrize("authorization", [None, "Bearer nonsense", "Basic dXNlcjpwYXNz"])
@pytest.mark.sqlite_only
def test_every_endpoint_needs_an_access_token(
    client: Any, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    # A bad body too: the missing token is what the client must hear about.
    r = getattr(client, method)(path, data="{bad", content_type="text/plain", headers=headers)
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_if_match_with_a_stale_version_is_412(
    client: Any, headers: dict[str, str], method: str
) -> None:
    url = create_product(client, headers).headers["Location"]
    assert client.patch(url, json={"quantity": 9}, headers=headers).status_code == 200
    stale = {**headers, "If-Match": '"1"'}
    r = getattr(client, method)(
        url, json=product_body() if method != "delete" else None, headers=stale
    )
    assert_problem(r, 412)
    assert r.headers["ETag"] == '"2"'
    current = client.get(url, headers=headers).get_json()
    assert current["version"] == 2 and current["quantity"] == 9


@pytest.mark.parametrize("if_match", ['"1"', 'W/"1"', "*", '"7", "1"', ' "1" '])
def test_if_match_with_the_current_version_succeeds(
    client: Any, headers: dict[str, str], if_match: str
) -> None:
    url = create_product(client, headers).headers["Location"]
    r = client.patch(url, json={"quantity": 4}, headers={**headers, "If-Match": if_match})
    assert r.status_code == 200
    assert r.headers["ETag"] == '"2"'
    r = client.delete(url, headers={**headers, "If-Match": '"2"'})
    assert r.status_code == 204


@pytest.mark.parametrize("if_match", ["1", "'1'", '"abc"', "W/1", '"-1"', ""])
@pytest.mark.sqlite_only
def test_malformed_if_match_is_422(client: Any, headers: dict[str, str], if_match: str) -> None:
    url = create_product(client, headers).headers["Location"]
    r = client.patch(url, json={"quantity": 4}, headers={**headers, "If-Match": if_match})
    assert list(assert_problem(r, 422)["errors"]) == ["If-Match"]


def test_if_match_star_on_a_missing_product_is_404(client: Any, headers: dict[str, str]) -> None:
    r = client.put("/api/products/777", json=product_body(), headers={**headers, "If-Match": "*"})
    assert_problem(r, 404)
