"""The webhook events of stock: a product changed by a movement or a sale, in its API form.

Movements themselves send `stock.moved` where they are recorded (`ledger.record`); the
kit's writes send their own product events. A movement that is not a kit write (a
movement of its own, the sale of a committed reservation) sends `product.updated` here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, select

from ..products.declaration import PRODUCT
from ..products.models import products
from ..webhooks import outbox
from . import ledger

# The declared fields only (not the columns derived from them, such as the SKU's key).
_PRODUCT = select(*(products.c[f.name] for f in PRODUCT.fields)).where(
    products.c.id == bindparam("id")
)


def product_changed(conn: Connection, product_id: int, at: datetime) -> None:
    """Record `product.updated` with the product as it now is (its row locked by the
    change, in the change's transaction)."""
    row = conn.execute(_PRODUCT, {"id": product_id}).one()
    holds = ledger.held_now(conn, product_id, at)
    data = {**PRODUCT.to_api(row), "available": max(0, row.quantity - holds)}
    outbox.record(conn, "product.updated", data)
