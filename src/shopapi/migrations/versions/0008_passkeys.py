"""Passkeys (WebAuthn) as a second factor: the credentials, their creation challenges, and
the sign-in challenge that an mfa_token carries.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CredentialId = sa.LargeBinary().with_variant(sa.VARBINARY(1023), "mysql", "mariadb")
TABLE_OPTIONS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def upgrade() -> None:
    with op.batch_alter_table("mfa_challenges") as batch:
        batch.add_column(sa.Column("passkey_challenge", sa.String(64), nullable=True))
    op.create_table(
        "passkeys",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("credential_id", CredentialId, nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("transports", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("credential_id", name="uq_passkeys_credential_id"),
        sqlite_autoincrement=True,
        **TABLE_OPTIONS,
    )
    op.create_index("ix_passkeys_user_id", "passkeys", ["user_id"])
    op.create_table(
        "passkey_registrations",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("challenge", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("challenge", name="uq_passkey_registrations_challenge"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_passkey_registrations_user_id", "passkey_registrations", ["user_id"])
    op.create_index("ix_passkey_registrations_expires_at", "passkey_registrations", ["expires_at"])


def downgrade() -> None:
    op.drop_table("passkey_registrations")
    op.drop_table("passkeys")
    with op.batch_alter_table("mfa_challenges") as batch:
        batch.drop_column("passkey_challenge")
