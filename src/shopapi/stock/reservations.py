"""Reservations: stock held for a checkout, all items or none, until it is committed
(sold), released, or expires.

No oversell, on any number of instances: every write that can change what a product has
or holds locks the product's row first, and several products always in id order (so two
writers naming the same products in different orders wait, never deadlock), then reads
what is held in a fresh statement, which sees every reservation committed before the lock
was granted (READ COMMITTED on MariaDB). On SQLite one writer at a time holds the database;
a transaction that read before another's write committed fails at its first write and the
unit of work runs it again, whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    Table,
    and_,
    bindparam,
    cast,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from ..caller import Account
from ..caller.roles import ADMIN
from ..db import utcnow
from ..errors import ApiError, validation_error
from ..models import User
from ..products.models import PRODUCTS, products
from ..resources import versioned
from ..resources.declaration import iso
from ..resources.pages import keyset
from ..webhooks import outbox
from . import events, ledger
from .held import NOW
from .models import COMMITTED, EXPIRED, HELD, RELEASED, reservation_items, reservations

r, it = reservations, reservation_items

# A reservation's items as text, "product_id:quantity,...", beside its row: one statement
# reads a reservation or a page of them with their items.
_ITEMS = (
    select(func.group_concat(cast(it.c.product_id, String) + ":" + cast(it.c.quantity, String)))
    .where(it.c.reservation_id == r.c.id)
    .scalar_subquery()
)
_COLUMNS = (
    r.c.id,
    r.c.status,
    r.c.expires_at,
    r.c.created_at,
    r.c.user_id,
    r.c.api_key_id,
    r.c.note,
    _ITEMS.label("items"),
)
_ME: BindParameter[int] = bindparam("me")
# Visible to the account that made it and to admins (the caller's role as stored now).
_VISIBLE = or_(
    r.c.user_id == _ME, exists(select(User.id).where(User.id == _ME, User.role == ADMIN))
)
ONE = select(*_COLUMNS).where(r.c.id == bindparam("id"), _VISIBLE)
# The list is the caller's own reservations, newest first: by index (user_id, id).
_STATUS = {
    None: None,
    HELD: and_(r.c.status == HELD, r.c.expires_at > NOW),
    EXPIRED: and_(r.c.status == HELD, r.c.expires_at <= NOW),
    COMMITTED: r.c.status == COMMITTED,
    RELEASED: r.c.status == RELEASED,
}
PAGES = {
    status: keyset(
        "reservations",
        select(*_COLUMNS).where(r.c.user_id == _ME, *([] if condition is None else [condition])),
        r.c.id,
        newest_first=True,
    )
    for status, condition in _STATUS.items()
}


def status_at(stored: str, expires_at: datetime, now: datetime) -> str:
    """The status a client reads: a held reservation is expired from `expires_at` on."""
    return EXPIRED if stored == HELD and expires_at <= now else stored


def _items(text: str | None) -> list[dict[str, int]]:
    pairs = (part.split(":") for part in (text or "").split(",") if part)
    items = [{"product_id": int(p), "quantity": int(q)} for p, q in pairs]
    return sorted(items, key=lambda item: item["product_id"])


def as_api(row: Sequence[Any], now: datetime) -> dict[str, Any]:
    """A reservation in API form, from a row of `_COLUMNS`."""
    reservation_id, stored, expires_at, created_at, user_id, api_key_id, note, items = row
    return {
        "id": reservation_id,
        "status": status_at(stored, expires_at, now),
        "items": _items(items),
        "expires_at": iso(expires_at),
        "created_at": iso(created_at),
        "user_id": user_id,
        "api_key_id": api_key_id,
        "note": note,
    }


def _write_lock(conn: Connection, table: Table, *where: Any) -> None:
    """On SQLite, take the database's one write lock now, before the reads that decide.

    Python's sqlite3 begins a transaction at the first write, not at a read: reads before
    it would each see their own moment, and two requests could both judge the same stock
    free. A write that changes nothing begins the transaction holding the lock, so what
    follows reads and writes as the one writer, as MariaDB's row locks (`FOR UPDATE`)
    make it there."""
    if conn.dialect.name == "sqlite":
        conn.execute(update(table).where(*where).values(id=table.c.id))


def _lock_products(conn: Connection, ids: Sequence[int]) -> dict[int, Any]:
    """Lock the products of `ids` (those that exist), in id order, in one statement."""
    _write_lock(conn, products, products.c.id.in_(sorted(ids)))
    statement = (
        select(products.c.id, products.c.quantity, products.c.version)
        .where(products.c.id.in_(sorted(ids)))
        .order_by(products.c.id)
        .with_for_update()
    )
    return {row.id: row for row in conn.execute(statement)}


def _held(conn: Connection, ids: Sequence[int], now: datetime) -> dict[int, int]:
    """What live reservations hold of each of `ids`, read fresh (after the locks)."""
    statement = (
        select(it.c.product_id, func.sum(it.c.quantity))
        .where(it.c.product_id.in_(sorted(ids)), it.c.held_until > now)
        .group_by(it.c.product_id)
    )
    return {product_id: int(total) for product_id, total in conn.execute(statement)}


def make(session: Session, caller: Account, data: Mapping[str, Any]) -> dict[str, Any]:
    """Hold every item of `data`, or none: 422 for a product that does not exist, 409 with
    every shortage."""
    conn, now = session.connection(), utcnow()
    wanted = data["items"]
    ids = [item["product_id"] for item in wanted]
    locked = _lock_products(conn, ids)
    missing = {
        f"items[{index}].product_id": [f"There is no product {item['product_id']}."]
        for index, item in enumerate(wanted)
        if item["product_id"] not in locked
    }
    if missing:
        raise validation_error(missing)
    holds = _held(conn, ids, now)
    shortages = []
    for item in wanted:
        product_id = item["product_id"]
        free = max(0, locked[product_id].quantity - holds.get(product_id, 0))
        if item["quantity"] > free:
            shortages.append(
                {"product_id": product_id, "requested": item["quantity"], "available": free}
            )
    if shortages:
        raise ApiError(
            409,
            f"{len(shortages)} of the items are short; nothing is held.",
            extra={"shortages": shortages},
        )
    expires_at = now + timedelta(seconds=data["expires_in"])
    row = {
        "user_id": caller.id,
        "api_key_id": caller.api_key_id,
        "status": HELD,
        "expires_at": expires_at,
        "created_at": now,
        "ended_at": None,
        "note": data.get("note"),
    }
    key = conn.execute(insert(r).values(row)).inserted_primary_key
    if key is None:  # pragma: no cover - every supported backend reports the new id
        raise RuntimeError("the database did not report the new reservation's id")
    reservation_id = int(key[0])
    conn.execute(
        insert(it),
        [
            {
                "reservation_id": reservation_id,
                "product_id": item["product_id"],
                "quantity": item["quantity"],
                "held_until": expires_at,
            }
            for item in wanted
        ],
    )
    text = ",".join(f"{item['product_id']}:{item['quantity']}" for item in wanted)
    columns = (reservation_id, HELD, expires_at, now, caller.id, caller.api_key_id)
    held = as_api((*columns, row["note"], text), now)
    outbox.record(conn, "reservation.held", held)
    return held


def _locked(conn: Connection, caller: Account, reservation_id: int) -> Any:
    """The reservation's row, locked; 404 unless the caller may see it."""
    # The lock on its own: a locking read of one table, then the row with its items.
    _write_lock(conn, r, r.c.id == reservation_id)
    conn.execute(select(r.c.id).where(r.c.id == reservation_id).with_for_update())
    found = conn.execute(select(*_COLUMNS).where(r.c.id == reservation_id)).first()
    if found is None or (found.user_id != caller.id and caller.role != ADMIN):
        raise not_found(reservation_id)
    return found


