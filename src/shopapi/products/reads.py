"""Read models: one product, cursor pages of products, the history of one product.

Plain SQL that knows nothing of who is asking: each function takes `run`, which executes a
statement with its parameters and returns its rows in no particular order. Views pass the
account-checking runner (`auth.checked_read`), so a read and the caller's account check are
one round trip.

The database writes each product's JSON in API form (`declaration.json_object_sql`): the
driver then decodes one text column per product instead of eight typed ones (PyMySQL's
per-column work is much of a read's cost), and a page's items need no work in Python.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, Text, bindparam, literal_column, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from ..db.together import AnySelect
from .declaration import FIELDS, iso, json_object_sql
from .models import history, products
from .service import not_found

Run = Callable[[AnySelect, Mapping[str, Any]], Sequence[tuple[Any, ...]]]


class product_json(FunctionElement[str]):  # noqa: N801 - named like SQL functions
    """A product's JSON in API form, written by the database (SQL per backend)."""

    type = Text()
    inherit_cache = True

    def __init__(self, table: Table) -> None:
        super().__init__(*(table.c[f.name] for f in FIELDS))


@compiles(product_json)
def _product_json(element: product_json, compiler: SQLCompiler, **kw: Any) -> str:
    columns = [compiler.process(column, **kw) for column in element.clauses]
    sql = json_object_sql(compiler.dialect.name, columns)
    # Through literal_column, so the dialect escapes '%' for its parameter style.
    return compiler.process(literal_column(sql), **kw)


_BODY = product_json(products).label("body")
_ONE = select(products.c.id, _BODY).where(products.c.id == bindparam("id"))
_PAGE = (
    select(products.c.id, _BODY)
    .where(products.c.id > bindparam("after"))
    .order_by(products.c.id)
    .limit(bindparam("rows"))
)
_HISTORY = (
    select(history.c.version, history.c.action, history.c.at, history.c.user_id, history.c.changes)
    .where(history.c.product_id == bindparam("id"))
    .order_by(history.c.version)
)
_EXISTS = select(products.c.id).where(products.c.id == bindparam("id"))


def one(run: Run, product_id: int) -> dict[str, Any]:
    """The product in API form; 404 if none."""
    rows = run(_ONE, {"id": product_id})
    if not rows:
        raise not_found(product_id)
    product: dict[str, Any] = json.loads(rows[0][1])
    return product


def page(run: Run, *, after: int, limit: int) -> tuple[str, int | None]:
    """The JSON array of up to `limit` products with id > `after`, and the id the next page
    starts after.

    Keyset on the primary key: one index range scan whatever the table size or page depth.
    """
    rows = sorted(run(_PAGE, {"after": after, "rows": limit + 1}))
    items = "[" + ",".join(body for _, body in rows[:limit]) + "]"
    next_after = rows[limit - 1][0] if len(rows) > limit else None
    return items, next_after


def product_history(run: Run, product_id: int) -> list[dict[str, Any]]:
    """Every change of the product, oldest first; 404 if it never existed."""
    rows = sorted(run(_HISTORY, {"id": product_id}))
    if not rows:
        # A product inserted behind the API's back has no history, but exists.
        if not run(_EXISTS, {"id": product_id}):
            raise not_found(product_id)
        return []
    return [
        {
            "action": action,
            "at": iso(at),
            "user_id": user_id,
            "version": version,
            "changes": json.loads(changes),
        }
        for version, action, at, user_id, changes in rows
    ]
