"""Alembic environment: migrates the database named by the settings (or the caller's URL)."""

from __future__ import annotations

from alembic import context

from accounting.store.engine import create_engine_for
from accounting.store.models import Base

config = context.config


def database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if url:
        return str(url)
    from accounting.config import get_settings

    configured = get_settings().database_url
    if not configured:
        raise SystemExit("ACCOUNTING_DATABASE_URL is not set (accounting migrate starts one)")
    return configured


def run_migrations_online() -> None:
    engine = create_engine_for(database_url(), pool_size=1, max_overflow=0)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            compare_type=True,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
