"""Unit of work: one database transaction, its repositories, and the events it commits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

import psycopg
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from accounting.domain.events import Event
from accounting.errors import (
    DatabaseConflict,
    DatabaseUnavailable,
    InvalidValue,
    PermanentError,
    SchemaNotReady,
    TransientError,
)
from accounting.store.audits import AuditRepository
from accounting.store.books import BooksRepository
from accounting.store.console import ConsoleRepository
from accounting.store.documents import DocumentRepository
from accounting.store.intake import IntakeRepository
from accounting.store.jobs import JobRepository
from accounting.store.journal import JournalRepository
from accounting.store.leases import LeaseRepository
from accounting.store.lookups import LookupRepository
from accounting.store.matrices import MatrixRepository
from accounting.store.operator_actions import OperatorActionRepository
from accounting.store.organizations import OrganizationRepository
from accounting.store.queue import QueueRepository
from accounting.store.reports import ReportRepository
from accounting.store.tokens import TokenRepository
from accounting.store.versions import VersionRepository

# SQLSTATEs that mean "try again soon": serialization failure, deadlock, lock timeout. AC001:
# a period closed while a posting ran (see migration 0003); the retry plans around it.
CONFLICT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "AC001"})
# The server going away (admin shutdown, crash, cannot connect now, connection failure): wait.
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "08006", "08001", "08004"})
# A table or column this code expects is missing: the schema is behind (a deploy that started
# workers before `accounting migrate`). Never the document's fault: wait for the migration.
SCHEMA_SQLSTATES = frozenset({"42P01", "42703"})

#: What the composition root does with the events of a committed transaction.
OnCommit = Callable[[Sequence[Event]], None]


def _discard(events: Sequence[Event]) -> None:
    """No composition root: nothing outside Postgres to set in motion (tests, tools)."""


class UnitOfWork:
    """``with UnitOfWork(engine) as uow: ...; uow.commit()``. Leaving without commit rolls back.

    Use cases :meth:`record` events; after the commit they go to ``on_commit``, never when
    the transaction rolls back. Database errors that retrying can fix leave as
    :class:`TransientError`.
    """

    def __init__(self, engine: Engine, on_commit: OnCommit = _discard) -> None:
        self._engine = engine
        self._on_commit = on_commit
        self._events: list[Event] = []

    def __enter__(self) -> Self:
        try:
            self.connection: Connection = self._engine.connect()
            self._transaction = self.connection.begin()
        except OperationalError as exc:
            raise DatabaseUnavailable(f"database unavailable: {exc.orig}") from exc
        self.organizations = OrganizationRepository(self.connection)
        self.documents = DocumentRepository(self.connection)
        self.versions = VersionRepository(self.connection)
        self.journal = JournalRepository(self.connection)
        self.leases = LeaseRepository(self.connection)
        self.queue = QueueRepository(self.connection)
        self.matrices = MatrixRepository(self.connection)
        self.books = BooksRepository(self.connection)
        self.jobs = JobRepository(self.connection)
        self.reports = ReportRepository(self.connection)
        self.audits = AuditRepository(self.connection)
        self.tokens = TokenRepository(self.connection)
        self.intake = IntakeRepository(self.connection)
        self.operator_actions = OperatorActionRepository(self.connection)
        self.console = ConsoleRepository(self.connection)
        self.lookups = LookupRepository(self.connection)
        self._events = []
        return self

    def use_snapshot(self) -> None:
        """Make every later query of this transaction read one snapshot (repeatable read),
        so figures read together agree while postings go on. Must come first."""
        self.connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    def record(self, *events: Event) -> None:
        """Set ``events`` in motion once this transaction has committed."""
        self._events.extend(events)

    def commit(self) -> None:
        self._transaction.commit()
        events, self._events = self._events, []
        if events:
            self._on_commit(events)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._events = []
        try:
            if self._transaction.is_active:
                self._transaction.rollback()
        except DBAPIError:
            pass  # the connection is already gone; closing it below is all that is left
        finally:
            self.connection.close()
        if isinstance(exc, DBAPIError) and _refused_by_the_driver(exc):
            raise PermanentError(f"the database driver refused the statement: {exc.orig}") from exc
        transient = _transient(exc)
        if transient is not None:
            raise transient from exc
        # A value Postgres cannot take (a NUL character, a number out of range): retrying
        # cannot help, and the caller deserves to know which.
        if isinstance(exc, DBAPIError) and isinstance(exc.orig, psycopg.DataError):
            raise InvalidValue(f"invalid value: {str(exc.orig).splitlines()[0][:300]}") from exc
        # Text that is not Unicode (a command-line argument of bytes that are not UTF-8).
        if isinstance(exc, UnicodeError):
            raise InvalidValue(f"invalid value: text that is not valid Unicode ({exc})") from exc


def _transient(exc: BaseException | None) -> TransientError | None:
    """The retryable error a database failure stands for, if it is one. COPY runs on the
    driver's cursor, so its errors arrive untranslated by SQLAlchemy (PgBouncer restarting
    mid-COPY: ProtocolViolation "server conn crashed?", a connection-class error)."""
    driver = exc.orig if isinstance(exc, DBAPIError) else exc
    sqlstate = getattr(driver, "sqlstate", None)
    detail = str(driver).splitlines()[0][:500] if driver is not None else ""
    if sqlstate in CONFLICT_SQLSTATES:
        return DatabaseConflict(f"database conflict, retry: {detail}")
    if sqlstate in SCHEMA_SQLSTATES:
        return SchemaNotReady(f"the schema is not migrated yet: {detail}")
    connection_lost = isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, OperationalError)
    )
    if (
        connection_lost
        or sqlstate in UNAVAILABLE_SQLSTATES
        or isinstance(driver, psycopg.OperationalError)
    ):
        return DatabaseUnavailable(f"database unavailable, retry: {detail}")
    return None


#: What libpq says when it refuses, before sending, a statement it would refuse every time.
CLIENT_SIDE_REFUSALS = ("number of parameters must be between",)


def _refused_by_the_driver(exc: DBAPIError) -> bool:
    """A statement the driver would not send (more than 65,535 parameters): the connection is
    fine, nothing reached the server, and retrying sends the same statement. No SQLSTATE, as
    for a lost connection, which is why the message is looked at."""
    return (
        not exc.connection_invalidated
        and getattr(exc.orig, "sqlstate", None) is None
        and any(refusal in str(exc.orig) for refusal in CLIENT_SIDE_REFUSALS)
    )
