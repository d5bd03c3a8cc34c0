"""Idempotent creates: a retried POST with the same Idempotency-Key replays the first answer.

A key belongs to the account and to the operation: the resource, and the method and path
with its query (`operation()`), so the same key sent to two endpoints is two keys.

The key is claimed first, by inserting its row, in the request's unit of work; the
resource and the stored answer follow in the same transaction. A concurrent duplicate
waits on the unique (user_id, resource, operation, client_key) index until the first
commits, then fails on that constraint having written nothing, and reads the stored answer
instead: one resource, however many retries race, with no savepoint and no rollback.

A create view calls `create_once()`, which builds the key from the request it serves;
`once()` is the part below it, for a create that is not a `versioned.create`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from flask import request
from sqlalchemy import Connection, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..caller import Account
from ..db import utcnow
from ..db.constraints import violated
from ..errors import validation_error
from . import versioned
from .resource import Resource
from .tables import IdempotencyKey

KEEP_FOR = timedelta(hours=24)
UNIQUE_KEY = "uq_idempotency_keys_operation"
keys = cast(Table, IdempotencyKey.__table__)


@dataclass(frozen=True)
class Created:
    body: dict[str, Any]
    location: str


def operation(method: str, path: str, query: bytes = b"") -> str:
    """The digest naming an operation: its method and path, with the query if any."""
    text = f"{method} {path}" + (f"?{query.decode('latin-1')}" if query else "")
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(values: Mapping[str, Any]) -> str:
    """The request as validated, in API form (so `12.5` and `"12.50"` are the same body)."""
    raw = json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Key:
    """An Idempotency-Key as one account sent it to one operation of one resource."""

    account: Account
    resource: str
    operation: str
    client_key: str

    def where(self) -> Any:
        return (
            (keys.c.user_id == self.account.id)
            & (keys.c.resource == self.resource)
            & (keys.c.operation == self.operation)
            & (keys.c.client_key == self.client_key)
        )


def _stored(conn: Connection, key: Key) -> Any:
    query = select(keys.c.id, keys.c.request_hash, keys.c.body, keys.c.location, keys.c.created_at)
    return conn.execute(query.where(key.where())).first()


def _replay(row: Any, request_hash: str) -> Created:
    if row.request_hash != request_hash:
        raise validation_error(
            {"Idempotency-Key": ["This key was already used with a different request body."]}
        )
    return Created(json.loads(row.body), row.location)


def once(
    session: Session, key: Key | None, values: Mapping[str, Any], make: Callable[[], Created]
) -> Created:
    """`make()`'s answer, or, for a `key` already used with these `values` in the last 24
    hours, the first answer to it (422 when it came with other values)."""
    if key is None:
        return make()
    request_hash = fingerprint(values)
    now = utcnow()
    conn = session.connection()
    found = _stored(conn, key)
    if found is not None and found.created_at > now - KEEP_FOR:
        return _replay(found, request_hash)
    if found is not None:  # expired: the key is free again
        conn.execute(delete(keys).where(keys.c.id == found.id))
    claim = insert(keys).values(
        user_id=key.account.id,
        resource=key.resource,
        operation=key.operation,
        client_key=key.client_key,
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
        winner = _stored(conn, key) if violated(error) == UNIQUE_KEY else None
        if winner is None:
            raise
        return _replay(winner, request_hash)
    answer = make()
    conn.execute(
        update(keys)
        .where(keys.c.id == key_id[0])
        .values(location=answer.location, body=json.dumps(answer.body, ensure_ascii=False))
    )
    return answer


def create_once(
    session: Session,
    resource: Resource,
    caller: Account,
    data: Mapping[str, Any],
    client_key: str | None,
    make: Callable[[], dict[str, Any]] | None = None,
) -> Created:
    """The `resource` that `make()` creates (by default `versioned.create` of `data`) and
    its Location; with a `client_key`, once per key that `caller` sends to the operation
    of the request being served (see `once()`)."""

    def made() -> Created:
        body = versioned.create(session, resource, caller, data) if make is None else make()
        return Created(body, resource.location(body["id"]))

    key = request_key(resource.name, caller, client_key)
    return once(session, key, resource.declaration.writable_values(data), made)


def request_key(kind: str, caller: Account, client_key: str | None) -> Key | None:
    """The Idempotency-Key `client_key` as `caller` sent it to the operation of the request
    being served, for creates of `kind` (None without a key)."""
    if client_key is None:
        return None
    sent_to = operation(request.method, request.path, request.query_string)
    return Key(caller, kind, sent_to, client_key)