def not_found(reservation_id: int) -> ApiError:
    return ApiError(404, f"There is no reservation {reservation_id}.")


def commit(session: Session, caller: Account, reservation_id: int) -> dict[str, Any]:
    """Sell what the reservation holds: each item a `sold` movement, in one transaction.
    Committed already: the same answer, nothing applied again."""
    conn, now = session.connection(), utcnow()
    found = _locked(conn, caller, reservation_id)
    status = status_at(found.status, found.expires_at, now)
    if status == COMMITTED:
        return as_api(found, now)
    if status != HELD:
        raise ApiError(409, f"The reservation is {status}; it holds nothing to commit.")
    items = _items(found.items)
    locked = _lock_products(conn, [item["product_id"] for item in items])
    for item in items:  # in product id order, as locked
        product = locked.get(item["product_id"])
        if product is None:  # pragma: no cover - a held product cannot be deleted
            raise ApiError(409, f"Product {item['product_id']} no longer exists.")
        _sell(session, caller, product, item["quantity"], reservation_id, now)
    conn.execute(update(r).where(r.c.id == reservation_id).values(status=COMMITTED, ended_at=now))
    conn.execute(update(it).where(it.c.reservation_id == reservation_id).values(held_until=None))
    committed = as_api((*found[:1], COMMITTED, *found[2:]), now)
    outbox.record(conn, "reservation.committed", committed)
    return committed


def _sell(
    session: Session, caller: Account, product: Any, quantity: int, reservation_id: int, now: Any
) -> None:
    """One item of a committed reservation: the product's quantity less it (its row locked,
    the reservation holding it, so it fits), its history entry and its `sold` movement."""
    after, version = product.quantity - quantity, product.version + 1
    session.connection().execute(
        update(products)
        .where(products.c.id == product.id)
        .values(quantity=after, version=version, updated_at=now)
    )
    versioned.record(
        session,
        PRODUCTS,
        resource_id=product.id,
        version=version,
        action="update",
        account=caller,
        at=now,
        changes={"quantity": [product.quantity, after]},
    )
    ledger.record(
        session.connection(),
        caller,
        product_id=product.id,
        delta=-quantity,
        reason="sold",
        note=f"reservation {reservation_id}",
        quantity_after=after,
        version_after=version,
        at=now,
    )
    # Its product event shows what is available after the sale: this reservation's hold
    # ends with it, so it no longer counts.
    conn = session.connection()
    conn.execute(
        update(it)
        .where(it.c.reservation_id == reservation_id, it.c.product_id == product.id)
        .values(held_until=None)
    )
    events.product_changed(conn, product.id, now)


def release(session: Session, caller: Account, reservation_id: int) -> None:
    """End the hold; released or expired already: nothing to do; committed: 409."""
    conn, now = session.connection(), utcnow()
    found = _locked(conn, caller, reservation_id)
    status = status_at(found.status, found.expires_at, now)
    if status == COMMITTED:
        raise ApiError(409, "The reservation is committed: its items are sold.")
    if status != HELD:
        return
    conn.execute(update(r).where(r.c.id == reservation_id).values(status=RELEASED, ended_at=now))
    conn.execute(update(it).where(it.c.reservation_id == reservation_id).values(held_until=None))
    outbox.record(conn, "reservation.released", as_api((*found[:1], RELEASED, *found[2:]), now))
