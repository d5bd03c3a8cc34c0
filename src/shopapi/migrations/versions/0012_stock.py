"""Stock: movements of every product's quantity, and reservations that hold stock.

Every product that exists gets an `initial` movement of its quantity (no user, at its
creation, no history entry), so that a product's quantity is the sum of its movements
from the start.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE_OPTIONS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def upgrade() -> None:
    op.create_table(
        "stock_movements",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("note", sa.String(255), nullable=True),
        sa.Column("quantity_after", sa.Integer(), nullable=False),
        sa.Column("version_after", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("api_key_id", sa.BigInteger(), nullable=True),
        sqlite_autoincrement=True,
        **TABLE_OPTIONS,
    )
    op.create_index("ix_stock_movements_product_id", "stock_movements", ["product_id", "id"])
    op.create_table(
        "reservations",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("api_key_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("note", sa.String(255), nullable=True),
        sqlite_autoincrement=True,
        **TABLE_OPTIONS,
    )
    op.create_index("ix_reservations_user_id", "reservations", ["user_id", "id"])
    op.create_index("ix_reservations_status_ended_at", "reservations", ["status", "ended_at"])
    op.create_index("ix_reservations_status_expires_at", "reservations", ["status", "expires_at"])
    op.create_table(
        "reservation_items",
        sa.Column(
            "reservation_id",
            sa.BigInteger(),
            sa.ForeignKey(
                "reservations.id", ondelete="CASCADE", name="fk_reservation_items_reservation"
            ),
            nullable=False,
        ),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("held_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("reservation_id", "product_id", name="pk_reservation_items"),
        **TABLE_OPTIONS,
    )
    op.create_index(
        "ix_reservation_items_product_id", "reservation_items", ["product_id", "held_until"]
    )
    # One statement: every product's initial movement, as the product says.
    op.execute(
        "INSERT INTO stock_movements (product_id, delta, reason, note, quantity_after,"
        " version_after, at, user_id, api_key_id)"
        " SELECT id, quantity, 'initial', NULL, quantity, version, created_at, NULL, NULL"
        " FROM products ORDER BY id"
    )


def downgrade() -> None:
    op.drop_table("reservation_items")
    op.drop_table("reservations")
    op.drop_table("stock_movements")
