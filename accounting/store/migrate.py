"""Schema migrations: ``alembic upgrade head`` against a given database, from the package, and
the revision a database is at."""

from __future__ import annotations

from functools import cache
from importlib.util import find_spec

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError


def _script_location() -> str:
    spec = find_spec("migrations")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the migrations package is not installed")
    return str(next(iter(spec.submodule_search_locations)))


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", _script_location())
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


@cache
def head_revision() -> str:
    """The revision this code's models and statements expect: read from the migration scripts
    once per process (about 14 ms: the workers' database gate asks every 2 s), so it is the
    revision of the code this process loaded, not of files changed on disk since."""
    config = Config()
    config.set_main_option("script_location", _script_location())
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise RuntimeError("the migrations have no head")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None when it was never migrated)."""
    with engine.connect() as connection:
        try:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except ProgrammingError:  # no alembic_version table: an empty database
            return None
