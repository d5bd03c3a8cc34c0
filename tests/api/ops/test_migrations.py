"""The migrations build exactly the tables the code declares, on every backend."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from support import AuthActions, product_body

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
