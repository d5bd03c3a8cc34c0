"""Stock movements: one conditional statement applies a delta, or changes nothing.

`move()` adds `delta` to a product's quantity in one UPDATE whose WHERE says when it fits
(no read-modify-write), so of concurrent movements every one that fits is applied. With
the row then locked, a fresh read of what reservations hold refuses a movement that would
take promised stock (409; the unit of work rolls back). The product's history and the
movement row follow, in the same unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session

from ..caller import Account
from ..db import utcnow
from ..errors import ApiError
from ..products.fields import INT32_MAX
from ..products.models import PRODUCTS, products
from ..resources import versioned
from ..resources.declaration import iso
from ..resources.etags import etag
from ..resources.pages import keyset
from . import events, ledger
from .models import stock_movements

# Past this many lost races (each one a product that changed between the UPDATE that did
# not fit and the read that says why), the movement is refused as too busy.
MAX_ATTEMPTS = 20

_CURRENT = select(products.c.quantity, products.c.version).where(products.c.id == bindparam("id"))

m = stock_movements
# A product's movements newest first; the movement's JSON is written by the database.
PAGE = keyset(
    "stock-movements",
    select(m.c.id, m.c.delta, m.c.reason, m.c.note, m.c.quantity_after)
    .add_columns(m.c.version_after, m.c.at, m.c.user_id, m.c.api_key_id)
    .where(m.c.product_id == bindparam("product_id")),
    m.c.id,
    newest_first=True,
)


def as_api(row: Any, product_id: int) -> dict[str, Any]:
    """A movement row of `PAGE` in API form."""
    movement_id, delta, reason, note, after, version, at, user_id, api_key_id = row
    return {
        "id": movement_id,
        "product_id": product_id,
        "delta": delta,
        "reason": reason,
        "note": note,
        "quantity_after": after,
        "version_after": version,
        "at": iso(at),
        "user_id": user_id,
        "api_key_id": api_key_id,
    }


def _why_not(conn: Connection, product_id: int, data: Mapping[str, Any]) -> ApiError | None:
    """Why a movement that changed nothing did not fit (None: it would fit now, the product
    changed in between)."""
    found = conn.execute(_CURRENT, {"id": product_id}).first()
    if found is None:
        return PRODUCTS.not_found(product_id)
    quantity, version = found
    expected = data.get("expected_quantity")
    if expected is not None and quantity != expected:
        return ApiError(
            412,
            f"The quantity is {quantity}, not the expected {expected}; nothing changed.",
            headers={"ETag": etag(version)},
        )
    if 0 <= quantity + data["delta"] <= INT32_MAX:
        return None
    holds = ledger.held_now(conn, product_id, utcnow())
    return ledger.promised(
        max(0, quantity - holds),
        f"The quantity is {quantity}; a movement of {data['delta']} does not fit.",
    )


def move(
    session: Session, caller: Account, product_id: int, data: Mapping[str, Any]
) -> dict[str, Any]:
    """Apply a movement of `data` (delta, reason, note, expected_quantity) to a product."""
    conn, delta = session.connection(), data["delta"]
    fits = products.c.quantity + delta
    condition = [products.c.id == product_id, fits >= 0, fits <= INT32_MAX]
    if data.get("expected_quantity") is not None:
        condition.append(products.c.quantity == data["expected_quantity"])
    for _ in range(MAX_ATTEMPTS):
        now = utcnow()
        applied = conn.execute(
            update(products)
            .where(*condition)
            .values(quantity=fits, version=products.c.version + 1, updated_at=now)
        )
        if applied.rowcount == 1:
            return _recorded(session, caller, product_id, data, now)
        refusal = _why_not(conn, product_id, data)
        if refusal is not None:
            raise refusal
    raise ApiError(409, "The product is changing too often; try again.")


def _recorded(
    session: Session, caller: Account, product_id: int, data: Mapping[str, Any], now: Any
) -> dict[str, Any]:
    """The movement just applied (the product's row locked): checked against what
    reservations hold, then its history entry and its movement row."""
    conn = session.connection()
    quantity, version = conn.execute(_CURRENT, {"id": product_id}).one()
    before = quantity - data["delta"]
    holds = ledger.held_now(conn, product_id, now)
    if quantity < holds:
        raise ledger.promised(
            max(0, before - holds),
            f"Reservations hold {holds} of this product's {before}; "
            f"a movement of {data['delta']} would take promised stock.",
        )
    versioned.record(
        session,
        PRODUCTS,
        resource_id=product_id,
        version=version,
        action="update",
        account=caller,
        at=now,
        changes={"quantity": [before, quantity]},
    )
    movement = ledger.record(
        conn,
        caller,
        product_id=product_id,
        delta=data["delta"],
        reason=data["reason"],
        note=data.get("note"),
        quantity_after=quantity,
        version_after=version,
        at=now,
    )
    events.product_changed(conn, product_id, now)
    return movement
