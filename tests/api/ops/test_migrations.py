"""The migrations build exactly the tables the code declares, on every backend."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from support import AuthActions, assert_ledger_holds, product_body

from shopapi.db import alembic_config, upgrade
from shopapi.models import Base


def test_the_migrated_schema_is_the_declared_schema(database_url: str, app: Any) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_a_key_stored_before_keys_named_their_operation_still_replays(
    database_url: str, client: Any, auth: AuthActions, app: Any
) -> None:
    """Keys stored under the older schema (0008: account and key only) are filed under
    creating products by the upgrade, so a retry in flight across it creates nothing."""
    headers = {**auth.headers(), "Idempotency-Key": "across-the-upgrade"}
    first = client.post("/api/products", json=product_body(), headers=headers)
    app.extensions["db_engine"].dispose()  # no pooled connection holds the table open
    config = alembic_config(database_url)
    command.downgrade(config, "0008")
    try:
        command.upgrade(config, "head")
    finally:
        upgrade(database_url)
    again = client.post("/api/products", json=product_body(), headers=headers)
    assert again.status_code == 201
    if database_url.startswith("sqlite"):
        # Down and up again, ids are still never reused: AUTOINCREMENT survived every copy
        # SQLite made of a table to drop a column.
        engine = create_engine(database_url)
        with engine.connect() as conn:
            created = dict(conn.execute(text("SELECT name, sql FROM sqlite_master")).all())
        engine.dispose()
        for table in Base.metadata.sorted_tables:
            if table.kwargs.get("sqlite_autoincrement"):
                assert "AUTOINCREMENT" in created[table.name], table.name
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]


def test_products_from_before_movements_get_their_initial_movement(
    database_url: str, client: Any, auth: AuthActions, app: Any
) -> None:
    """The upgrade to stock movements gives each existing product one `initial` movement of
    its quantity, at its creation, by no one, and writes nothing in its history."""
    headers = auth.headers()
    made = [
        client.post("/api/products", json=product_body(quantity=q), headers=headers).get_json()
        for q in (0, 7)
    ]
    client.patch(f"/api/products/{made[1]['id']}", json={"quantity": 9}, headers=headers)
    app.extensions["db_engine"].dispose()  # no pooled connection holds a table open
    config = alembic_config(database_url)
    command.downgrade(config, "0011")
    try:
        command.upgrade(config, "head")
    finally:
        upgrade(database_url)
    for product in made:
        url = f"/api/products/{product['id']}"
        (movement,) = client.get(f"{url}/stock-movements", headers=headers).get_json()["items"]
        current = client.get(url, headers=headers).get_json()
        assert movement["reason"] == "initial" and movement["user_id"] is None
        assert movement["delta"] == movement["quantity_after"] == current["quantity"]
        assert movement["version_after"] == current["version"]
        assert movement["at"] == current["created_at"]
        history = client.get(f"{url}/history", headers=headers).get_json()["items"]
        assert len(history) == current["version"]
    assert_ledger_holds(app)
