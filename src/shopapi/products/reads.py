"""Read-only queries: cursor pages of products and the history of one product."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Integer, bindparam, select

from .models import history, products
from .service import COLUMNS, MAX_ID, get, iso, not_found, to_api

# Built once: the hot path only binds values to an already compiled statement.
_PAGE = (
    select(*COLUMNS)
    .where(products.c.id > bindparam("after"))
    .order_by(products.c.id)
    .limit(bindparam("rows", type_=Integer))
)


def page(conn: Connection, *, after: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """Up to `limit` products with id > `after`, and the id the next page starts after.

    Keyset on the primary key: one index range scan whatever the table size or page depth.
    """
    rows = conn.execute(_PAGE, {"after": after, "rows": limit + 1}).all()
    items = [to_api(row) for row in rows[:limit]]
    next_after = items[-1]["id"] if len(rows) > limit else None
    return items, next_after


def product_history(conn: Connection, product_id: int) -> list[dict[str, Any]]:
    """Every change of the product, oldest first; 404 if it never existed."""
    if not 0 < product_id <= MAX_ID:
        raise not_found(product_id)
    rows = conn.execute(
        select(
            history.c.action,
            history.c.at,
            history.c.user_id,
            history.c.version,
            history.c.changes,
        )
        .where(history.c.product_id == product_id)
        .order_by(history.c.version)
    ).all()
    if not rows:
        get(conn, product_id)  # 404, unless a product was inserted behind the API's back
        return []
    return [
        {
            "action": row.action,
            "at": iso(row.at),
            "user_id": row.user_id,
            "version": row.version,
            "changes": json.loads(row.changes),
        }
        for row in rows
    ]
