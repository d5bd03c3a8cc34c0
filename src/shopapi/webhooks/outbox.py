"""The outbox: an event is written in the transaction of the change it tells of, with one
pending delivery per enabled endpoint that wants its type. A change that rolls back leaves
neither; a committed one leaves both, for the delivery worker to send.

Every write that should tell receivers calls `record(session_or_connection, type, data)`
with the resource in its API form, inside its own transaction, before it commits.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal, TypeAlias, cast, get_args

from flask import has_request_context
from sqlalchemy import Connection, Table, bindparam, insert, literal, or_, select
from sqlalchemy.orm import Session

from .. import db
from ..db import utcnow
from ..resources.declaration import iso
from .models import PENDING, WebhookDelivery, WebhookEndpoint, WebhookEvent

# Every type of event, declared here once (the admin API accepts these; the docs list them).
EventType: TypeAlias = Literal[
    "product.created",
    "product.updated",
    "product.deleted",
    "stock.moved",
    "reservation.held",
    "reservation.committed",
    "reservation.released",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)

_deliveries = cast(Table, WebhookDelivery.__table__)
_endpoints = cast(Table, WebhookEndpoint.__table__)
_events = cast(Table, WebhookEvent.__table__)


_WANTED_BY = (
    select(_endpoints.c.id)
    .where(_endpoints.c.enabled.is_(True), _endpoints.c.events.like(bindparam("type")))
    .limit(1)
)


def message_id() -> str:
    """A new `webhook-id`: the same on every attempt of one event."""
    return "msg_" + secrets.token_urlsafe(24)


def wanted(types: list[str]) -> str:
    """An endpoint's types as stored: between commas, so one LIKE finds a type."""
    return "," + ",".join(types) + ","


# Events recorded while `following()` runs, written when it hands them on.
_following: ContextVar[list[tuple[Connection, str, Mapping[str, Any]]] | None] = ContextVar(
    "webhook_events_following", default=None
)


@contextmanager
def following() -> Iterator[list[tuple[Connection, str, Mapping[str, Any]]]]:
    """Keep the events recorded inside the block, to be written by `record_all()` after
    the event of the change they follow from (a product's `product.created` before the
    `stock.moved` of its initial stock), so receivers get them in that order."""
    kept: list[tuple[Connection, str, Mapping[str, Any]]] = []
    token = _following.set(kept)
    try:
        yield kept
    finally:
        _following.reset(token)


def record_all(kept: list[tuple[Connection, str, Mapping[str, Any]]]) -> None:
    """`record()` each of `kept` in order, asking once (not once an event) which of their
    types any enabled endpoint wants: a change and what follows from it (a product created
    with its initial stock) read the endpoints once."""
    if not kept:
        return
    for _, type_, _ in kept:
        if type_ not in EVENT_TYPES:
            raise ValueError(f"not an event type: {type_}")
    if _kept_for_later(kept):
        return
    wanted = wanted_types(kept[0][0], {type_ for _, type_, _ in kept})
    for conn, type_, data in kept:
        if type_ in wanted:
            _write(conn, type_, data)


def wanted_by_any(conn: Connection, type_: str) -> bool:
    """Whether any enabled endpoint wants events of `type_` (one small read)."""
    return conn.execute(_WANTED_BY, {"type": f"%,{type_},%"}).first() is not None


def wanted_types(conn: Connection, types: set[str]) -> set[str]:
    """Which of `types` any enabled endpoint wants (one small read, whatever their number)."""
    if len(types) == 1:
        (only,) = types
        return types if wanted_by_any(conn, only) else set()
    ordered = sorted(types)
    statement = select(_endpoints.c.events).where(
        _endpoints.c.enabled.is_(True),
        or_(*(_endpoints.c.events.like(bindparam(f"type_{i}")) for i in range(len(ordered)))),
    )
    params = {f"type_{i}": f"%,{type_},%" for i, type_ in enumerate(ordered)}
    lists = [row[0] for row in conn.execute(statement, params)]
    return {type_ for type_ in ordered if any(f",{type_}," in events for events in lists)}


def record_many(conn: Connection, type_: str, datas: Iterable[Mapping[str, Any]]) -> None:
    """`record()` each of `datas`, asking once (not once an event) whether any endpoint
    wants the type: a bulk write that nobody listens to writes no events and reads once."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"not an event type: {type_}")
    outer = _following.get()
    if outer is not None:  # `record_all()` asks for every type it is handed, at once
        outer.extend((conn, type_, data) for data in datas)
        return
    if not wanted_by_any(conn, type_):
        return
    for data in datas:
        _write(conn, type_, data)


def _kept_for_later(kept: list[tuple[Connection, str, Mapping[str, Any]]]) -> bool:
    """Inside `following()`: hand `kept` to it, to be written in order after the event of
    the change they follow from (True); else False."""
    outer = _following.get()
    if outer is None:
        return False
    outer.extend(kept)
    return True


def record(work: Session | Connection, type_: str, data: Mapping[str, Any]) -> int:
    """Write an event of `type_` about `data` (a resource in API form), and a pending
    delivery to every enabled endpoint that wants it, in `work`'s transaction; the event's
    id (0 when no endpoint wants it, or `following()` keeps it for later). Nothing commits
    here; a type not in `EVENT_TYPES` is a programming error."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"not an event type: {type_}")
    conn = work.connection() if isinstance(work, Session) else work
    if _kept_for_later([(conn, type_, data)]):
        return 0
    # No enabled endpoint wants it (the usual case): no event to keep, one small read.
    if not wanted_by_any(conn, type_):
        return 0
    return _write(conn, type_, data)


def _write(conn: Connection, type_: str, data: Mapping[str, Any]) -> int:
    """The event and its pending deliveries; its id."""
    now = utcnow()
    body = {"type": type_, "timestamp": iso(now), "data": data}
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    row = {"message_id": message_id(), "type": type_, "payload": payload, "created_at": now}
    key = conn.execute(insert(_events).values(row)).inserted_primary_key
    if key is None:  # pragma: no cover - every supported backend reports the new id
        raise RuntimeError("the database did not report the new event's id")
    event_id = int(key[0])
    fan_out = select(
        _endpoints.c.id,
        literal(event_id),
        literal(PENDING),
        literal(0),
        literal(now),
        literal(now),
    ).where(
        _endpoints.c.enabled.is_(True),
        _endpoints.c.events.like(f"%,{type_},%"),  # no LIKE wildcard in any type
    )
    conn.execute(
        insert(_deliveries).from_select(
            ["endpoint_id", "event_id", "status", "attempts", "next_attempt_at", "created_at"],
            fan_out,
        )
    )
    if has_request_context():
        from .worker import wake

        db.when_committed(wake)  # this process's worker need not wait for its next look
    return event_id
