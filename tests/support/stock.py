"""Stock as the tests check it: a product's movements, and the ledger's invariant read
straight from the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text


def ledger_rows(app: Any) -> list[tuple[int, int, int]]:
    """(product id, quantity, sum of its movements' delta) for every product."""
    sql = (
        "SELECT p.id, p.quantity, (SELECT COALESCE(SUM(m.delta), 0) FROM stock_movements m"
        " WHERE m.product_id = p.id) FROM products p ORDER BY p.id"
    )
    with app.extensions["db_engine"].connect() as conn:
        return [(int(a), int(b), int(c)) for a, b, c in conn.execute(text(sql))]


def assert_ledger_holds(app: Any) -> None:
    """Every product's quantity is the sum of its movements."""
    for product_id, quantity, total in ledger_rows(app):
        assert quantity == total, f"product {product_id}: quantity {quantity}, movements {total}"


def move(client: Any, headers: dict[str, str], product_id: int, delta: int, **body: Any) -> Any:
    url = f"/api/products/{product_id}/stock-movements"
    return client.post(url, json={"delta": delta, "reason": "received", **body}, headers=headers)


def reserve(client: Any, headers: dict[str, str], *items: tuple[int, int], **body: Any) -> Any:
    wanted = [{"product_id": p, "quantity": q} for p, q in items]
    return client.post("/api/reservations", json={"items": wanted, **body}, headers=headers)
