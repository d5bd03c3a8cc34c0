"""A product's fields are declared once: every column reaches every form of a product.

Each test lists what it checks against the table's columns, so a field added to the table
that does not reach one of the forms (the API, the OpenAPI document, the idempotency
fingerprint, the history, the seeded data) fails here.
"""

from __future__ import annotations

from typing import Any

from support import (
    AuthActions,
    assert_ledger_holds,
    assert_problem,
    create_product,
    product_body,
)

from shopapi.products.declaration import PRODUCT
from shopapi.products.models import products

SERVICE_FIELDS = {"id", "version", "created_at", "updated_at"}
# Every column but those the service derives and never shows (the lower-cased SKU).
COLUMNS = {c.name for c in products.columns} - {d.name for d in PRODUCT.derived}
WRITABLE = COLUMNS - SERVICE_FIELDS
# Fields derived from other tables (what reservations hold), in every read too.
DERIVED = {"available"}
# For each writable field, a valid value other than product_body()'s.
OTHER = {
    "sku": "LAMP-2",
    "name": "Floor lamp",
    "description": "Cold light",
    "price": "19.91",
    "quantity": 4,
}


def test_the_examples_name_every_writable_column() -> None:
    assert set(product_body()) == set(OTHER) == WRITABLE


def test_every_column_is_in_the_api_form_of_a_product(client: Any, auth: AuthActions) -> None:
    headers = auth.headers()
    created = create_product(client, headers).get_json()
    one = client.get(f"/api/products/{created['id']}", headers=headers).get_json()
    page = client.get("/api/products", headers=headers).get_json()["items"][0]
    assert set(created) == set(one) == set(page) == COLUMNS | DERIVED
    assert created == one == page


def test_every_column_is_in_the_openapi_schemas(client: Any) -> None:
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    assert set(schemas["ProductOut"]["properties"]) == COLUMNS | DERIVED
    assert set(schemas["ProductIn"]["properties"]) == WRITABLE


def test_a_retry_that_changes_any_field_is_not_the_same_request(
    client: Any, auth: AuthActions
) -> None:
    headers = auth.headers()
    for field in sorted(WRITABLE):
        keyed = {**headers, "Idempotency-Key": f"key-{field}"}
        create_product(client, keyed)
        changed = product_body(**{field: OTHER[field]})
        r = client.post("/api/products", json=changed, headers=keyed)
        assert list(assert_problem(r, 422)["errors"]) == ["Idempotency-Key"], field


def test_history_names_every_writable_field(client: Any, auth: AuthActions) -> None:
    headers = auth.headers()
    created = create_product(client, headers).get_json()
    history = client.get(f"/api/products/{created['id']}/history", headers=headers).get_json()
    assert set(history["items"][0]["changes"]) == WRITABLE


def test_seeded_products_have_every_field(app: Any, client: Any, auth: AuthActions) -> None:
    result = app.test_cli_runner().invoke(args=["seed-products", "5", "--seed", "3"])
    assert result.exit_code == 0, result.output
    headers = auth.headers()
    items = client.get("/api/products", headers=headers).get_json()["items"]
    assert len(items) == 5
    for item in items:
        assert set(item) == COLUMNS | DERIVED
        history = client.get(f"/api/products/{item['id']}/history", headers=headers).get_json()
        (create,) = history["items"]
        assert set(create["changes"]) == WRITABLE
        assert {k: after for k, (_, after) in create["changes"].items()} == {
            k: item[k] for k in WRITABLE
        }
    assert_ledger_holds(app)  # each has its initial stock movement
