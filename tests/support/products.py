"""Products as a client sends them: a valid body, and one created through the API."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import requests


def product_body(*, without: Iterable[str] = (), **fields: Any) -> dict[str, Any]:
    """A valid body for POST /api/products with every writable field; `without` leaves some
    out, `fields` replace or add values."""
    # No SKU: many products may have none, so the same body can be sent again and again.
    body = {
        "sku": None,
        "name": "Desk lamp",
        "description": "Warm light",
        "price": "19.90",
        "quantity": 3,
    }
    for name in without:
        del body[name]
    return {**body, **fields}


def create_product(client: Any, headers: dict[str, str], base: str = "", **fields: Any) -> Any:
    """POST /api/products with `product_body(**fields)` and return the 201 response.

    `client` is Flask's test client, or a requests session with the server's `base` URL.
    """
    url, body = f"{base}/api/products", product_body(**fields)
    if isinstance(client, requests.Session):
        r = client.post(url, json=body, headers=headers, timeout=30)
    else:
        r = client.post(url, json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r
