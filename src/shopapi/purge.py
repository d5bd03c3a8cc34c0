"""Housekeeping: rows whose time is over are deleted, so no table grows without bound.

`EXPIRING` is the one list of what expires: each table with the condition that makes a row
of it dead (a row the service would refuse or ignore anyway). `purge_expired` deletes those
rows in batches of `BATCH`, one short transaction each, on every backend. It runs from
`flask purge-expired`, and in each serving process from a background thread (`Purger`)
every PURGE_INTERVAL seconds. Several processes purging at once is harmless: a batch
deletes only rows that still match its condition, whoever deleted the others.

Webhook deliveries and their events go `WEBHOOK_KEEP_DAYS` after they end.

Not listed, so kept: accounts and their passkeys, products and their history and stock
movements, committed reservations (the record),
recovery codes (at most ten per account, replaced as a set), the service's flags.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    delete,
    exists,
    or_,
    select,
    tuple_,
)

from .auth.attempts import WINDOW
from .config import Settings
from .db import utcnow
from .models import (
    AttemptCounter,
    DeviceToken,
    Invite,
    MfaChallenge,
    PasskeyRegistration,
    RefreshToken,
    SecurityEvent,
    SignInSession,
    TotpEnrollment,
)
from .resources.idempotency import KEEP_FOR
from .resources.tables import IdempotencyKey
from .stock.models import HELD, RELEASED, reservations
from .webhooks.models import WebhookDelivery, WebhookEvent

BATCH = 1000
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Expiring:
    """A table and when one of its rows is dead (`expired(now, settings)`)."""

    model: Any
    expired: Callable[[datetime, Settings], ColumnElement[bool]]

    @property
    def table(self) -> Table:
        table: Table = getattr(self.model, "__table__", self.model)
        return table


def _reservation_over(now: datetime, days: int) -> ColumnElement[bool]:
    before = now - timedelta(days=days)
    r = reservations.c
    return or_(
        and_(r.status == RELEASED, r.ended_at <= before),
        and_(r.status == HELD, r.expires_at <= before),
    )


def _ended_sessions(now: datetime) -> Any:
    return select(SignInSession.id).where(SignInSession.expires_at <= now)


# In this order: a session's refresh tokens before the session (so the session's delete
# cascades to none, and a batch stays a batch).
EXPIRING = (
    # A counting window that ended: the next attempt opens a new one.
    Expiring(AttemptCounter, lambda now, _: AttemptCounter.window_start <= now - WINDOW),
    Expiring(MfaChallenge, lambda now, _: MfaChallenge.expires_at <= now),
    Expiring(TotpEnrollment, lambda now, _: TotpEnrollment.expires_at <= now),
    # Passkey creation options not answered in time (used ones are deleted when used).
    Expiring(PasskeyRegistration, lambda now, _: PasskeyRegistration.expires_at <= now),
    # No one lists invites: an expired one (used or not) is of no use to anybody.
    Expiring(Invite, lambda now, _: Invite.expires_at <= now),
    # Used-up refresh tokens catch a reuse while their session lives: kept until it ends.
    Expiring(RefreshToken, lambda now, _: RefreshToken.session_id.in_(_ended_sessions(now))),
    Expiring(SignInSession, lambda now, _: SignInSession.expires_at <= now),
    Expiring(DeviceToken, lambda now, _: DeviceToken.expires_at <= now),
    Expiring(IdempotencyKey, lambda now, _: IdempotencyKey.created_at <= now - KEEP_FOR),
    Expiring(
        SecurityEvent,
        lambda now, s: SecurityEvent.at < now - timedelta(days=s.security_log_days),
    ),
    # Released and expired reservations hold nothing; committed ones are the sale's record
    # (their items go with them: ON DELETE CASCADE).
    Expiring(reservations, lambda now, s: _reservation_over(now, s.reservation_keep_days)),
    # Deliveries that ended WEBHOOK_KEEP_DAYS ago (pending ones never end here), then the
    # events as old that no delivery still needs.
    Expiring(
        WebhookDelivery,
        lambda now, s: WebhookDelivery.ended_at < now - timedelta(days=s.webhook_keep_days),
    ),
    Expiring(
        WebhookEvent,
        lambda now, s: (
            (WebhookEvent.created_at < now - timedelta(days=s.webhook_keep_days))
            & ~exists().where(WebhookDelivery.event_id == WebhookEvent.id)
        ),
    ),
)
TABLES = tuple(e.table.name for e in EXPIRING)


def purge_expired(
    conn: Connection,
    now: datetime,
    settings: Settings,
    *,
    tables: Iterable[str] = TABLES,
    batch: int = BATCH,
) -> dict[str, int]:
    """Delete the rows of `tables` that are dead at `now`; how many, per table.

    `conn` must not be in a transaction: each batch commits on its own, so no lock is held
    for long and an interrupted purge keeps what it did."""
    wanted = set(tables)
    unknown = wanted - set(TABLES)
    if unknown:
        raise ValueError(f"nothing expires in {', '.join(sorted(unknown))}")
    counts: dict[str, int] = {}
    for entry in EXPIRING:
        if entry.table.name in wanted:
            counts[entry.table.name] = sum(_batches(conn, entry, now, settings, batch))
    return counts


def _batches(
    conn: Connection, entry: Expiring, now: datetime, settings: Settings, size: int
) -> Iterator[int]:
    """Select up to `size` keys of dead rows, delete them (if still dead), commit; again
    until none is left. Portable: SQLite has no DELETE ... LIMIT, MariaDB no LIMIT in an
    IN subquery."""
    columns = list(entry.table.primary_key.columns)
    key = columns[0] if len(columns) == 1 else tuple_(*columns)
    expired = entry.expired(now, settings)
    while True:
        found = conn.execute(select(*columns).where(expired).limit(size)).all()
        keys = [row[0] if len(columns) == 1 else tuple(row) for row in found]
        if not keys:
            conn.commit()
            return
        # The condition again: a row may have come back to life (a counter's new window).
        deleted = conn.execute(delete(entry.table).where(key.in_(keys), expired)).rowcount
        conn.commit()
        yield int(deleted)
        if len(keys) < size:
            return


def run(engine: Engine, settings: Settings) -> dict[str, int]:
    """One purge of every table, now, on a connection of its own."""
    with engine.connect() as conn:
        return purge_expired(conn, utcnow(), settings)


class Purger:
    """A daemon thread that purges every `interval` seconds (jittered by a quarter either
    way, so processes started together drift apart), logging the counts. A failure (the
    database is down, a lock wait timed out) is logged and the next round tries again."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        self.interval = settings.purge_interval

    def start(self) -> None:
        threading.Thread(target=self._loop, name="purge-expired", daemon=True).start()

    def _loop(self) -> None:
        while True:
            time.sleep(self.interval * random.uniform(0.75, 1.25))  # noqa: S311 - jitter
            self.run_once()

    def run_once(self) -> dict[str, int] | None:
        try:
            counts = run(self.engine, self.settings)
        except Exception as error:  # noqa: BLE001 - the thread must live on to retry
            # The type only: a driver's message can quote a statement's parameters.
            log.warning("purge failed; next round retries", extra={"error": type(error).__name__})
            return None
        log.info("purged expired rows", extra={"purged": counts})
        return counts


