"""The stock ledger: each change of a product's quantity is a movement row, so a product's
quantity is always the sum of its movements' `delta`.

`record()` writes one; `StockEffects` are the products' `Effects` (see resources.resource):
a created product's `initial` movement, a PUT or PATCH's `correction`, the refusal of a
change or delete that would take stock promised to reservations, and `available` on every
product the API returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Table, bindparam, insert, select

from ..caller import Account
from ..db import utcnow
from ..errors import ApiError
from ..resources.declaration import iso
from ..resources.resource import Effects
from ..webhooks import outbox
from .held import available, held
from .models import INITIAL, stock_movements

# What reservations hold of one product, read fresh by a statement of its own.
HELD_OF_ONE = select(held(bindparam("product_id"), bindparam("at", type_=DateTime())))


def record(
    conn: Connection,
    caller: Account | None,
    *,
    product_id: int,
    delta: int,
    reason: str,
    quantity_after: int,
    version_after: int,
    at: datetime,
    note: str | None = None,
) -> dict[str, Any]:
    """Insert one movement (`caller` None: the service's own); the movement in API form."""
    row = {
        "product_id": product_id,
        "delta": delta,
        "reason": reason,
        "note": note,
        "quantity_after": quantity_after,
        "version_after": version_after,
        "at": at,
        "user_id": None if caller is None else caller.id,
        "api_key_id": None if caller is None else caller.api_key_id,
    }
    key = conn.execute(insert(stock_movements).values(row)).inserted_primary_key
    if key is None:  # pragma: no cover - every supported backend reports the new id
        raise RuntimeError("the database did not report the new movement's id")
    movement = {"id": int(key[0]), **row, "at": iso(at)}
    outbox.record(conn, "stock.moved", movement)  # every movement is an event
    return movement


def held_now(conn: Connection, product_id: int, at: datetime) -> int:
    """What reservations hold of `product_id` at `at`, as committed now.

    Called with the product's row locked by this transaction: every reservation of it
    takes that lock first, so none is in flight, and this statement (READ COMMITTED on
    MariaDB: a fresh view per statement) sees every one that committed."""
    return int(conn.execute(HELD_OF_ONE, {"product_id": product_id, "at": at}).scalar_one())


def promised(available_now: int, detail: str) -> ApiError:
    return ApiError(409, detail, extra={"available": available_now})


class StockEffects(Effects):
    """What a product's writes do to its stock, and its `available` on reads."""

    def derived(self, table: Table) -> Mapping[str, Any]:
        return {"available": available(table.c.quantity, table.c.id)}

    def read_params(self) -> dict[str, Any]:
        return {"now": utcnow()}

    def written(
        self,
        conn: Connection,
        caller: Account,
        resource_id: int,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
        at: datetime,
    ) -> dict[str, Any]:
        if before is None and after is not None:  # a new product: nothing holds it yet
            record(
                conn,
                caller,
                product_id=resource_id,
                delta=after["quantity"],
                reason=INITIAL,
                quantity_after=after["quantity"],
                version_after=after["version"],
                at=at,
            )
            return {"available": after["quantity"]}
        holds = held_now(conn, resource_id, at)
        if after is None:
            if holds:
                raise promised(
                    0,
                    f"Reservations hold {holds} of this product; release them before deleting it.",
                )
            return {}
        assert before is not None  # noqa: S101 - a change has a before
        quantity = after["quantity"]
        if quantity != before["quantity"]:
            if quantity < holds:
                raise promised(
                    max(0, before["quantity"] - holds),
                    f"Reservations hold {holds} of this product; the quantity cannot go "
                    "below that.",
                )
            record(
                conn,
                caller,
                product_id=resource_id,
                delta=quantity - before["quantity"],
                reason="correction",
                quantity_after=quantity,
                version_after=after["version"],
                at=at,
            )
        return {"available": max(0, quantity - holds)}
