"""Product writes: validated data, a checked account and the unit of work in; API-shaped
dicts or `ApiError` out.

Every change is one conditional statement (`... WHERE id = :id AND version = :v`) plus its
history row, in the request's unit of work (committed together by the view's wrapper): a
writer holding a stale version changes nothing. Nothing here commits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, CursorResult, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from ..caller import Account
from ..db import utcnow
from ..errors import ApiError
from .declaration import WRITABLE_NAMES, api_value, to_api
from .models import history, products
from .tokens import etag

# Without If-Match a write re-reads and retries when another writer got in between.
MAX_ATTEMPTS = 20
_ONE = select(products).where(products.c.id == bindparam("id"))


def not_found(product_id: int) -> ApiError:
    return ApiError(404, f"There is no product {product_id}.")


def exists(conn: Connection, product_id: int) -> bool:
    return conn.execute(_ONE, {"id": product_id}).first() is not None


def _read(conn: Connection, product_id: int) -> Any:
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


def _execute(session: Session, statement: Any) -> CursorResult[Any]:
    # Core on the session's connection: these statements need none of the ORM's work.
    return session.connection().execute(statement)


def _record(
    session: Session,
    *,
    product_id: int,
    version: int,
    action: str,
    account: Account,
    at: datetime,
    changes: Mapping[str, list[Any]],
) -> None:
    _execute(
        session,
        insert(history).values(
            product_id=product_id,
            version=version,
            action=action,
            user_id=account.id,
            at=at,
            changes=json.dumps(changes, ensure_ascii=False, separators=(",", ":")),
        ),
    )


def create(session: Session, account: Account, data: Mapping[str, Any]) -> dict[str, Any]:
    """Insert a product and its 'create' history row."""
    now = utcnow()
    values = {name: data.get(name) for name in WRITABLE_NAMES}
    row = {**values, "version": 1, "created_at": now, "updated_at": now}
    key = _execute(session, insert(products).values(**row)).inserted_primary_key
    if key is None:  # pragma: no cover - every supported backend reports the new id
        raise RuntimeError("the database did not report the new product's id")
    product_id = int(key[0])
    changes = {name: [None, api_value(name, v)] for name, v in values.items()}
    _record(
        session,
        product_id=product_id,
        version=1,
        action="create",
        account=account,
        at=now,
        changes=changes,
    )
    return to_api({"id": product_id, **row})


def change(
    session: Session,
    account: Account,
    product_id: int,
    data: Mapping[str, Any],
    *,
    if_match: set[int] | None,
) -> dict[str, Any]:
    """Apply `data` (every field for PUT, some for PATCH) if the version still allows it."""
    for _ in range(MAX_ATTEMPTS):
        current = _read(session.connection(), product_id)
        _require(current.version, if_match)
        before = {name: getattr(current, name) for name in WRITABLE_NAMES}
        after = {**before, **{name: data[name] for name in WRITABLE_NAMES if name in data}}
        changes = {
            name: [api_value(name, before[name]), api_value(name, after[name])]
            for name in WRITABLE_NAMES
            if before[name] != after[name]
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
                account=account,
                at=now,
                changes=changes,
            )
            return to_api({**current._mapping, **after, "version": version, "updated_at": now})
        # Another writer got in between; this statement changed nothing. Each read sees the
        # latest committed version (READ COMMITTED; SQLite's lock was taken after it), so
        # the next round starts from that.
    raise ApiError(409, "The product is changing too often; try again.")


def remove(
    session: Session, account: Account, product_id: int, *, if_match: set[int] | None
) -> None:
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
                account=account,
                at=utcnow(),
                changes={n: [api_value(n, getattr(current, n)), None] for n in WRITABLE_NAMES},
            )
            return
    raise ApiError(409, "The product is changing too often; try again.")
