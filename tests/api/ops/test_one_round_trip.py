"""An authenticated read is one statement: the read and the account check together."""

from __future__ import annotations

from typing import Any

import pytest
from support import AuthActions, create_product, statements_sent


@pytest.mark.parametrize(
    "path",
    [
        "/api/products",
        "/api/products?limit=1",
        "/api/products/{id}",
        "/api/products/{id}/history",
        "/auth/me",
    ],
)
def test_an_authenticated_read_sends_one_statement(
    app: Any, client: Any, auth: AuthActions, path: str
) -> None:
    headers = auth.headers()
    product = create_product(client, headers).get_json()
    url = path.format(id=product["id"])
    assert client.get(url, headers=headers).status_code == 200  # connections are warm
    with statements_sent(app) as sent:
        r = client.get(url, headers=headers)
    assert r.status_code == 200
    assert len(sent) == 1, [sql for sql, _ in sent]
