"""An import of products from a CSV file: every line creates the product with its SKU or
updates the one that has it, all in the request's one transaction, or nothing at all.

The file is read and checked first (`csvfile`); then the products of its SKUs are looked
up in bulk and locked in id order, a thousand at a time, each line judged (a create
lacking a required column, a quantity below what reservations hold, a SKU on two lines:
bad lines) and written in bulk (`resources.bulk`) while no line has been bad. A bad line
anywhere is 422, and the request's transaction, with all it wrote, is rolled back.
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


def _ids(session: Session, keys: Sequence[str]) -> list[tuple[int, str]]:
    """`(id, SKU key)` of the products that have these SKU keys, in id order."""
    conn = session.connection()
    found: list[tuple[int, str]] = []
    for part in bulk.chunks(keys):
        found += [(int(i), key) for i, key in conn.execute(_BY_SKU, {"keys": list(part)})]
    return sorted(found)


def _locked(session: Session, part: Sequence[tuple[int, str]]) -> list[tuple[Row[Any], str]]:
    """The rows of `part` (ids and SKU keys), locked; 409 if one is gone or has another SKU
    since it was looked up."""
    locked = bulk.lock(session, PRODUCTS, [product_id for product_id, _ in part])
    rows = []
    for product_id, key in part:
        row = locked.get(product_id)
        if row is None or (row.sku or "").lower() != key:
            raise ApiError(409, "Products of this file changed meanwhile; nothing changed.")
        rows.append((row, key))
    return rows


def run(session: Session, account: Account, raw: bytes, *, dry_run: bool) -> dict[str, Any]:
    """Import the CSV file `raw` (or, `dry_run`, only judge it); the counts of products
    created, updated and left unchanged. 422 listing every bad line, and nothing changes,
    when any line is bad.

    The file's products are locked and judged a thousand at a time in id order, and each
    thousand is written as soon as it is judged while no line has been bad, so memory
    holds one step's rows; a bad line found later rolls the whole transaction back."""
    problems = Problems()
    columns, lines = read(decoded(raw), problems)
    by_key: dict[str, Line | None] = {}
    first: dict[str, Line] = {}
    for line in lines:
        key = line.data["sku"].lower()
        if key in first:  # on two lines (or more): every one of them is bad
            other = first[key]
            problems.add(line.number, "sku", f"This SKU is also on line {other.number}.")
            if by_key[key] is not None:
                problems.add(other.number, "sku", f"This SKU is also on line {line.number}.")
            by_key[key] = None
        else:
            first[key] = by_key[key] = line
    del first, lines
    existing = _ids(session, list(by_key))
    updated = unchanged = 0
    for part in bulk.chunks(existing, _STEP):
        changes: list[tuple[Row[Any], Line]] = []
        for row, key in _locked(session, part):
            named = by_key.pop(key)
            if named is None:
                continue
            # The line names its product by its SKU, which stays as the product has it.
            del named.data["sku"]
            if bulk.changes_of(PRODUCTS, row._mapping, named.data):
                changes.append((row, named))
            else:
                unchanged += 1
        _check_holds(session, changes, problems)
        updated += len(changes)
        if changes and not (dry_run or problems.lines):
            step = [(row, line.data) for row, line in changes]
            bulk.change_many(session, PRODUCTS, account, step, note=NOTE)
    # What is left names no product: each line creates one.
    creates = [line for line in by_key.values() if line is not None]
    missing = [name for name in REQUIRED if name not in columns]
    for line in creates:
        for name in missing:
            problems.add(line.number, name, "Required to create a product (none has this SKU).")
    if problems.lines:
        raise problems.refusal()
    if not dry_run:
        for start in range(0, len(creates), _STEP):
            data = [line.data for line in creates[start : start + _STEP]]
            bulk.create_many(session, PRODUCTS, account, data, note=NOTE)
    return {"created": len(creates), "updated": updated, "unchanged": unchanged, "errors": []}


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
