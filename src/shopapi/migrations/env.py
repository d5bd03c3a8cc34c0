"""Alembic environment: runs the migrations against the URL the service is configured with."""

from alembic import context
from sqlalchemy import create_engine, pool

import shopapi.products.models  # noqa: F401 - registers the tables
import shopapi.webhooks.models  # noqa: F401 - registers the tables
from shopapi.db import normalise_url
from shopapi.db.hosts import connect_to_hosts
from shopapi.models import Base

target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=normalise_url(context.config.get_main_option("sqlalchemy.url") or ""),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    given = context.config.get_main_option("sqlalchemy.url") or ""
    engine = create_engine(normalise_url(given), poolclass=pool.NullPool)
    if engine.dialect.name == "mysql":
        connect_to_hosts(engine, given)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
