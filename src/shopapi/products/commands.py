"""`flask seed-products N`: bulk test data."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy import func, insert, select

from .. import db
from ..stock.models import INITIAL, stock_movements
from .declaration import PRODUCT
from .models import PRODUCTS, history, products, tokens

BATCH = 10_000


def _rows(first_id: int, count: int, rng: random.Random) -> tuple[list[Any], ...]:
    now = db.utcnow()
    product_rows, history_rows, token_rows, movement_rows = [], [], [], []
    search = PRODUCTS.search
    for product_id in range(first_id, first_id + count):
        values = PRODUCT.seed_values(rng, product_id)
        product_rows.append(
            {
                "id": product_id,
                **values,
                **PRODUCT.derived_values(values),
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
        if search is not None:
            token_rows += search.rows(product_id, values)
        changes = {name: [None, PRODUCT.api_value(name, value)] for name, value in values.items()}
        history_rows.append(
            {
                "product_id": product_id,
                "version": 1,
                "action": "create",
                "user_id": None,
                "at": now,
                "changes": json.dumps(changes, separators=(",", ":")),
            }
        )
        # Its initial stock movement: a product's quantity is the sum of its movements.
        movement_rows.append(
            {
                "product_id": product_id,
                "delta": values["quantity"],
                "reason": INITIAL,
                "note": None,
                "quantity_after": values["quantity"],
                "version_after": 1,
                "at": now,
                "user_id": None,
                "api_key_id": None,
            }
        )
    return product_rows, history_rows, token_rows, movement_rows


@click.command("seed-products")
@click.argument("count", type=click.IntRange(min=1))
@click.option("--seed", type=int, default=None, help="Random seed, for repeatable data.")
@with_appcontext
def seed_products(count: int, seed: int | None) -> None:
    """Insert COUNT products (with SKUs SEED-<id>, their words, their 'create' history and
    their 'initial' stock movement, user_id null) in batches."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    started = time.monotonic()
    with db.engine().begin() as conn:
        # Ids past every id ever used, so no seeded row inherits a deleted product's history.
        last = conn.execute(
            select(
                func.coalesce(func.max(products.c.id), 0),
                select(func.coalesce(func.max(history.c.product_id), 0)).scalar_subquery(),
            )
        ).one()
    next_id = max(last) + 1
    done = 0
    while done < count:
        size = min(BATCH, count - done)
        product_rows, history_rows, token_rows, movement_rows = _rows(next_id + done, size, rng)
        with db.engine().begin() as conn:
            conn.execute(insert(products), product_rows)
            conn.execute(insert(history), history_rows)
            conn.execute(insert(stock_movements), movement_rows)
            if token_rows:
                conn.execute(insert(tokens), token_rows)
        done += size
        click.echo(f"\r{done}/{count} products", nl=False)
    click.echo(f"\nseeded {count} products in {time.monotonic() - started:.1f} s")
