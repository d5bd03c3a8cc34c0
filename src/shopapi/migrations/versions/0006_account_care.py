"""The security log, authenticator replacement, and account ids never reused on SQLite.

Accounts can now be deleted. MariaDB never hands out an AUTO_INCREMENT value twice; SQLite
hands out max(id) + 1 unless the table is AUTOINCREMENT, so there `users` is rebuilt with
it (migrations run with SQLite's foreign keys off, so the rebuild touches no other table).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE_OPTIONS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "users", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass
    op.create_table(
        "security_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("ip", sa.String(45), nullable=True),
        sa.Column("user_agent", sa.String(255), nullable=True),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
        **TABLE_OPTIONS,
    )
    op.create_index("ix_security_events_user_id_id", "security_events", ["user_id", "id"])
    op.create_index("ix_security_events_at", "security_events", ["at"])
    op.create_index("ix_security_events_type_id", "security_events", ["type", "id"])
    op.create_table(
        "totp_enrollments",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("secret", sa.String(256), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_totp_enrollments_token_hash"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_totp_enrollments_user_id", "totp_enrollments", ["user_id"])
    op.create_index("ix_totp_enrollments_expires_at", "totp_enrollments", ["expires_at"])


def downgrade() -> None:
    op.drop_table("totp_enrollments")
    op.drop_table("security_events")
