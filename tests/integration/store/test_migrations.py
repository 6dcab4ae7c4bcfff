"""The migrations build exactly the schema the models describe, down and up again."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, inspect

from accounting.store.migrate import alembic_config


def test_downgrade_then_upgrade_head_matches_the_models(
    migrated_engine: Engine, database_url: str
) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "base")
    assert "documents" not in inspect(migrated_engine).get_table_names()
    command.upgrade(config, "head")
    command.check(config)  # raises if the models and the migrated schema differ
    assert "documents" in inspect(migrated_engine).get_table_names()