def start_with_first_request(app: Flask, settings: Settings) -> None:
    """Start the `Purger` of the process that serves `app`, when it serves its first request.

    Not at import: a production server's workers are processes of their own, and the
    command line (`flask db upgrade`, ...) builds the app too but serves nothing. After the
    start the app's WSGI callable is its own again: no cost on any later request."""
    if settings.purge_interval <= 0:
        return
    inner = app.wsgi_app
    lock = threading.Lock()
    started = False

    def first(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        nonlocal started
        with lock:
            if not started:
                started = True
                Purger(app.extensions["db_side"], settings).start()
            if app.wsgi_app is first:
                app.wsgi_app = inner  # type: ignore[method-assign]
        return inner(environ, start_response)

    app.wsgi_app = first  # type: ignore[method-assign]


@click.command("purge-expired")
@with_appcontext
def purge_command() -> None:
    """Delete expired rows now (the service also does it every PURGE_INTERVAL seconds)."""
    settings: Settings = current_app.extensions["settings"]
    counts = run(current_app.extensions["db_engine"], settings)
    for table, count in counts.items():
        click.echo(f"{table}: {count}")
    click.echo(f"purged {sum(counts.values())} expired rows")


@click.command("purge-idempotency-keys")
@with_appcontext
def purge_idempotency_keys() -> None:
    """Forget Idempotency-Keys older than 24 hours (`purge-expired` does it with the rest)."""
    settings: Settings = current_app.extensions["settings"]
    with current_app.extensions["db_engine"].connect() as conn:
        counts = purge_expired(conn, utcnow(), settings, tables=["idempotency_keys"])
    click.echo(f"purged {counts['idempotency_keys']} expired idempotency keys")
