"""The security log: what happened to each account, newest first, never a secret.

An event is written in the transaction of the change it records (`record`, in the unit of
work), or, for a failed attempt that the request's rollback must not undo, on a side
connection of its own (`record_failure`). The client's address and user agent are those of
the request that caused it: the one place outside the views that reads the request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal, TypeAlias, get_args

from flask import has_request_context, request
from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from .. import db
from ..db import utcnow
from ..models import SecurityEvent
from ..resources.pages import Keyset, keyset, keyset_page

# Every type of event, declared here once: mypy refuses any other at `record`, and the
# docs and the console's list are checked against it by tests.
EventType = Literal[
    "registered",
    "signed_in",
    "password_failed",
    "code_failed",
    "locked_out",
    "signed_out",
    "session_ended",
    "password_changed",
    "recovery_codes_replaced",
    "totp_replaced",
    "role_changed",
    "disabled",
    "enabled",
    "unlocked",
    "totp_reset",
    "passkey_added",
    "passkey_removed",
    "passkey_counter_regressed",
    "api_key_created",
    "api_key_revoked",
]
TYPES: tuple[EventType, ...] = get_args(EventType)
# A failure to record: its type, or its type and its fields.
Failure: TypeAlias = EventType | tuple[EventType, dict[str, Any]]
DEFAULT_KEEP = timedelta(days=90)
log = logging.getLogger("shopapi.security")


def _origin() -> dict[str, str | None]:
    if not has_request_context():  # the command line
        return {"ip": None, "user_agent": None}
    return {"ip": request.remote_addr, "user_agent": request.user_agent.string[:255] or None}


def _row(
    user_id: int, type_: EventType, actor_id: int | None, details: dict[str, Any]
) -> dict[str, Any]:
    if type_ not in TYPES:
        raise ValueError(f"not a security event type: {type_}")
    return {
        "user_id": user_id,
        "type": type_,
        "at": utcnow(),
        "actor_id": actor_id,
        "details": json.dumps(details, separators=(",", ":")),
        **_origin(),
    }


def record(
    session: Session, user_id: int, type_: EventType, *, actor_id: int | None = None, **details: Any
) -> None:
    """An event, in the request's unit of work (it commits with the change it records)."""
    session.execute(insert(SecurityEvent).values(_row(user_id, type_, actor_id, details)))


def record_many(
    session: Session,
    user_ids: Sequence[int],
    type_: EventType,
    *,
    actor_id: int | None = None,
    **details: Any,
) -> None:
    if user_ids:
        rows = [_row(user_id, type_, actor_id, details) for user_id in user_ids]
        session.execute(insert(SecurityEvent), rows)


def record_failure(user_id: int, *failures: Failure) -> None:
    """Failed attempts (and a lockout they caused), on a side connection once the request's
    unit of work has ended: kept when the request that made them is rolled back."""
    rows = []
    for failure in failures:
        type_, details = (failure, {}) if isinstance(failure, str) else failure
        rows.append(_row(user_id, type_, None, details))

    def write() -> None:
        with db.side_connection() as conn:
            conn.execute(insert(SecurityEvent), rows)

    db.when_work_ends(write)


def unknown_username(kind: str) -> None:
    """A failure for a username that has no account: a line in the server's log, not an
    event of any account (and never the username's password)."""
    origin = _origin()
    log.info("sign-in failure for an unknown username", extra={"failure": kind, **origin})


# Pages newest first (`id < :start ORDER BY id DESC`), one index range either way.
_COLUMNS = (
    SecurityEvent.id,
    SecurityEvent.user_id,
    SecurityEvent.at,
    SecurityEvent.type,
    SecurityEvent.ip,
    SecurityEvent.user_agent,
    SecurityEvent.actor_id,
    SecurityEvent.details,
)
_KEPT = SecurityEvent.at >= bindparam("since")
OWN_PAGE = keyset(
    "events",
    select(*_COLUMNS).where(SecurityEvent.user_id == bindparam("me"), _KEPT),
    SecurityEvent.id,
    newest_first=True,
)


def all_page(*, user_id: int | None, type_: str | None) -> Keyset:
    """Every account's events (filtered by account and type), for admins."""
    statement = select(*_COLUMNS).where(_KEPT)
    if user_id is not None:
        statement = statement.where(SecurityEvent.user_id == user_id)
    if type_ is not None:
        statement = statement.where(SecurityEvent.type == type_)
    return keyset("events", statement, SecurityEvent.id, newest_first=True)


def as_api(row: Sequence[Any], *, with_user: bool) -> dict[str, Any]:
    event_id, user_id, at, type_, ip, user_agent, actor_id, details = row
    item: dict[str, Any] = {
        "id": event_id,
        "at": at,
        "type": type_,
        "ip": ip,
        "user_agent": user_agent,
        **json.loads(details),
    }
    if actor_id is not None:
        item["actor_id"] = actor_id
    if with_user:
        item["user_id"] = user_id
    return item


def page(
    run: Any,
    events: Keyset,
    params: dict[str, Any],
    query: dict[str, Any],
    *,
    with_user: bool,
    kept_days: int,
) -> dict[str, Any]:
    """A page of events, newest first, and the cursor of the next (older) one.

    Events older than `kept_days` (SECURITY_LOG_DAYS) are never shown, even in the minutes
    before the purge deletes them."""
    since = utcnow() - timedelta(days=kept_days)
    found = keyset_page(run, events, query, {**params, "since": since})
    return {
        "items": [as_api(r, with_user=with_user) for r in found.rows],
        "next_cursor": found.next_cursor,
    }
