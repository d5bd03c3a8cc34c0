"""Product logic: validated data and a session in, API-shaped dicts or `ApiError` out.

Every change is one conditional statement (`... WHERE id = :id AND version = :v`) plus its
history row, committed together: a writer holding a stale version changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, CursorResult, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from ..db import utcnow
from ..errors import ApiError
from .fields import format_price
from .models import history, products
from .tokens import etag

FIELDS = ("name", "description", "price", "quantity")
MAX_ID = 2**63 - 1
# Without If-Match a write re-reads and retries when another writer got in between.
MAX_ATTEMPTS = 20
COLUMNS = (
    products.c.id,
    products.c.name,
    products.c.description,
    products.c.price,
    products.c.quantity,
    products.c.version,
    products.c.created_at,
    products.c.updated_at,
)


_ONE = select(*COLUMNS).where(products.c.id == bindparam("id"))


def iso(moment: datetime) -> str:
    # Stored times are naive UTC in whole seconds, so isoformat() has no fraction or offset.
    return moment.isoformat() + "Z"


def api_value(field: str, value: Any) -> Any:
    return format_price(value) if field == "price" and value is not None else value


def to_api(row: Any) -> dict[str, Any]:
    """A row of COLUMNS (or a mapping with their names) in API form."""
    if not isinstance(row, Mapping):
        # Unpacking the row's tuple is the cheap path that every page of 50 takes.
        id_, name, description, price, quantity, version, created_at, updated_at = row
        return {
            "id": id_,
            "name": name,
            "description": description,
            "price": format_price(price),
            "quantity": quantity,
            "version": version,
            "created_at": iso(created_at),
            "updated_at": iso(updated_at),
        }
    r = row
    return {
        "id": r["id"],
        "name": r["name"],
        "description": r["description"],
        "price": format_price(r["price"]),
        "quantity": r["quantity"],
        "version": r["version"],
        "created_at": iso(r["created_at"]),
        "updated_at": iso(r["updated_at"]),
    }


def not_found(product_id: int) -> ApiError:
    return ApiError(404, f"There is no product {product_id}.")


def _read(conn: Connection, product_id: int) -> Any:
    if not 0 < product_id <= MAX_ID:
        raise not_found(product_id)
    row = conn.execute(_ONE, {"id": product_id}).first()
    if row is None:
        raise not_found(product_id)
    return row


def _require(version: int, if_match: set[int] | None) -> None:
    if if_match is not None and version not in if_match:
        raise ApiError(
            412,
            f"The product is at version {version}, not the one in If-Match; "
            "read it again and retry.",
            headers={"ETag": etag(version)},
        )


def _record(
    session: Session,
    *,
    product_id: int,
    version: int,
    action: str,
    user_id: int | None,
    at: datetime,
    changes: Mapping[str, list[Any]],
) -> None:
    session.connection().execute(
        insert(history).values(
            product_id=product_id,
            version=version,
            action=action,
            user_id=user_id,
            at=at,
            changes=json.dumps(changes, ensure_ascii=False, separators=(",", ":")),
        )
    )


def _execute(session: Session, statement: Any) -> CursorResult[Any]:
    # Core on the session's connection: these statements need none of the ORM's work.
    return session.connection().execute(statement)


def get(conn: Connection, product_id: int) -> dict[str, Any]:
    return to_api(_read(conn, product_id))


def insert_product(session: Session, data: Mapping[str, Any], *, user_id: int) -> dict[str, Any]:
    """Insert a product and its 'create' history row; the caller commits."""
    now = utcnow()
    values = {f: data.get(f) for f in FIELDS}
    row = {**values, "version": 1, "created_at": now, "updated_at": now}
    key = _execute(session, insert(products).values(**row)).inserted_primary_key
    if key is None:  # pragma: no cover - every supported backend reports the new id
        raise RuntimeError("the database did not report the new product's id")
    product_id = int(key[0])
    changes = {f: [None, api_value(f, v)] for f, v in values.items()}
    _record(
        session,
        product_id=product_id,
        version=1,
        action="create",
        user_id=user_id,
        at=now,
        changes=changes,
    )
    return to_api({"id": product_id, **row})


def create(session: Session, data: Mapping[str, Any], *, user_id: int) -> dict[str, Any]:
    product = insert_product(session, data, user_id=user_id)
    session.commit()
    return product


def change(
    session: Session,
    product_id: int,
    data: Mapping[str, Any],
    *,
    if_match: set[int] | None,
    user_id: int,
) -> dict[str, Any]:
    """Apply `data` (every field for PUT, some for PATCH) if the version still allows it."""
    for _ in range(MAX_ATTEMPTS):
        current = _read(session.connection(), product_id)
        _require(current.version, if_match)
        before = {f: getattr(current, f) for f in FIELDS}
        after = {**before, **{f: data[f] for f in FIELDS if f in data}}
        changes = {
            f: [api_value(f, before[f]), api_value(f, after[f])]
            for f in FIELDS
            if before[f] != after[f]
        }
        if not changes:
            return to_api(current)  # nothing changes, so neither does the version
        now, version = utcnow(), current.version + 1
        result = _execute(
            session,
            update(products)
            .where(products.c.id == product_id, products.c.version == current.version)
            .values(**after, version=version, updated_at=now),
        )
        if result.rowcount == 1:
            _record(
                session,
                product_id=product_id,
                version=version,
                action="update",
                user_id=user_id,
                at=now,
                changes=changes,
            )
            session.commit()
            row = {**current._mapping, **after, "version": version, "updated_at": now}
            return to_api(row)
        session.rollback()  # another writer got in between: look again
    raise ApiError(409, "The product is changing too often; try again.")


def remove(session: Session, product_id: int, *, if_match: set[int] | None, user_id: int) -> None:
    """Delete the product if the version still allows it; its history stays."""
    for _ in range(MAX_ATTEMPTS):
        current = _read(session.connection(), product_id)
        _require(current.version, if_match)
        result = _execute(
            session,
            delete(products).where(
                products.c.id == product_id, products.c.version == current.version
            ),
        )
        if result.rowcount == 1:
            _record(
                session,
                product_id=product_id,
                version=current.version + 1,
                action="delete",
                user_id=user_id,
                at=utcnow(),
                changes={f: [api_value(f, getattr(current, f)), None] for f in FIELDS},
            )
            session.commit()
            return
        session.rollback()
    raise ApiError(409, "The product is changing too often; try again.")
