"""The delivery worker: claims due attempts, sends them signed, records what came of them.

Each attempt is claimed in a committed write before it is sent: its `next_attempt_at` and
`claimed_until` move `LEASE` seconds ahead, so no other instance finds it due meanwhile
(an attempt whose turn comes when its claim could run out during the send renews it
first, or leaves it to whoever holds it now).
On MariaDB the claim reads with `FOR UPDATE SKIP LOCKED` (instances claiming at once take
different rows, none waits); on SQLite each row is claimed by an UPDATE that still demands
it be due, and counts only when it changed the row. An instance that dies while sending
leaves its claim to run out; the attempt is then sent again (the one case of a double).

A serving process runs one in a daemon thread (`start`), woken at once when one of its own
requests commits an event, and otherwise looking every `POLL_SECONDS`; `flask webhooks run`
runs one in the foreground.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, select, update
from standardwebhooks import Webhook

from .. import clock, metrics, security
from ..config import Settings
from ..db import make_engine, utcnow
from . import destinations
from .models import DELIVERED, FAILED, PENDING, WebhookDelivery, WebhookEndpoint, WebhookEvent
from .outbox import EVENT_TYPES

log = logging.getLogger(__name__)

# A claim outlives the longest send (its timeout) with room to record the outcome.
LEASE = timedelta(seconds=destinations.TIMEOUT_SECONDS + 5)
POLL_SECONDS = 1.0
BATCH = 20
SENDERS = 4
JITTER = 0.1  # each delay of the schedule grows by up to a tenth

_d = cast(Table, WebhookDelivery.__table__)
_e = cast(Table, WebhookEndpoint.__table__)
_ev = cast(Table, WebhookEvent.__table__)
_wake = threading.Event()
OUTCOMES = ("delivered", "retrying", "failed")

# Every series starts at 0, so that rates and alerts see it from the start.
for _type in EVENT_TYPES:
    for _outcome in OUTCOMES:
        metrics.WEBHOOK_ATTEMPTS.labels(_type, _outcome)


def wake() -> None:
    """Tell this process's worker that something may be due now."""
    _wake.set()


def signatures(secrets: Sequence[str], message_id: str, at: datetime, body: bytes) -> str:
    """The `webhook-signature` header: one signature per secret, space-separated."""
    return " ".join(Webhook(secret).sign(message_id, at, body) for secret in secrets)


def next_delay(schedule: Sequence[int], attempts: int) -> float | None:
    """Seconds until the next attempt after `attempts` failed ones; None when none is left."""
    if attempts > len(schedule):
        return None
    return schedule[attempts - 1] * (1 + random.uniform(0, JITTER))  # noqa: S311 - jitter


