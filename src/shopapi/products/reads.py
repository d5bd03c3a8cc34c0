"""Read-only queries: one product, cursor pages of products and the history of one product.

One product and pages, the hottest reads, are each one statement that also checks the
current user's account (`with_account`): one round trip per request.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import CompoundSelect, Connection, bindparam, literal_column, select

from ..auth.current import fetch_as_current_user, with_account, with_account_rows
from .models import history, products
from .service import MAX_ID, get, iso, not_found

# The database writes each product's JSON in the API form that `service.to_api` gives
# (prices with two decimals, times as ...T...Z): the driver then decodes one text column
# per product instead of eight typed ones (PyMySQL's per-column work is much of a read's
# cost), and a page's items need no work in Python at all (a third more pages per second
# in `make bench`). The values are the same as every other response's; only spacing and
# key order may differ, and single products are re-encoded like every other response.
_JSON = {
    "mysql": (
        "JSON_OBJECT('id', products.id, 'name', products.name,"
        " 'description', products.description, 'price', CAST(products.price AS CHAR),"
        " 'quantity', products.quantity, 'version', products.version,"
        " 'created_at', DATE_FORMAT(products.created_at, '%Y-%m-%dT%H:%i:%sZ'),"
        " 'updated_at', DATE_FORMAT(products.updated_at, '%Y-%m-%dT%H:%i:%sZ'))"
    ),
    # SQLite keeps prices as whole cents (see models.Money).
    "sqlite": (
        "json_object('id', products.id, 'name', products.name,"
        " 'description', products.description,"
        " 'price', printf('%d.%02d', products.price / 100, products.price % 100),"
        " 'quantity', products.quantity, 'version', products.version,"
        " 'created_at', strftime('%Y-%m-%dT%H:%M:%SZ', products.created_at),"
        " 'updated_at', strftime('%Y-%m-%dT%H:%M:%SZ', products.updated_at))"
    ),
}
# Constant SQL: no input is ever formatted into it; the values are bound parameters.
_ONE = {
    dialect: with_account(
        products.c.id,
        literal_column(expr).label("body"),
        join=products,
        on=products.c.id == bindparam("id"),
    )
    for dialect, expr in _JSON.items()
}


def one(conn: Connection, product_id: int) -> dict[str, Any]:
    """The product in API form, read in the statement that checks the account; 404 if none."""
    in_range = 0 < product_id <= MAX_ID  # ids beyond BIGINT would not even bind
    statement = _ONE[conn.dialect.name]
    rows = fetch_as_current_user(conn, statement, {"id": product_id if in_range else 0})
    if not rows:
        raise not_found(product_id)
    product: dict[str, Any] = json.loads(rows[0][1])
    return product


def _page_statement(dialect: str, json_object: str) -> CompoundSelect[Any]:
    page = (
        select(products.c.id, literal_column(json_object).label("body"))
        .where(products.c.id > bindparam("after"))
        .order_by(products.c.id)
        .limit(bindparam("rows"))
    )
    # MariaDB runs the page as a part of the UNION, in parentheses (as a subquery it would
    # first be copied to a temporary table); SQLite takes it only as a subquery.
    return with_account_rows(page.subquery("page") if dialect == "sqlite" else page)


_PAGE = {dialect: _page_statement(dialect, expr) for dialect, expr in _JSON.items()}


def page(conn: Connection, *, after: int, limit: int) -> tuple[str, int | None]:
    """The JSON array of up to `limit` products with id > `after`, and the id the next page
    starts after.

    Keyset on the primary key: one index range scan whatever the table size or page depth.
    """
    params = {"after": after, "rows": limit + 1}
    rows = fetch_as_current_user(conn, _PAGE[conn.dialect.name], params)
    rows.sort()  # a UNION's rows come in no set order; these are nearly always in order
    items = "[" + ",".join(body for _, body in rows[:limit]) + "]"
    next_after = rows[limit - 1][0] if len(rows) > limit else None
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
