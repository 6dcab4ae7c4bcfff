"""Unit of work: one database transaction, its repository, and what runs after it commits."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

import psycopg
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from accounting.audit_repository import AuditRepository
from accounting.books_repository import BooksRepository
from accounting.errors import InvalidValue, TransientError
from accounting.jobs_repository import JobRepository
from accounting.matrix_repository import MatrixRepository
from accounting.queue_repository import QueueRepository
from accounting.report_repository import ReportRepository
from accounting.repository import Repository
from accounting.tokens_repository import TokenRepository

# SQLSTATEs that mean "try again": serialization failure, deadlock, lock timeout, shutdown.
# AC001: a period closed while a posting ran (see migration 0003); the retry plans around it.
RETRYABLE_SQLSTATES = frozenset(
    {"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "08006", "AC001"}
)


class UnitOfWork:
    """``with UnitOfWork(engine) as uow: ...; uow.commit()``. Leaving without commit rolls back.

    Database errors that retrying can fix leave as :class:`TransientError`.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._after_commit: list[Callable[[], None]] = []

    def __enter__(self) -> Self:
        try:
            self.connection: Connection = self._engine.connect()
            self._transaction = self.connection.begin()
        except OperationalError as exc:
            raise TransientError(f"database unavailable: {exc.orig}") from exc
        self.repo = Repository(self.connection)
        self.matrices = MatrixRepository(self.connection)
        self.books = BooksRepository(self.connection)
        self.queue = QueueRepository(self.connection)
        self.reports = ReportRepository(self.connection)
        self.audits = AuditRepository(self.connection)
        self.jobs = JobRepository(self.connection)
        self.tokens = TokenRepository(self.connection)
        self._after_commit = []
        return self

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this transaction has committed (never if it rolls back)."""
        self._after_commit.append(callback)

    def commit(self) -> None:
        self._transaction.commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
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
