"""Tables every resource of the kit shares the shape of: history, idempotency keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base, BigId


def history_table(metadata: MetaData, name: str, key: str, **options: Any) -> Table:
    """One row per create/update/delete of a resource; never updated, kept after the
    resource is gone. No foreign key: history outlives the resource (and the user)."""
    return Table(
        name,
        metadata,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column(key, BigInteger(), nullable=False),
        Column("version", Integer(), nullable=False),
        Column("action", String(10), nullable=False),
        Column("user_id", BigInteger(), nullable=True),
        # The API key the change was made with (null for a person signed in).
        Column("api_key_id", BigInteger(), nullable=True),
        Column("at", DateTime(), nullable=False),
        Column("changes", Text(), nullable=False),
        UniqueConstraint(key, "version", name=f"uq_{name}_{key.removesuffix('_id')}_version"),
        **options,
    )


class IdempotencyKey(Base):
    """The first response to a keyed POST, replayed to retries for 24 hours.

    A key belongs to its account and to one operation (`resource`, and `operation`: the
    digest of the method and the path with its query), so the same key sent to another
    endpoint is another key.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint(
            "user_id", "resource", "operation", "client_key", name="uq_idempotency_keys_operation"
        ),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    resource: Mapped[str] = mapped_column(String(40))
    operation: Mapped[str] = mapped_column(String(64))
    # Not "key": a reserved word in MySQL, awkward in hand-written SQL.
    client_key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    location: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
