"""Product history records the API key a change was made with (null for a person signed in
and for every change made before keys existed).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("product_history") as batch:
        batch.add_column(sa.Column("api_key_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("product_history") as batch:
        batch.drop_column("api_key_id")
