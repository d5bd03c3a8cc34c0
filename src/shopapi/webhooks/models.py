"""Tables of webhooks: where to send (endpoints), what happened (events), and each event's
sending to each endpoint (deliveries), the outbox the delivery worker reads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base, BigId

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


class WebhookEndpoint(Base):
    """A receiver's URL, the event types it wants, and the secret that signs for it."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2048))
    # The wanted types between commas (",product.created,stock.moved,"), so the fan-out
    # finds the endpoints wanting a type with one LIKE on every backend.
    events: Mapped[str] = mapped_column(String(1024))
    description: Mapped[str | None] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean)
    # Encrypted with TOTP_ENCRYPTION_KEY, as the authenticator secrets are.
    secret: Mapped[str] = mapped_column(String(255))
    # The secret before the last rotation, which still signs until `previous_until`.
    previous_secret: Mapped[str | None] = mapped_column(String(255))
    previous_until: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class WebhookEvent(Base):
    """One change to tell receivers of: its body is made once, so every attempt sends the
    same bytes under the same `webhook-id` (`message_id`)."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("message_id", name="uq_webhook_events_message_id"),
        Index("ix_webhook_events_created_at", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class WebhookDelivery(Base):
    """An event on its way to one endpoint: pending until a 2xx (delivered) or the end of
    the retry schedule (failed)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The worker's claim: pending deliveries whose next attempt is due.
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        # The backlog's metrics: pending deliveries, oldest first.
        Index("ix_webhook_deliveries_status_created", "status", "created_at"),
        # An endpoint's deliveries, newest first (and by status).
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
        Index("ix_webhook_deliveries_endpoint_status", "endpoint_id", "status", "id"),
        # The purge: deliveries that ended long ago.
        Index("ix_webhook_deliveries_ended_at", "ended_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("webhook_events.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    # While set in the future, an instance is sending this attempt (its claim).
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
