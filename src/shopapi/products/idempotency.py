"""Idempotent creates: a retried POST with the same Idempotency-Key replays the first answer.

The key row is inserted in the same transaction as the product. A concurrent duplicate
waits on the unique (user_id, client_key) index, fails when the first commits, rolls back its own
product and reads the stored answer instead: one product, however many retries race.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db import utcnow
from ..errors import validation_error
from .fields import format_price
from .models import idempotency_keys as keys
from .service import insert_product

KEEP_FOR = timedelta(hours=24)


@dataclass(frozen=True)
class Created:
    body: dict[str, Any]
    location: str


def location(product_id: int) -> str:
    return f"/api/products/{product_id}"


def fingerprint(data: Mapping[str, Any]) -> str:
    """The request as validated (so `12.5` and `"12.50"` are the same body)."""
    canonical = {
        "name": data["name"],
        "description": data.get("description"),
        "price": format_price(data["price"]),
        "quantity": data["quantity"],
    }
    raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def _stored(session: Session, user_id: int, key: str) -> Any:
    query = select(keys.c.id, keys.c.request_hash, keys.c.body, keys.c.location, keys.c.created_at)
    return (
        session.connection()
        .execute(query.where(keys.c.user_id == user_id, keys.c.client_key == key))
        .first()
    )


def _replay(row: Any, request_hash: str) -> Created:
    if row.request_hash != request_hash:
        raise validation_error(
            {"Idempotency-Key": ["This key was already used with a different request body."]}
        )
    return Created(json.loads(row.body), row.location)


def create(session: Session, data: Mapping[str, Any], *, user_id: int, key: str | None) -> Created:
    """Create a product, or replay the first answer to this user's `key` (kept 24 hours)."""
    if key is None:
        product = insert_product(session, data, user_id=user_id)
        session.commit()
        return Created(product, location(product["id"]))
    request_hash = fingerprint(data)
    now = utcnow()
    found = _stored(session, user_id, key)
    if found is not None and found.created_at > now - KEEP_FOR:
        return _replay(found, request_hash)
    try:
        if found is not None:  # expired: the key is free again
            session.connection().execute(delete(keys).where(keys.c.id == found.id))
        product = insert_product(session, data, user_id=user_id)
        answer = Created(product, location(product["id"]))
        session.connection().execute(
            insert(keys).values(
                user_id=user_id,
                client_key=key,
                request_hash=request_hash,
                status=201,
                location=answer.location,
                body=json.dumps(answer.body, ensure_ascii=False),
                created_at=now,
            )
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        winner = _stored(session, user_id, key)
        if winner is None:
            raise
        return _replay(winner, request_hash)
    return answer


def purge_expired(session: Session) -> int:
    """Delete keys past their 24 hours; returns how many. Expired keys are already ignored."""
    result = session.connection().execute(
        delete(keys).where(keys.c.created_at <= utcnow() - KEEP_FOR)
    )
    session.commit()
    return int(getattr(result, "rowcount", 0))
