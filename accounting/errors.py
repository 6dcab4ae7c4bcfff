"""The exceptions of accounting-impact: permanent (fail fast) or transient (retry)."""

from __future__ import annotations

from accounting_impact_client.errors import (
    CallTooLarge,
    ContractError,
    TooManyDocuments,
    UnknownCurrency,
)

__all__ = ["CallTooLarge", "ContractError", "TooManyDocuments", "UnknownCurrency"]

#: Longest message an error carries: one that quotes a 10 MB argument is cut (it ends up in
#: logs, task results and terminals).
MAX_MESSAGE_LENGTH = 1000


class AccountingError(Exception):
    """An accounting-impact error."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(shortened(message or (self.__doc__ or "").strip()))


def shortened(message: str, limit: int = MAX_MESSAGE_LENGTH) -> str:
    """``message``, or its start and how much was cut when it is longer than ``limit``."""
    if len(message) <= limit:
        return message
    return f"{message[: limit - 40]}… ({len(message) - limit + 40:,} characters cut)"


class PermanentError(AccountingError):
    """A failure that retrying cannot fix."""


#: What retrying cannot fix: our own permanent errors and the contract's (a document or a call
#: the client would have refused before sending it).
PERMANENT_ERRORS: tuple[type[Exception], ...] = (PermanentError, ContractError)


class TransientError(AccountingError):
    """A failure that may go away on retry (database or Redis unavailable, lock conflict)."""


class DatabaseUnavailable(TransientError):
    """Postgres cannot be reached (down, failing over, a pooler restarting, a wrong URL): wait
    for it, for as long as it takes (``ACCOUNTING_INTAKE_RETRY_SECONDS``)."""


class DatabaseConflict(TransientError):
    """A transaction lost a race (serialization failure, deadlock, lock timeout, a period
    closed meanwhile): retry it soon, a few times."""


class SchemaNotReady(TransientError):
    """The database is not at the schema revision this code expects: run `accounting migrate`
    (a worker that starts before the migration waits for it)."""


class UnknownOrganization(PermanentError):
    """No such organization."""


class MissingPostingRule(PermanentError):
    """The posting matrix has no rule for this document type, component and group."""


class UnbalancedEntry(PermanentError):
    """Debits and credits of a journal entry differ."""


class MissingExchangeRate(PermanentError):
    """A foreign-currency document needs an exchange rate to the functional currency."""


class RoundingDifferenceTooLarge(PermanentError):
    """Converting an entry to the functional currency leaves a rounding difference above the
    organization's tolerance (or it has no rounding account)."""


class InvalidPeriod(PermanentError):
    """Not a period: periods are months, written YYYY-MM."""


class InvalidExchangeRate(PermanentError):
    """An exchange rate that cannot be used."""


class DocumentRejected(PermanentError):
    """The document is not valid."""


class UnknownDocument(PermanentError):
    """No such document."""


class InvalidMatrix(PermanentError):
    """The posting matrix is not valid."""


class IncompleteMatrix(PermanentError):
    """The posting matrix cannot be published: it leaves gaps."""

    def __init__(self, gaps: list[str]) -> None:
        self.gaps = gaps
        super().__init__(f"the matrix cannot be published: {'; '.join(gaps)}")


class NoDraftMatrix(PermanentError):
    """The organization has no draft matrix."""


class NoPublishedMatrix(PermanentError):
    """The organization has no published posting matrix."""


class InvalidSetting(PermanentError):
    """A setting out of its range."""


class InconsistentJournalLine(PermanentError):
    """A journal line's amount and functional amount contradict each other."""


class InvalidValue(PermanentError):
    """A value the database cannot store or compare (a NUL character, a number too large)."""


class UnknownJob(PermanentError):
    """No such job in this organization."""


class JobIdTaken(PermanentError):
    """The job id is another organization's job: choose another."""


class JobNotCancellable(PermanentError):
    """The job cannot be cancelled."""


class UnreadableFile(PermanentError):
    """A file given to a command is not what it should be (not UTF-8, not JSON, not CSV)."""


class InvalidChart(PermanentError):
    """A chart of accounts (or a row of one) that cannot be imported."""


class InvalidOrganization(PermanentError):
    """An organization that cannot be created as given (its id taken, a bad id or name)."""