class Worker:
    """Delivers due webhooks with `engine` (a pool of its own), under `settings`."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        self.allowed = destinations.networks(settings.webhook_allowed_networks)
        self.senders = ThreadPoolExecutor(SENDERS, thread_name_prefix="webhook-send")

    # --- the loop -------------------------------------------------------------------------

    def start(self) -> None:
        threading.Thread(target=self.forever, name="webhooks", daemon=True).start()

    def forever(self) -> None:
        while True:
            if self.run_once() < BATCH:
                _wake.wait(POLL_SECONDS)
                _wake.clear()

    def run_once(self) -> int:
        """Claim up to BATCH due attempts, send them and record the outcomes; how many.
        A failure (the database away) is logged, and the next round tries again."""
        try:
            claimed, until = self._claim()
            if not claimed:
                return 0
            # Each endpoint's in the order claimed, endpoints side by side. An endpoint that
            # fails or hangs gets one attempt a round (its others wait for its retry), so it
            # holds a round up for one send's timeout at most.
            by_endpoint: dict[int, list[Any]] = {}
            for row in sorted(self._details(claimed), key=lambda row: claimed.index(row.id)):
                by_endpoint.setdefault(row.endpoint_id, []).append(row)
            list(
                self.senders.map(lambda rows: self._attempt_each(rows, until), by_endpoint.values())
            )
            return len(claimed)
        except Exception as error:  # noqa: BLE001 - the thread must live on to retry
            # The type only: a driver's message can quote a statement's parameters.
            log.warning("webhook delivery round failed", extra={"error": type(error).__name__})
            return 0

    # --- claiming ---------------------------------------------------------------------------

    def _due(self, now: datetime) -> Any:
        enabled = select(_e.c.id).where(_e.c.enabled.is_(True))
        return (
            select(_d.c.id)
            .where(_d.c.status == PENDING, _d.c.next_attempt_at <= now)
            .where(_d.c.endpoint_id.in_(enabled))
            .order_by(_d.c.next_attempt_at, _d.c.id)
            .limit(BATCH)
        )

    def _claim(self) -> tuple[list[int], datetime]:
        now = utcnow()
        until = now + LEASE
        # A look without a transaction first: an idle worker takes no lock and commits
        # nothing, once a second, in every process.
        with self.engine.connect() as conn:
            if conn.execute(self._due(now).limit(1)).first() is None:
                return [], until
        claim = update(_d).values(next_attempt_at=until, claimed_until=until)
        with self.engine.begin() as conn:
            if conn.dialect.name == "mysql":
                ids = list(conn.scalars(self._due(now).with_for_update(skip_locked=True)))
                if ids:
                    conn.execute(claim.where(_d.c.id.in_(ids)))
                return ids, until
            ids = []
            for candidate in conn.scalars(self._due(now)).all():
                still_due = (_d.c.status == PENDING) & (_d.c.next_attempt_at <= now)
                done = conn.execute(claim.where(_d.c.id == candidate, still_due))
                if done.rowcount == 1:
                    ids.append(candidate)
            return ids, until

    def _details(self, ids: list[int]) -> list[Any]:
        query = (
            select(_d.c.id, _d.c.endpoint_id, _d.c.attempts, _e.c.url, _e.c.secret)
            .add_columns(_e.c.previous_secret, _e.c.previous_until)
            .add_columns(_ev.c.message_id, _ev.c.type, _ev.c.payload)
            .join(_e, _e.c.id == _d.c.endpoint_id)
            .join(_ev, _ev.c.id == _d.c.event_id)
            .where(_d.c.id.in_(ids))
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).all())

    # --- one attempt ------------------------------------------------------------------------

    def _attempt_each(self, rows: list[Any], until: datetime) -> None:
        """One endpoint's deliveries in order, until one fails: the rest then wait for its
        next attempt, unsent, so an endpoint that fails or hangs costs a round one attempt
        (at most the send timeout), never one per delivery it has waiting."""
        for index, row in enumerate(rows):
            claim = self._still_mine(row.id, until)
            if claim is None:
                continue
            retry_at = self._attempt(row, claim)
            if retry_at is not None:
                self._postpone([later.id for later in rows[index + 1 :]], until, retry_at)
                return

    def _postpone(self, ids: list[int], until: datetime, at: datetime) -> None:
        """Give back the claims of `ids` (not attempted: their count is unchanged), due
        again at `at`."""
        if not ids:
            return
        mine = _d.c.id.in_(ids) & (_d.c.claimed_until == until) & (_d.c.status == PENDING)
        with self.engine.begin() as conn:
            conn.execute(update(_d).where(mine).values(claimed_until=None, next_attempt_at=at))

    def _still_mine(self, delivery_id: int, until: datetime) -> datetime | None:
        """The claim to send under: `until` while a whole send fits before it runs out,
        else renewed (a committed write again); None if it ran out and is another's now."""
        now = utcnow()
        if now + timedelta(seconds=destinations.TIMEOUT_SECONDS + 2) < until:
            return until
        renewed = now + LEASE
        mine = (_d.c.id == delivery_id) & (_d.c.claimed_until == until)
        with self.engine.begin() as conn:
            done = conn.execute(
                update(_d).where(mine).values(claimed_until=renewed, next_attempt_at=renewed)
            )
        return renewed if done.rowcount == 1 else None

    def _attempt(self, row: Any, until: datetime) -> datetime | None:
        """Send one delivery and record the outcome; when it is to be tried again, when."""
        try:
            outcome = self._send(row)
        except Exception as error:  # noqa: BLE001 - a failed attempt, recorded as such
            outcome = destinations.Outcome(None, f"could not send: {type(error).__name__}")
        now = utcnow()
        attempts = row.attempts + 1
        values: dict[str, Any] = {
            "attempts": attempts,
            "claimed_until": None,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error[:255] if outcome.error else None,
        }
        if outcome.delivered:
            values.update(status=DELIVERED, ended_at=now)
            result = "delivered"
        else:
            delay = next_delay(self.settings.webhook_retry_schedule, attempts)
            if delay is None:
                values.update(status=FAILED, ended_at=now)
                result = "failed"
            else:
                values.update(next_attempt_at=now + timedelta(seconds=round(delay)))
                result = "retrying"
        with self.engine.begin() as conn:
            self._record(conn, row.id, until, values)
        metrics.webhook_attempted(row.type, result)
        log.info(
            "webhook attempt",
            extra={
                "delivery_id": row.id,
                "endpoint_id": row.endpoint_id,
                "event_type": row.type,
                "attempt": attempts,
                "outcome": result,
                "status": outcome.status_code,
                "error": outcome.error,
            },
        )
        if result == "retrying" and self.settings.webhook_retry_schedule[attempts - 1] == 0:
            wake()
        retry_at: datetime | None = values.get("next_attempt_at")
        return retry_at

    def _record(self, conn: Connection, delivery_id: int, until: datetime, values: Any) -> None:
        # Only while the claim is still ours: one that ran out may have been claimed again.
        mine = (_d.c.id == delivery_id) & (_d.c.claimed_until == until)
        conn.execute(update(_d).where(mine).values(**values))

    def _send(self, row: Any) -> destinations.Outcome:
        try:
            target = destinations.resolve(row.url, self.allowed)
        except destinations.Refused as refused:
            return destinations.Outcome(None, str(refused))
        keys = self.settings.totp_encryption_keys
        secrets = [security.decrypt(keys, row.secret)]
        if row.previous_secret is not None and row.previous_until > utcnow():
            secrets.append(security.decrypt(keys, row.previous_secret))
        body = row.payload.encode()
        at = datetime.fromtimestamp(clock.now(), UTC)
        headers = {
            "webhook-id": row.message_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signatures(secrets, row.message_id, at, body),
            "User-Agent": "shopapi-webhooks/1",
        }
        return destinations.post(target, body, headers)


def engine_for(settings: Settings) -> Engine:
    """The worker's own small pool: delivery never waits for a connection a request holds,
    nor holds one a request waits for."""
    return make_engine(
        settings.database_url,
        connect_timeout=settings.db_connect_timeout,
        query_timeout=settings.db_query_timeout,
        lock_wait_timeout=max(1, settings.db_retry_seconds // 2),
        pool_size=SENDERS + 1,
    )


def start(settings: Settings) -> Worker | None:
    """The background worker of a serving process (None when WEBHOOK_DELIVERY is off)."""
    if not settings.webhook_delivery:
        return None
    worker = Worker(engine_for(settings), settings)
    worker.start()
    return worker
