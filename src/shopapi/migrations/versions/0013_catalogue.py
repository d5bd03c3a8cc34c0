"""The catalogue: a product's optional SKU (unique without regard to case, through its
lower-cased `sku_key`), the words of its name and description for search, names sorted by
code point on MariaDB as on SQLite, and an index per sort order.

Every existing product is kept, with no SKU, and its words are indexed here.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from shopapi.resources.search import words

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLE_OPTIONS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}
# A word of up to 64 characters, or "#" and a lower-cased SKU.
TOKEN = sa.String(65).with_variant(sa.String(65, collation="utf8mb4_nopad_bin"), "mysql")
SORTED = ("name", "price", "quantity", "updated_at")
BATCH = 5_000


def _index_words() -> None:
    bind = op.get_bind()
    products = sa.table("products", sa.column("id"), sa.column("name"), sa.column("description"))
    tokens = sa.table("product_tokens", sa.column("product_id"), sa.column("token"))
    after = 0
    while True:
        rows = bind.execute(
            sa.select(products.c.id, products.c.name, products.c.description)
            .where(products.c.id > after)
            .order_by(products.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        found = [
            {"product_id": product_id, "token": token}
            for product_id, name, description in rows
            for token in sorted(set(words(name)) | set(words(description)))
        ]
        if found:
            bind.execute(sa.insert(tokens), found)
        after = rows[-1][0]


def upgrade() -> None:
    op.add_column("products", sa.Column("sku", sa.String(64), nullable=True))
    op.add_column("products", sa.Column("sku_key", sa.String(64), nullable=True))
    op.create_index("uq_products_sku_key", "products", ["sku_key"], unique=True)
    if op.get_bind().dialect.name == "mysql":
        op.alter_column(
            "products",
            "name",
            type_=sa.String(100, collation="utf8mb4_nopad_bin"),
            existing_type=sa.String(100),
            existing_nullable=False,
        )
    for column in SORTED:
        op.create_index(f"ix_products_{column}", "products", [column, "id"])
    op.create_table(
        "product_tokens",
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("token", TOKEN, nullable=False),
        sa.PrimaryKeyConstraint("product_id", "token", name="pk_product_tokens"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_product_tokens_token", "product_tokens", ["token", "product_id"])
    _index_words()


def downgrade() -> None:
    op.drop_table("product_tokens")
    for column in SORTED:
        op.drop_index(f"ix_products_{column}", "products")
    if op.get_bind().dialect.name == "mysql":
        op.alter_column(
            "products",
            "name",
            type_=sa.String(100, collation="utf8mb4_general_ci"),
            existing_type=sa.String(100),
            existing_nullable=False,
        )
    op.drop_index("uq_products_sku_key", "products")
    with op.batch_alter_table("products", recreate="never") as batch:
        batch.drop_column("sku_key")
        batch.drop_column("sku")
