"""Expired rows are purged: MFA challenges get an index on when they expire.

Every other table that is purged already has an index on the column its purge selects by;
without one, each batch of the purge would read the whole table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_mfa_challenges_expires_at", "mfa_challenges", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_mfa_challenges_expires_at", "mfa_challenges")
