"""Use cases of the schema: bring the database to the revision this code expects."""

from __future__ import annotations

from accounting.store import migrate


def upgrade(database_url: str) -> None:
    """``alembic upgrade head``: the migrations run in order, each in its own transaction."""
    migrate.upgrade(database_url)
