"""What reservations hold of a product: the one SQL expression every read and check uses.

A reservation's items carry its `expires_at` in `held_until` while it holds, and null once
it is committed or released, so a product's held quantity is one index range of
(product_id, held_until): live holds only, however many reservations ended before.
`expires_at > now` is compared in the statement, so a hold ends at `expires_at` exactly,
with no job.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, DateTime, Integer, bindparam, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.functions import FunctionElement

from .models import reservation_items

items = reservation_items

# The moment a read is made: each statement that uses `held()` binds it.
NOW: BindParameter[Any] = bindparam("now", type_=DateTime())


def held(product_id: ColumnElement[Any] | BindParameter[Any], now: Any = NOW) -> Any:
    """The quantity unexpired, uncommitted reservations hold of `product_id` (0 if none), as
    a scalar subquery correlated to whatever `product_id` names."""
    return (
        select(func.coalesce(func.sum(items.c.quantity), 0))
        .where(items.c.product_id == product_id, items.c.held_until > now)
        .scalar_subquery()
    )


class _not_below_zero(FunctionElement[int]):  # noqa: N801 - named like SQL functions
    """GREATEST(x, 0) on MariaDB, max(x, 0) on SQLite: `x` evaluated once."""

    type = Integer()
    inherit_cache = True


@compiles(_not_below_zero)
def _greatest(element: _not_below_zero, compiler: SQLCompiler, **kw: Any) -> str:
    name = "max" if compiler.dialect.name == "sqlite" else "GREATEST"
    return f"{name}({compiler.process(element.clauses, **kw)}, 0)"


def available(quantity: Any, product_id: Any, now: Any = NOW) -> Any:
    """`quantity` less what is held of `product_id`, never below 0 (a SQL expression)."""
    return _not_below_zero(quantity - held(product_id, now))
