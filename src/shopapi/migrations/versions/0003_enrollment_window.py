"""The enrolment shown at login has an end: the first verify, or 24 hours after issue.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("enrollment_issued_at", sa.DateTime(), nullable=True))
    # Still open: accounts that never verified with any second factor (no code accepted,
    # no recovery code used), counted from their registration.
    op.execute(
        "UPDATE users SET enrollment_issued_at = created_at"
        " WHERE totp_confirmed_at IS NULL AND NOT EXISTS"
        " (SELECT 1 FROM recovery_codes r WHERE r.user_id = users.id AND r.used_at IS NOT NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("enrollment_issued_at")
