"""Per-account attempt limits, exact across every process and instance.

A counter row per (kind, subject) lives in the database. Each attempt first *reserves*
a slot with one conditional UPDATE (atomic on every backend), so N concurrent guesses
can never get past the limit; an attempt that turns out right gives its slot back.
The window opens at the first counted attempt and lasts `WINDOW` seconds.

Counters live on their own short connection (`db.side_connection`), committed at once,
whatever becomes of the request's unit of work: a failed attempt must stay counted even
though the request that made it is rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, select, update

from .. import db
from ..db import utcnow
from ..models import AttemptCounter

WINDOW = timedelta(minutes=15)
LIMIT = 10
PASSWORD = "password"  # noqa: S105 - a counter kind, not a secret
CODE = "code"
DEVICE = "device"  # failed passwords on one device token


@dataclass(frozen=True)
class Reservation:
    granted: bool
    retry_after: int = 0
    # This attempt took the window's last slot: if it fails, the limit is exhausted.
    last: bool = False


def reserve(kind: str, subject: str) -> Reservation:
    """Take one attempt for `subject`, committed at once so every process sees it."""
    now = utcnow()
    cutoff = now - WINDOW
    c = AttemptCounter
    expired = c.window_start <= cutoff
    stmt = (
        update(c)
        .where(c.kind == kind, c.subject == subject, expired | (c.count < LIMIT))
        # MySQL applies SET clauses left to right: `count` must read the old window_start.
        .ordered_values(
            (c.count, case((expired, 1), else_=c.count + 1)),
            (c.window_start, case((expired, now), else_=c.window_start)),
        )
    )
    # Committed on its own: on MariaDB, INSERT IGNORE of an existing row holds a shared
    # lock on it, and two requests that both hold one deadlock on the UPDATE. Between the
    # two the row may go (the purge of ended windows, an admin's unlock): then again.
    for _ in range(3):
        with db.side_connection() as conn:
            db.insert_or_ignore(
                conn,
                AttemptCounter.__table__,
                {"kind": kind, "subject": subject, "window_start": now, "count": 0},
            )
        with db.side_connection() as conn:
            granted = conn.execute(stmt).rowcount == 1
            if granted:
                count = conn.scalar(select(c.count).where(c.kind == kind, c.subject == subject))
                return Reservation(True, last=count is not None and count >= LIMIT)
            start = conn.scalar(select(c.window_start).where(c.kind == kind, c.subject == subject))
        if start is not None:
            remaining = int((start + WINDOW - now).total_seconds())
            return Reservation(False, max(remaining, 1))
    raise RuntimeError("the attempt counter kept vanishing")  # pragma: no cover - 3 races lost


def release(kind: str, subject: str) -> None:
    """Give back a reserved slot: the attempt was right, so it is not a failure."""
    c = AttemptCounter
    with db.side_connection() as conn:
        conn.execute(
            update(c)
            .where(c.kind == kind, c.subject == subject, c.count > 0)
            .values(count=c.count - 1)
        )


def reserve_judgement(model: Any, row_id: int, most: int, *alive: ColumnElement[bool]) -> bool:
    """Count one judgement of a code against the single-use row `row_id` of `model` (an
    mfa_token's challenge, an enrolment), committed at once, if the row is unused, `alive`
    and had fewer than `most`: a guess is counted before it is checked."""
    with db.side_connection() as conn:
        result = conn.execute(
            update(model)
            .where(
                model.id == row_id,
                model.used_at.is_(None),
                model.failed_attempts < most,
                *alive,
            )
            .values(failed_attempts=model.failed_attempts + 1)
        )
        return bool(result.rowcount == 1)
