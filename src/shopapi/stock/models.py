"""Tables of stock: every movement of a product's quantity, and the reservations that hold
some of it for a while.

No foreign key names a product: movements outlive a deleted product (its record), and a
product id is never reused, so the id alone says whose they are.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
)

from ..models import Base, BigId

OPTIONS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}
# What a movement's `reason` may be; `initial` is the service's own, at a product's creation.
REASONS = ("received", "sold", "returned", "damaged", "lost", "correction")
INITIAL = "initial"
# A reservation's stored status; `expired` is read from a held one's `expires_at`.
HELD, COMMITTED, RELEASED, EXPIRED = "held", "committed", "released", "expired"

stock_movements = Table(
    "stock_movements",
    Base.metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("product_id", BigInteger(), nullable=False),
    Column("delta", BigInteger(), nullable=False),
    Column("reason", String(20), nullable=False),
    Column("note", String(255), nullable=True),
    Column("quantity_after", Integer(), nullable=False),
    Column("version_after", Integer(), nullable=False),
    Column("at", DateTime(), nullable=False),
    Column("user_id", BigInteger(), nullable=True),
    Column("api_key_id", BigInteger(), nullable=True),
    # A product's movements newest first: (product_id, id) walks them by index.
    Index("ix_stock_movements_product_id", "product_id", "id"),
    sqlite_autoincrement=True,
    **OPTIONS,
)

reservations = Table(
    "reservations",
    Base.metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger(), nullable=False),
    Column("api_key_id", BigInteger(), nullable=True),
    Column("status", String(10), nullable=False),
    Column("expires_at", DateTime(), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("ended_at", DateTime(), nullable=True),  # when it was committed or released
    Column("note", String(255), nullable=True),
    # An account's reservations newest first.
    Index("ix_reservations_user_id", "user_id", "id"),
    # The purge: released ones by when, held ones (expired) by expires_at.
    Index("ix_reservations_status_ended_at", "status", "ended_at"),
    Index("ix_reservations_status_expires_at", "status", "expires_at"),
    sqlite_autoincrement=True,
    **OPTIONS,
)

reservation_items = Table(
    "reservation_items",
    Base.metadata,
    Column(
        "reservation_id",
        BigInteger(),
        ForeignKey("reservations.id", ondelete="CASCADE", name="fk_reservation_items_reservation"),
        nullable=False,
    ),
    Column("product_id", BigInteger(), nullable=False),
    Column("quantity", Integer(), nullable=False),
    # The reservation's expires_at while it holds, null once committed or released: what a
    # product's held quantity sums, by index (product_id, held_until), live holds only.
    Column("held_until", DateTime(), nullable=True),
    PrimaryKeyConstraint("reservation_id", "product_id", name="pk_reservation_items"),
    Index("ix_reservation_items_product_id", "product_id", "held_until"),
    **OPTIONS,
)
