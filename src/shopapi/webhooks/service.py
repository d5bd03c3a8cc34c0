"""Webhook endpoints and their deliveries, for admins: validated data and the unit of work
in, API-shaped dicts or `ApiError` out. Nothing here commits.

A secret is made here, shown once in the answer that made it, and stored encrypted with
TOTP_ENCRYPTION_KEY; it never reaches a log.
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from .. import security
from ..config import Settings
from ..db import utcnow
from ..errors import ApiError, validation_error
from ..resources.declaration import iso
from ..resources.pages import keyset
from . import destinations
from .models import PENDING, WebhookDelivery, WebhookEndpoint, WebhookEvent

log = logging.getLogger(__name__)
SECRET_BYTES = 24
# After a rotation the previous secret signs too, for this long.
OVERLAP = timedelta(hours=24)

_e = cast(Table, WebhookEndpoint.__table__)
_d = cast(Table, WebhookDelivery.__table__)
_ev = cast(Table, WebhookEvent.__table__)

ENDPOINT_COLUMNS = (_e.c.id, _e.c.url, _e.c.events, _e.c.description, _e.c.enabled)
ENDPOINTS_PAGE = keyset("webhooks", select(*ENDPOINT_COLUMNS, _e.c.created_at), _e.c.id)
_deliveries = (
    select(_d.c.id, _d.c.event_id, _ev.c.type, _d.c.status, _d.c.attempts)
    .add_columns(_d.c.last_status_code, _d.c.last_error, _d.c.next_attempt_at, _d.c.created_at)
    .join(_ev, _ev.c.id == _d.c.event_id)
    .where(_d.c.endpoint_id == bindparam("endpoint_id"))
)
DELIVERIES_PAGE = keyset("webhook-deliveries", _deliveries, _d.c.id, newest_first=True)
DELIVERIES_OF_STATUS_PAGE = keyset(
    "webhook-deliveries",
    _deliveries.where(_d.c.status == bindparam("status")),
    _d.c.id,
    newest_first=True,
)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def endpoint_api(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "events": row.events.strip(",").split(","),
        "description": row.description,
        "enabled": bool(row.enabled),
        "created_at": iso(row.created_at),
    }


def delivery_api(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "event_id": row.event_id,
        "type": row.type,
        "status": row.status,
        "attempts": row.attempts,
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        # Null once it ended: no attempt is coming.
        "next_attempt_at": iso(row.next_attempt_at) if row.status == PENDING else None,
        "created_at": iso(row.created_at),
    }


def check_destination(url: str, settings: Settings) -> None:
    """422 naming `url` when it may not be sent to (see `destinations`)."""
    try:
        destinations.check_url(url, https_only=settings.production)
        destinations.resolve(url, destinations.networks(settings.webhook_allowed_networks))
    except destinations.Refused as refused:
        raise validation_error({"url": [str(refused)]}) from None


def _one(conn: Connection, endpoint_id: int) -> Any:
    row = conn.execute(
        select(*ENDPOINT_COLUMNS, _e.c.created_at).where(_e.c.id == endpoint_id)
    ).first()
    if row is None:
        raise ApiError(404, f"There is no webhook endpoint {endpoint_id}.")
    return row


def get(session: Session, endpoint_id: int) -> dict[str, Any]:
    return endpoint_api(_one(session.connection(), endpoint_id))


def create(
    session: Session, settings: Settings, actor_id: int, data: Mapping[str, Any]
) -> dict[str, Any]:
    """A new enabled endpoint; its answer alone shows the secret."""
    check_destination(data["url"], settings)
    secret, now = new_secret(), utcnow()
    row = {
        "url": data["url"],
        "events": _wanted(data["events"]),
        "description": data.get("description"),
        "enabled": True,
        "secret": security.encrypt(settings.totp_encryption_keys, secret),
        "created_at": now,
    }
    key = session.connection().execute(insert(_e).values(row)).inserted_primary_key
    if key is None:  # pragma: no cover - every supported backend reports the new id
        raise RuntimeError("the database did not report the new endpoint's id")
    endpoint_id = int(key[0])
    log.info("webhook endpoint created", extra={"endpoint_id": endpoint_id, "actor_id": actor_id})
    return {**get(session, endpoint_id), "secret": secret}


def change(
    session: Session,
    settings: Settings,
    actor_id: int,
    endpoint_id: int,
    data: Mapping[str, Any],
) -> dict[str, Any]:
    conn = session.connection()
    _one(conn, endpoint_id)
    values = dict(data)
    if "url" in values:
        check_destination(values["url"], settings)
    if "events" in values:
        values["events"] = _wanted(values["events"])
    conn.execute(update(_e).where(_e.c.id == endpoint_id).values(**values))
    log.info(
        "webhook endpoint changed",
        extra={"endpoint_id": endpoint_id, "actor_id": actor_id, "fields": sorted(data)},
    )
    return get(session, endpoint_id)


def remove(session: Session, actor_id: int, endpoint_id: int) -> None:
    """Delete the endpoint and its deliveries (their events stay until purged)."""
    conn = session.connection()
    _one(conn, endpoint_id)
    conn.execute(delete(_d).where(_d.c.endpoint_id == endpoint_id))
    conn.execute(delete(_e).where(_e.c.id == endpoint_id))
    log.info("webhook endpoint deleted", extra={"endpoint_id": endpoint_id, "actor_id": actor_id})


def rotate(session: Session, settings: Settings, actor_id: int, endpoint_id: int) -> dict[str, Any]:
    """A new secret; the one it replaces still signs for `OVERLAP`."""
    conn = session.connection()
    _one(conn, endpoint_id)
    secret, now = new_secret(), utcnow()
    # Read, then written as values: MariaDB assigns SET clauses left to right, so
    # `previous_secret = secret` after `secret = :new` would copy the new one.
    old = conn.execute(select(_e.c.secret).where(_e.c.id == endpoint_id)).scalar_one()
    rotated = conn.execute(
        update(_e)
        .where(_e.c.id == endpoint_id, _e.c.secret == old)
        .values(
            previous_secret=old,
            previous_until=now + OVERLAP,
            secret=security.encrypt(settings.totp_encryption_keys, secret),
        )
    )
    if rotated.rowcount != 1:
        raise ApiError(409, "The secret was rotated at the same moment; try again.")
    log.info("webhook secret rotated", extra={"endpoint_id": endpoint_id, "actor_id": actor_id})
    return {**get(session, endpoint_id), "secret": secret}


def retry(session: Session, endpoint_id: int, delivery_id: int) -> dict[str, Any]:
    """Make the delivery pending and due now (an attempt being sent keeps its claim)."""
    conn = session.connection()
    _one(conn, endpoint_id)
    now = utcnow()
    mine = (_d.c.id == delivery_id) & (_d.c.endpoint_id == endpoint_id)
    if conn.execute(select(_d.c.id).where(mine)).first() is None:
        raise ApiError(404, f"Webhook endpoint {endpoint_id} has no delivery {delivery_id}.")
    not_sending = _d.c.claimed_until.is_(None) | (_d.c.claimed_until <= now)
    conn.execute(
        update(_d)
        .where(mine, not_sending)
        .values(status=PENDING, next_attempt_at=now, ended_at=None, claimed_until=None)
    )
    row = conn.execute(_deliveries.where(_d.c.id == delivery_id), {"endpoint_id": endpoint_id})
    return delivery_api(row.one())


def exists(conn: Connection, endpoint_id: int) -> None:
    _one(conn, endpoint_id)


def backlog(conn: Connection, now: datetime) -> tuple[int, float]:
    """Pending deliveries, and the age in seconds of the oldest (0 when none)."""
    count, oldest = conn.execute(
        select(func.count(), func.min(_d.c.created_at)).where(_d.c.status == PENDING)
    ).one()
    return int(count), (now - oldest).total_seconds() if oldest is not None else 0.0


def _wanted(types: list[str]) -> str:
    return "," + ",".join(dict.fromkeys(types)) + ","
