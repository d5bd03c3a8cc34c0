"""Idempotent creates: a retried POST with the same Idempotency-Key replays the first answer.

The key is claimed first, by inserting its row, in the request's unit of work; the product
and the stored answer follow in the same transaction. A concurrent duplicate waits on the
unique (user_id, client_key) index until the first commits, then fails on that constraint
having written nothing, and reads the stored answer instead: one product, however many
retries race, with no savepoint and no rollback.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..caller import Account
from ..db import utcnow
from ..db.constraints import violated
from ..errors import validation_error
from . import service
from .declaration import writable_values
from .models import idempotency_keys as keys

KEEP_FOR = timedelta(hours=24)
UNIQUE_KEY = "uq_idempotency_keys_user_key"


@dataclass(frozen=True)
class Created:
    body: dict[str, Any]
    location: str


def location(product_id: int) -> str:
    return f"/api/products/{product_id}"


def fingerprint(data: Mapping[str, Any]) -> str:
    """The request as validated (so `12.5` and `"12.50"` are the same body), every writable
    field included."""
    raw = json.dumps(
        writable_values(data), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(raw.encode()).hexdigest()


def _stored(conn: Connection, user_id: int, key: str) -> Any:
    query = select(keys.c.id, keys.c.request_hash, keys.c.body, keys.c.location, keys.c.created_at)
    return conn.execute(query.where(keys.c.user_id == user_id, keys.c.client_key == key)).first()


def _replay(row: Any, request_hash: str) -> Created:
    if row.request_hash != request_hash:
        raise validation_error(
            {"Idempotency-Key": ["This key was already used with a different request body."]}
        )
    return Created(json.loads(row.body), row.location)


def create(
    session: Session, account: Account, data: Mapping[str, Any], *, key: str | None
) -> Created:
    """Create a product, or replay the first answer to this account's `key` (kept 24 hours)."""
    if key is None:
        product = service.create(session, account, data)
        return Created(product, location(product["id"]))
    request_hash = fingerprint(data)
    now = utcnow()
    conn = session.connection()
    found = _stored(conn, account.id, key)
    if found is not None and found.created_at > now - KEEP_FOR:
        return _replay(found, request_hash)
    if found is not None:  # expired: the key is free again
        conn.execute(delete(keys).where(keys.c.id == found.id))
    claim = insert(keys).values(
        user_id=account.id,
        client_key=key,
        request_hash=request_hash,
        status=201,
        location="",
        body="",
        created_at=now,
    )
    try:
        key_id = conn.execute(claim).inserted_primary_key
        if key_id is None:  # pragma: no cover - every supported backend reports the new id
            raise RuntimeError("the database did not report the new key's id")
    except IntegrityError as error:
        # A failed statement leaves the transaction as it was (it wrote nothing before).
        winner = _stored(conn, account.id, key) if violated(error) == UNIQUE_KEY else None
        if winner is None:
            raise
        return _replay(winner, request_hash)
    product = service.create(session, account, data)
    answer = Created(product, location(product["id"]))
    conn.execute(
        update(keys)
        .where(keys.c.id == key_id[0])
        .values(location=answer.location, body=json.dumps(answer.body, ensure_ascii=False))
    )
    return answer
