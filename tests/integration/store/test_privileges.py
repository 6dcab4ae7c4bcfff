"""Least privilege: the role the workers and the API connect as posts documents, and cannot
rewrite a journal line by any means the security review tried (M6: as the superuser it was
connected as, `SET LOCAL session_replication_role = replica` let it past the immutability
trigger)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, make_url, text

from accounting.services import posting
from accounting.services.documents import upsert_documents
from accounting.store.engine import create_engine_for
from accounting.store.models import Base
from accounting.store.uow import UnitOfWork

from helpers import invoice, libpq

APP_ROLE = "accounting_app"
IN_CI = bool(os.environ.get("CI"))


@pytest.fixture(scope="module")
def app_database_url(database_url: str, migrated_engine: Engine) -> Iterator[str]:
    """A login role of ``accounting_app`` on the test database: the one CI gives
    (ACCOUNTING_TEST_APP_DATABASE_URL), else one made here where the test user may."""
    given = os.environ.get("ACCOUNTING_TEST_APP_DATABASE_URL")
    if given:
        yield given
        return
    name = f"app_probe_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(libpq(database_url), autocommit=True) as admin:
            admin.execute(f"CREATE ROLE {name} LOGIN IN ROLE {APP_ROLE}")
    except psycopg.errors.InsufficientPrivilege as exc:
        if IN_CI:
            pytest.fail(f"set ACCOUNTING_TEST_APP_DATABASE_URL: {exc}", pytrace=False)
        pytest.skip(f"cannot make a login role here: {exc}")
    try:
        yield make_url(database_url).set(username=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq(database_url), autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {name}")
            admin.execute(f"DROP ROLE {name}")


@pytest.fixture
def app_engine(app_database_url: str, engine: Engine) -> Iterator[Engine]:
    as_app = create_engine_for(app_database_url, pool_size=1, max_overflow=0)
    yield as_app
    as_app.dispose()


def test_every_table_is_granted_to_the_application_role(engine: Engine) -> None:
    with engine.connect() as connection:
        granted = set(
            connection.execute(
                text(
                    "SELECT DISTINCT table_name FROM information_schema.role_table_grants"
                    " WHERE grantee = :role AND privilege_type = 'SELECT'"
                ),
                {"role": APP_ROLE},
            ).scalars()
        )
    assert {table.name for table in Base.metadata.sorted_tables} <= granted


def test_the_application_role_is_no_superuser_and_owns_nothing(app_engine: Engine) -> None:
    with app_engine.connect() as connection:
        superuser = connection.execute(
            text(
                "SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles"
                " WHERE rolname = current_user"
            )
        ).scalar_one()
        owned = connection.execute(
            text(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                " AND tableowner = current_user"
            )
        ).scalar_one()
    assert (superuser, owned) == (False, 0)


def test_the_application_role_stores_posts_and_recreates(
    app_engine: Engine, org: str, engine: Engine
) -> None:
    as_app = lambda: UnitOfWork(app_engine)  # noqa: E731
    upsert_documents(as_app(), org, [invoice("inv-1")], max_documents=10, job_id="job-1")
    assert posting.post_documents(as_app(), org, {"inv-1": 1}).posted == ["inv-1"]
    upsert_documents(as_app(), org, [invoice("inv-1", "250.00")], max_documents=10)
    assert posting.post_documents(as_app(), org, {"inv-1": 2}).posted == ["inv-1"]
    with engine.connect() as connection:
        statuses = connection.execute(
            text("SELECT status FROM journal_entries ORDER BY id")
        ).scalars()
        assert list(statuses) == ["retired", "active"]


#: What the review tried, and more: each alone, in its own transaction.
ATTEMPTS = [
    "UPDATE journal_lines SET amount = amount + 1000 WHERE id = :line",
    "DELETE FROM journal_lines WHERE id = :line",
    "TRUNCATE journal_lines CASCADE",
    "SET LOCAL session_replication_role = replica",
    "ALTER TABLE journal_lines DISABLE TRIGGER ALL",
    "DROP TRIGGER journal_lines_immutable ON journal_lines",
    "UPDATE journal_entries SET document_version = 99",
    "DELETE FROM journal_entries",
    "CREATE TABLE journal_copy AS SELECT * FROM journal_lines",
    "ALTER ROLE CURRENT_USER SUPERUSER",
    "SET ROLE postgres",
]


@pytest.mark.parametrize("statement", ATTEMPTS)
def test_the_application_role_cannot_rewrite_a_journal_line(
    app_engine: Engine, engine: Engine, org: str, uow: Any, statement: str
) -> None:
    upsert_documents(uow(), org, [invoice("inv-1")], max_documents=10)
    posting.post_documents(uow(), org, {"inv-1": 1})
    with engine.connect() as connection:
        before = connection.execute(text("SELECT id, amount FROM journal_lines")).all()
    line = before[0][0]
    refused = r"permission denied|must be|only the owner|immutable"
    with pytest.raises(Exception, match=refused), app_engine.begin() as connection:
        connection.execute(text(statement), {"line": line})
        # had the statement above gone through, the review's rewrite comes next
        connection.execute(
            text("UPDATE journal_lines SET amount = amount + 1000 WHERE id = :line"),
            {"line": line},
        )
    with engine.connect() as connection:
        after = connection.execute(text("SELECT id, amount FROM journal_lines")).all()
    assert after == before
