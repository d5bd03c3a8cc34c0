"""Idempotency keys belong to an operation: a `resource` and an `operation` column join the
account in the key's unique index, so two endpoints' keys no longer collide. Keys stored
before were all keys of creating products, and are kept as such.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The only operation that took keys before: creating a product (see resources.idempotency).
PRODUCT_CREATE = hashlib.sha256(b"POST /api/products").hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(sa.Column("resource", sa.String(40), nullable=True))
        batch.add_column(sa.Column("operation", sa.String(64), nullable=True))
    op.execute(
        sa.text(
            "UPDATE idempotency_keys SET resource = 'products', operation = :operation"
        ).bindparams(operation=PRODUCT_CREATE)
    )
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.alter_column("resource", existing_type=sa.String(40), nullable=False)
        batch.alter_column("operation", existing_type=sa.String(64), nullable=False)
        # The new index first: MariaDB's foreign key on user_id needs one to lean on.
        batch.create_unique_constraint(
            "uq_idempotency_keys_operation", ["user_id", "resource", "operation", "client_key"]
        )
        batch.drop_constraint("uq_idempotency_keys_user_key", type_="unique")


def downgrade() -> None:
    # Keys of other operations would collide in the older index: they go.
    op.execute(
        sa.text(
            "DELETE FROM idempotency_keys WHERE resource <> 'products' OR operation <> :operation"
        ).bindparams(operation=PRODUCT_CREATE)
    )
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.create_unique_constraint("uq_idempotency_keys_user_key", ["user_id", "client_key"])
        batch.drop_constraint("uq_idempotency_keys_operation", type_="unique")
        batch.drop_column("operation")
        batch.drop_column("resource")
