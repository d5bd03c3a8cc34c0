"""Roles, disabled accounts and invites.

Accounts that exist already become editors (the rights every account had before), and
the service records that its first account was registered long ago, so no account of an
upgraded database becomes an admin by itself.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE_OPTIONS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("role", sa.String(10), nullable=False, server_default="editor")
    )
    op.add_column(
        "users", sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_table(
        "invites",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("code_hash", name="uq_invites_code_hash"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_invites_expires_at", "invites", ["expires_at"])
    op.create_table(
        "service_flags",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("set_at", sa.DateTime(), nullable=False),
        **TABLE_OPTIONS,
    )
    op.execute(
        "INSERT INTO service_flags (name, set_at)"
        " SELECT 'first_account_registered', MIN(created_at) FROM users HAVING COUNT(*) > 0"
    )


def downgrade() -> None:
    op.drop_table("service_flags")
    op.drop_index("ix_invites_expires_at", "invites")
    op.drop_table("invites")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled")
        batch.drop_column("role")
