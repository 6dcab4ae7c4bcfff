"""SQL of the journal: entries and lines are only ever added (COPY); an active set leaves the
active set by being retired or reversed, never by being edited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, Connection, any_, cast, select, text
from sqlalchemy.dialects.postgresql import ARRAY

from accounting.domain.ledger import EntryDraft, LineDraft, PostedEntry
from accounting.store.models import JournalEntry, JournalLine
from accounting.store.sql import ORG


@dataclass(frozen=True)
class NewEntry:
    draft: EntryDraft
    #: The document version being posted (a reversal belongs to the version that caused it).
    document_version: int
    #: The version whose active set this entry's set replaces.
    replaces_version: int | None = None


class JournalRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def replace_active_entries(
        self, org_id: str, document_ids: Sequence[str], closed_periods: Iterable[dt.date]
    ) -> tuple[dict[str, int], list[int]]:
        """Take the documents' active entries out of the active set: retired where their
        period is open, reversed (to be cancelled by a reversal entry) where it is closed.
        Returns ``{document id: version replaced}`` and the ids of the reversed entries."""
        if not document_ids:
            return {}, []
        rows = self.connection.execute(
            text(
                f"""
                UPDATE journal_entries SET
                    status = CASE WHEN date_trunc('month', entry_date)::date
                                       = ANY(CAST(:closed AS date[]))
                                  THEN 'reversed' ELSE 'retired' END,
                    replaced_at = now()
                 WHERE org_id = {ORG} AND document_id = ANY(CAST(:ids AS text[]))
                   AND status = 'active'
                RETURNING id, document_id, document_version, status
                """
            ),
            {"org_id": org_id, "ids": list(document_ids), "closed": sorted(closed_periods)},
        ).all()
        replaced = {document_id: version for _, document_id, version, _ in rows}
        return replaced, sorted(entry_id for entry_id, *_, status in rows if status == "reversed")

    def posted_entries(self, org_id: str, entry_ids: Sequence[int]) -> list[PostedEntry]:
        """The organization's entries among ``entry_ids``, with their lines, as stored."""
        if not entry_ids:
            return []
        entries = self.connection.execute(
            select(
                JournalEntry.id,
                JournalEntry.document_id,
                JournalEntry.document_type,
                JournalEntry.entry_date,
                JournalEntry.currency,
                JournalEntry.matrix_version,
                JournalEntry.seq,
            )
            .where(
                JournalEntry.org_id == org_id,
                JournalEntry.id == any_(cast(list(entry_ids), ARRAY(BigInteger))),
            )
            .order_by(JournalEntry.id)
        ).all()
        lines = self._lines(org_id, entry_ids)
        return [
            PostedEntry(
                entry_id,
                EntryDraft(doc, doc_type, day, currency, matrix, tuple(lines[entry_id]), seq),
            )
            for entry_id, doc, doc_type, day, currency, matrix, seq in entries
        ]

    def _lines(self, org_id: str, entry_ids: Sequence[int]) -> dict[int, list[LineDraft]]:
        lines: dict[int, list[LineDraft]] = {entry_id: [] for entry_id in entry_ids}
        for (
            entry_id,
            account,
            amount,
            currency,
            functional,
            rate,
            source,
            day,
        ) in self.connection.execute(
            select(
                JournalLine.entry_id,
                JournalLine.account_code,
                JournalLine.amount,
                JournalLine.currency,
                JournalLine.functional_amount,
                JournalLine.rate,
                JournalLine.rate_source,
                JournalLine.rate_date,
            )
            .where(
                JournalLine.org_id == org_id,
                JournalLine.entry_id == any_(cast(list(entry_ids), ARRAY(BigInteger))),
            )
            .order_by(JournalLine.id)
        ).all():
            line = LineDraft(account, amount, currency, functional, rate, source, day)
            lines[entry_id].append(line)
        return lines

    def add_entries(self, org_id: str, entries: Sequence[NewEntry]) -> None:
        """Insert entries and their lines with COPY (ids taken from the sequence up front, so
        lines can name their entry without a round trip)."""
        if not entries:
            return
        cursor = self.connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        ids = [
            row[0]
            for row in cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('journal_entries', 'id'))"
                " FROM generate_series(1, %s)",
                (len(entries),),
            )
        ]
        with cursor.copy(
            "COPY journal_entries (id, org_id, document_id, document_version, seq, document_type,"
            " matrix_version, entry_date, currency, status, reverses_id, replaces_version)"
            " FROM STDIN"
        ) as copy:
            for entry_id, entry in zip(ids, entries, strict=True):
                copy.write_row(_entry_row(entry_id, org_id, entry))
        with cursor.copy(
            "COPY journal_lines (entry_id, org_id, account_code, currency, amount,"
            " functional_amount, rate, rate_source, rate_date) FROM STDIN"
        ) as copy:
            for entry_id, entry in zip(ids, entries, strict=True):
                for line in entry.draft.lines:
                    copy.write_row(_line_row(entry_id, org_id, line))


def _entry_row(entry_id: int, org_id: str, entry: NewEntry) -> tuple[object, ...]:
    draft = entry.draft
    status = "active" if draft.reverses_id is None else "reversal"
    return (
        entry_id,
        org_id,
        draft.document_id,
        entry.document_version,
        draft.seq,
        draft.document_type,
        draft.matrix_version,
        draft.entry_date,
        draft.currency,
        status,
        draft.reverses_id,
        entry.replaces_version,
    )


def _line_row(entry_id: int, org_id: str, line: LineDraft) -> tuple[object, ...]:
    return (
        entry_id,
        org_id,
        line.account,
        line.currency,
        line.amount,
        line.functional_amount,
        line.rate,
        line.rate_source,
        line.rate_date,
    )
