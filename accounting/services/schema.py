"""Use cases of the schema: bring the database to the revision this code expects, and tell
whether it is there."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from accounting.store import migrate


def upgrade(database_url: str) -> None:
    """``alembic upgrade head``: the migrations run in order, each in its own transaction."""
    migrate.upgrade(database_url)


@dataclass(frozen=True)
class SchemaState:
    expected: str
    #: None: never migrated.
    current: str | None

    @property
    def ready(self) -> bool:
        return self.current == self.expected

    def __str__(self) -> str:
        at = "an empty database" if self.current is None else f"revision {self.current}"
        return (
            f"the database is at {at} and this code needs revision {self.expected}: "
            "run `accounting migrate`"
        )


def schema_state(engine: Engine) -> SchemaState:
    """Where the database's schema stands against this code (raises when it is unreachable)."""
    return SchemaState(migrate.head_revision(), migrate.current_revision(engine))
