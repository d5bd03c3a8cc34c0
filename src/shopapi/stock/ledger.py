"""The stock ledger: each change of a product's quantity is a movement row, so a product's
quantity is always the sum of its movements' `delta`.

`record()` writes one; `StockEffects` are the products' `Effects` (see resources.resource):
a created product's `initial` movement, a PUT or PATCH's `correction`, the refusal of a
change or delete that would take stock promised to reservations, and `available` on every
product the API returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Table, bindparam, func, insert, select

from ..caller import Account
from ..db import utcnow
from ..errors import ApiError
from ..resources.declaration import iso
from ..resources.resource import Effects, Written
from ..webhooks import outbox
from .held import available, held
from .models import INITIAL, reservation_items, stock_movements

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


def held_of(conn: Connection, product_ids: Sequence[int], at: datetime) -> dict[int, int]:
    """What reservations hold at `at` of each of `product_ids` that any hold (as `held_now`,
    for many products at once: one statement a few hundred of them)."""
    statement = (
        select(reservation_items.c.product_id, func.sum(reservation_items.c.quantity))
        .where(
            reservation_items.c.product_id.in_(bindparam("ids", expanding=True)),
            reservation_items.c.held_until > bindparam("at", type_=DateTime()),
        )
        .group_by(reservation_items.c.product_id)
    )
    holds: dict[int, int] = {}
    for start in range(0, len(product_ids), 500):
        part = list(product_ids[start : start + 500])
        for product_id, quantity in conn.execute(statement, {"ids": part, "at": at}):
            holds[int(product_id)] = int(quantity)
    return holds


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

    def written_many(
        self,
        conn: Connection,
        caller: Account,
        written: Sequence[Written],
        at: datetime,
        *,
        note: str | None = None,
    ) -> list[dict[str, Any]]:
        """`written()` of many creates and changes: their movements in a few multi-row
        inserts, what reservations hold of the changed ones read in one statement a few
        hundred. A quantity below what is held refuses the whole (409)."""
        changed = [w.resource_id for w in written if w.before is not None]
        holds = held_of(conn, changed, at) if changed else {}
        movements, derived = [], []
        for w in written:
            quantity, held_now_ = w.after["quantity"], holds.get(w.resource_id, 0)
            before = 0 if w.before is None else w.before["quantity"]
            if w.before is not None and quantity != before and quantity < held_now_:
                raise promised(
                    max(0, before - held_now_),
                    f"Reservations hold {held_now_} of product {w.resource_id}; its quantity "
                    "cannot go below that.",
                )
            if w.before is None or quantity != before:
                movements.append(
                    {
                        "product_id": w.resource_id,
                        "delta": quantity - before,
                        "reason": INITIAL if w.before is None else "correction",
                        "note": None if w.before is None else note,
                        "quantity_after": quantity,
                        "version_after": w.after["version"],
                        "at": at,
                        "user_id": caller.id,
                        "api_key_id": caller.api_key_id,
                    }
                )
            derived.append({"available": max(0, quantity - held_now_)})
        if not outbox.wanted_by_any(conn, "stock.moved"):  # the usual case: no events to write
            for start in range(0, len(movements), 500):
                conn.execute(insert(stock_movements), movements[start : start + 500])
            return derived
        statement = insert(stock_movements).returning(
            stock_movements.c.id, sort_by_parameter_order=True
        )
        events = []
        for start in range(0, len(movements), 500):
            part = movements[start : start + 500]
            for (movement_id,), row in zip(conn.execute(statement, part), part, strict=True):
                events.append({"id": int(movement_id), **row, "at": iso(at)})
        outbox.record_many(conn, "stock.moved", events)
        return derived
