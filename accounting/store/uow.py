"""Unit of work: one database transaction, its repositories, and the events it commits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

import psycopg
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from accounting.domain.events import Event
from accounting.errors import InvalidValue, TransientError
from accounting.store.audits import AuditRepository
from accounting.store.books import BooksRepository
from accounting.store.documents import DocumentRepository
from accounting.store.jobs import JobRepository
from accounting.store.journal import JournalRepository
from accounting.store.leases import LeaseRepository
from accounting.store.matrices import MatrixRepository
from accounting.store.organizations import OrganizationRepository
from accounting.store.queue import QueueRepository
from accounting.store.reports import ReportRepository
from accounting.store.tokens import TokenRepository
from accounting.store.versions import VersionRepository

# SQLSTATEs that mean "try again": serialization failure, deadlock, lock timeout, shutdown.
# AC001: a period closed while a posting ran (see migration 0003); the retry plans around it.
RETRYABLE_SQLSTATES = frozenset(
    {"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "08006", "AC001"}
)

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
            raise TransientError(f"database unavailable: {exc.orig}") from exc
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
        if isinstance(exc, DBAPIError) and _is_retryable(exc):
            raise TransientError(f"database error, retry: {exc.orig}") from exc
        # A value Postgres cannot take (a NUL character, a number out of range): retrying
        # cannot help, and the caller deserves to know which.
        if isinstance(exc, DBAPIError) and isinstance(exc.orig, psycopg.DataError):
            raise InvalidValue(f"invalid value: {str(exc.orig).splitlines()[0][:300]}") from exc
        # Text that is not Unicode (a command-line argument of bytes that are not UTF-8).
        if isinstance(exc, UnicodeError):
            raise InvalidValue(f"invalid value: text that is not valid Unicode ({exc})") from exc
        # COPY runs on the driver's cursor: its errors arrive untranslated (PgBouncer restarting
        # mid-COPY: ProtocolViolation "server conn crashed?", a connection-class error).
        if isinstance(exc, psycopg.OperationalError) or (
            isinstance(exc, psycopg.Error) and exc.sqlstate in RETRYABLE_SQLSTATES
        ):
            raise TransientError(f"database error, retry: {exc}") from exc


def _is_retryable(exc: DBAPIError) -> bool:
    if exc.connection_invalidated or isinstance(exc, OperationalError):
        return True
    return getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES
