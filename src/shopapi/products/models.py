"""Tables of the products side: products, their append-only history, idempotency keys."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base, BigId
from .declaration import FIELDS

# The columns come from the one declaration of a product's fields.
products = Table(
    "products",
    Base.metadata,
    *(
        Column(f.name, f.type, primary_key=True, autoincrement=True)
        if f.name == "id"
        else Column(f.name, f.type, nullable=f.nullable)
        for f in FIELDS
    ),
    # AUTOINCREMENT: SQLite must never hand a deleted product's id (and history) to a new one.
    sqlite_autoincrement=True,
)


class ProductHistory(Base):
    """One row per create/update/delete; never updated, kept after the product is gone."""

    __tablename__ = "product_history"
    __table_args__ = (
        UniqueConstraint("product_id", "version", name="uq_product_history_product_version"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # No foreign key: history outlives the product (and the user) it describes.
    product_id: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(10))
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime)
    changes: Mapped[str] = mapped_column(Text)


class IdempotencyKey(Base):
    """The first response to a keyed POST, replayed to retries for 24 hours."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("user_id", "client_key", name="uq_idempotency_keys_user_key"),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Not "key": a reserved word in MySQL, awkward in hand-written SQL.
    client_key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    location: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)


history = cast(Table, ProductHistory.__table__)
idempotency_keys = cast(Table, IdempotencyKey.__table__)
