"""The products part of the OpenAPI document, and the body rules every write shares."""

from __future__ import annotations

from typing import Any

import pytest
from support import AuthActions, assert_problem, create_product

# The OpenAPI document and the body rules are checked before any database work.
pytestmark = pytest.mark.sqlite_only
ONE = "/api/products/{product_id}"
OPERATIONS = {
    ("/api/products", "post"): {"201", "400", "401", "413", "415", "422"},
    ("/api/products", "get"): {"200", "401", "422"},
    (ONE, "get"): {"200", "401", "404"},
    (ONE, "put"): {"200", "400", "401", "404", "412", "415", "422"},
    (ONE, "patch"): {"200", "400", "401", "404", "412", "415", "422"},
    (ONE, "delete"): {"204", "401", "404", "412"},
    (ONE + "/history", "get"): {"200", "401", "404"},
}


@pytest.fixture
def spec(client: Any) -> dict[str, Any]:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    document: dict[str, Any] = r.get_json()
    return document


@pytest.mark.parametrize(("path", "method"), list(OPERATIONS))
def test_every_products_operation_is_documented(
    spec: dict[str, Any], path: str, method: str
) -> None:
    operation = spec["paths"][path][method]
    # A person's access token, or an API key with the scope the operation names.
    assert operation["security"] == [{"BearerAuth": []}, {"ApiKeyAuth": []}]
    assert OPERATIONS[(path, method)] <= set(operation["responses"])
    assert operation["summary"]
    for status, response in operation["responses"].items():
        if status.startswith("4"):
            assert "application/problem+json" in response["content"]
    headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
    if method in ("put", "patch", "delete"):
        assert "If-Match" in headers
    if method == "post":
        assert "Idempotency-Key" in headers
        assert "Location" in operation["responses"]["201"]["headers"]


def test_product_schemas_describe_the_fields(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert schemas["ProductIn"]["required"] == ["name", "price", "quantity"]
    assert schemas["ProductIn"]["additionalProperties"] is False
    assert "required" not in schemas["ProductInUpdate"]
    assert set(schemas["ProductOut"]["properties"]) == {
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
    assert schemas["ProductOut"]["properties"]["price"]["type"] == "string"
    page = spec["paths"]["/api/products"]["get"]["parameters"]
    limit = next(p for p in page if p["name"] == "limit")
    assert limit["schema"]["minimum"] == 1 and limit["schema"]["maximum"] == 200


@pytest.mark.parametrize("method", ["post", "put", "patch"])
@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ('{"name": "a", "price": 1, "quantity": 1}', "text/plain", 415),
        ("{bad json", "application/json", 400),
        ('["name", "a"]', "application/json", 400),
        ('{"name": "a", "price": NaN, "quantity": 1}', "application/json", 400),
        ('{"name": "' + "a" * (1024 * 1024) + '"}', "application/json", 413),
    ],
)
def test_bodies_must_be_json_objects(
    client: Any, auth: AuthActions, method: str, data: str, content_type: str, status: int
) -> None:
    headers = auth.headers()
    url = create_product(client, headers).headers["Location"]
    target = "/api/products" if method == "post" else url
    r = getattr(client, method)(target, data=data, content_type=content_type, headers=headers)
    assert_problem(r, status)
    assert client.get(url, headers=headers).get_json()["version"] == 1
    assert len(client.get("/api/products", headers=headers).get_json()["items"]) == 1


def test_product_responses_are_not_cached(client: Any, auth: AuthActions) -> None:
    headers = auth.headers()
    r = create_product(client, headers)
    for response in (r, client.get(r.headers["Location"], headers=headers)):
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Content-Type"] == "application/json"
