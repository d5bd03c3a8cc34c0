"""An import of products from a CSV file: every line creates the product with its SKU or
updates the one that has it, all in the request's one transaction, or nothing at all.

The file is read and checked first (`csvfile`); then the products of its SKUs are looked
up in bulk and locked in id order, each line is judged (a create lacking a required
column, a quantity below what reservations hold, a SKU on two lines: bad lines), and only
when no line is bad are the creates and changes written, in bulk (`resources.bulk`), a
thousand lines at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from ..caller import Account
from ..db import utcnow
from ..errors import ApiError
from ..resources import bulk
from ..stock.ledger import held_of
from .csvfile import REQUIRED, Line, Problems, decoded, read
from .models import PRODUCTS, products

# A changed quantity's stock movement (reason `correction`) carries this note.
NOTE = "import"
_STEP = 1000

_BY_SKU = select(products.c.id, products.c.sku_key).where(
    products.c.sku_key.in_(bindparam("keys", expanding=True))
)


def _existing(session: Session, keys: Sequence[str]) -> dict[str, Row[Any]]:
    """The products that have these SKU keys, by key, locked in id order."""
    conn = session.connection()
    ids = {}
    for part in bulk.chunks(keys):
        ids.update({key: product_id for product_id, key in conn.execute(_BY_SKU, {"keys": part})})
    locked = bulk.lock(session, PRODUCTS, ids.values())
    found = {}
    for key, product_id in ids.items():
        row = locked.get(product_id)
        if row is None or (row.sku or "").lower() != key:
            # Deleted or given another SKU between the look-up and the lock.
            raise ApiError(409, "Products of this file changed meanwhile; nothing changed.")
        found[key] = row
    return found


def run(session: Session, account: Account, raw: bytes, *, dry_run: bool) -> dict[str, Any]:
    """Import the CSV file `raw` (or, `dry_run`, only judge it); the counts of products
    created, updated and left unchanged. 422 listing every bad line, and nothing changes,
    when any line is bad."""
    problems = Problems()
    columns, lines = read(decoded(raw), problems)
    by_key: dict[str, list[Line]] = {}
    for line in lines:
        by_key.setdefault(line.data["sku"].lower(), []).append(line)
    for same in by_key.values():
        if len(same) > 1:
            for line in same:
                others = ", ".join(str(o.number) for o in same if o is not line)
                problems.add(line.number, "sku", f"This SKU is also on line {others}.")
    found = _existing(session, list(by_key))
    creates: list[Line] = []
    changes: list[tuple[Row[Any], Line]] = []
    unchanged = 0
    for key, same in by_key.items():
        if len(same) > 1:
            continue
        line = same[0]
        current = found.get(key)
        if current is None:
            missing = [name for name in REQUIRED if name not in columns]
            for name in missing:
                problems.add(line.number, name, "Required to create a product (none has this SKU).")
            if not missing:
                creates.append(line)
        else:
            # The line names its product by its SKU, which stays as the product has it.
            del line.data["sku"]
            if bulk.changes_of(PRODUCTS, current._mapping, line.data):
                changes.append((current, line))
            else:
                unchanged += 1
    _check_holds(session, changes, problems)
    if problems.lines:
        raise problems.refusal()
    if not dry_run:
        _write(session, account, creates, changes)
    return {"created": len(creates), "updated": len(changes), "unchanged": unchanged, "errors": []}


def _check_holds(
    session: Session, changes: Sequence[tuple[Row[Any], Line]], problems: Problems
) -> None:
    """A line that would take a product's quantity below what reservations hold is bad."""
    moved = [(row, line) for row, line in changes if _quantity(line.data, row) != row.quantity]
    if not moved:
        return
    holds = held_of(session.connection(), [row.id for row, _ in moved], utcnow())
    for row, line in moved:
        held = holds.get(row.id, 0)
        if line.data["quantity"] < held:
            problems.add(
                line.number,
                "quantity",
                f"Reservations hold {held} of this product; the quantity cannot go below that.",
            )


def _quantity(data: Mapping[str, Any], row: Row[Any]) -> int:
    return int(data.get("quantity", row.quantity))


def _write(
    session: Session,
    account: Account,
    creates: Sequence[Line],
    changes: Sequence[tuple[Row[Any], Line]],
) -> None:
    # In file order, a thousand lines at a time: what a step holds in memory stays small.
    for start in range(0, len(creates), _STEP):
        part = [line.data for line in creates[start : start + _STEP]]
        bulk.create_many(session, PRODUCTS, account, part, note=NOTE)
    for start in range(0, len(changes), _STEP):
        step = [(row, line.data) for row, line in changes[start : start + _STEP]]
        bulk.change_many(session, PRODUCTS, account, step, note=NOTE)
