"""Reads of stock are each one statement: the read and the account check together."""

from __future__ import annotations

from typing import Any

import pytest
from support import AuthActions, create_product, reserve, statements_sent


@pytest.mark.parametrize(
    "path",
    [
        "/api/products/{product}/stock-movements",
        "/api/products/{product}/stock-movements?limit=1",
        "/api/reservations",
        "/api/reservations?status=held",
        "/api/reservations/{reservation}",
    ],
)
def test_a_stock_read_sends_one_statement(
    app: Any, client: Any, auth: AuthActions, path: str
) -> None:
    headers = auth.headers()
    product = create_product(client, headers, quantity=5).get_json()
    made = reserve(client, headers, (product["id"], 1)).get_json()
    url = path.format(product=product["id"], reservation=made["id"])
    assert client.get(url, headers=headers).status_code == 200  # connections are warm
    with statements_sent(app) as sent:
        r = client.get(url, headers=headers)
    assert r.status_code == 200
    assert len(sent) == 1, [sql for sql, _ in sent]
