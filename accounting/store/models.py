"""The Postgres schema as SQLAlchemy tables (Alembic compares migrations against this)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Money columns: wide enough for any ISO 4217 exponent and large totals, exact.
MONEY = Numeric(28, 8)

#: A document is pending exactly when this holds; the partial index below covers it.
PENDING = "ready_version > posted_version AND ready_version > failed_version"
#: A document whose latest version failed for good (``accounting dead retry`` revives it).
DEAD = "failed_version = ready_version"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    functional_currency: Mapped[str] = mapped_column(Text)
    matrix_version: Mapped[int | None] = mapped_column(Integer)
    # Scheduling: a paused organization is not dispatched; weight is its share of the normal
    # lane; max_in_flight caps its documents in flight; rate_per_second throttles its posting.
    paused: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    weight: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    max_in_flight: Mapped[int | None] = mapped_column(Integer)
    rate_per_second: Mapped[Decimal | None] = mapped_column(Numeric(12, 3))
    # Foreign-currency entries: the functional rounding difference of an entry goes to this
    # account, up to this amount (in the functional currency); above it the document fails.
    rounding_account: Mapped[str | None] = mapped_column(Text)
    rounding_tolerance: Mapped[Decimal] = mapped_column(MONEY, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("weight > 0", name="weight_positive"),
        CheckConstraint("max_in_flight IS NULL OR max_in_flight > 0", name="cap_positive"),
        CheckConstraint("rate_per_second IS NULL OR rate_per_second > 0", name="rate_positive"),
        CheckConstraint("rounding_tolerance >= 0", name="tolerance_not_negative"),
        ForeignKeyConstraint(
            ["id", "rounding_account"],
            ["accounts.org_id", "accounts.code"],
            use_alter=True,
            name="fk_organizations_rounding_account_accounts",
        ),
    )


class Account(Base):
    __tablename__ = "accounts"

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    # An inactive account takes no new rules: a matrix naming it cannot be published.
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # A clearing account (money in transit, e.g. at the payment provider) must be back to zero
    # at the end of every closed period; the audit reports it otherwise.
    clearing: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))

    __table_args__ = (
        CheckConstraint(
            "kind IN ('asset', 'liability', 'equity', 'revenue', 'expense')", name="kind"
        ),
    )


class Period(Base):
    """A month of an organization's books. A month without a row is open; posting adds the
    row (and locks it, so a concurrent close waits for the posting to commit)."""

    __tablename__ = "periods"

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    #: The first day of the month.
    period: Mapped[date] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(Text, server_default=text("'open'"))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        CheckConstraint("extract(day FROM period) = 1", name="first_of_month"),
    )


class ExchangeRate(Base):
    """Rates supplied per organization and date: units of functional currency per unit of
    ``currency``. Posting uses the latest rate on or before the document's date."""

    __tablename__ = "exchange_rates"

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    currency: Mapped[str] = mapped_column(Text, primary_key=True)
    rate_date: Mapped[date] = mapped_column(primary_key=True)
    rate: Mapped[Decimal] = mapped_column(Numeric(28, 12))
    source: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (CheckConstraint("rate > 0", name="rate_positive"),)


class DocumentComponent(Base):
    """Which (document type, component, group) an organization's documents use: what a new
    posting matrix must cover before it can be published."""

    __tablename__ = "document_components"

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    document_type: Mapped[str] = mapped_column(Text, primary_key=True)
    component: Mapped[str] = mapped_column(Text, primary_key=True)
    group_name: Mapped[str] = mapped_column(Text, primary_key=True)


class PostingMatrix(Base):
    """A version of an organization's posting rules: a draft until published, then immutable."""

    __tablename__ = "posting_matrices"

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # One draft at a time per organization.
        Index(
            "uq_posting_matrices_one_draft",
            "org_id",
            unique=True,
            postgresql_where=text("published_at IS NULL"),
        ),
    )


class PostingRule(Base):
    __tablename__ = "posting_rules"

    org_id: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_type: Mapped[str] = mapped_column(Text, primary_key=True)
    component: Mapped[str] = mapped_column(Text, primary_key=True)
    group_name: Mapped[str] = mapped_column(Text, primary_key=True)
    debit_account: Mapped[str] = mapped_column(Text)
    credit_account: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "version"], ["posting_matrices.org_id", "posting_matrices.version"]
        ),
        ForeignKeyConstraint(["org_id", "debit_account"], ["accounts.org_id", "accounts.code"]),
        ForeignKeyConstraint(["org_id", "credit_account"], ["accounts.org_id", "accounts.code"]),
    )


class Document(Base):
    """One row per document: its content and its work state (the durable queue)."""

    __tablename__ = "documents"

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    type: Mapped[str] = mapped_column(Text)
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # What posting needs, whatever the matrix (accounting.ledger.PostingFacts), computed once.
    facts: Mapped[dict[str, Any]] = mapped_column(JSONB)
    content_hash: Mapped[str] = mapped_column(Text)
    #: The application's revision of the content, if it sends one: an older one is ignored.
    revision: Mapped[int | None] = mapped_column(BigInteger)
    cost: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    ready_version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    posted_version: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    failed_version: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    priority: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ready_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("posted_version <= ready_version", name="posted_not_ahead"),
        CheckConstraint("failed_version <= ready_version", name="failed_not_ahead"),
        CheckConstraint("priority IN (0, 1)", name="priority"),
        # The high lane and FIFO order across organizations.
        Index("ix_documents_pending", "priority", "ready_at", postgresql_where=text(PENDING)),
        # Per-organization queues: which organizations have work, and each one's oldest first.
        Index(
            "ix_documents_pending_org",
            "org_id",
            "priority",
            "ready_at",
            postgresql_where=text(PENDING),
        ),
        # Documents in flight (or whose lease ran out): small, whatever the backlog.
        Index(
            "ix_documents_leased",
            "lease_until",
            postgresql_where=text(f"{PENDING} AND lease_until IS NOT NULL"),
        ),
        # Dead documents: counted by every scrape, without reading the whole table.
        Index("ix_documents_dead", "org_id", postgresql_where=text(DEAD)),
    )


class JournalEntry(Base):
    """One balanced entry. The entries posted for one version of a document (one, or an invoice
    and its revenue recognitions) form its entry set, numbered by ``seq``.

    ``status``: ``active`` (the document's current set), ``retired`` (replaced while its period
    was open: soft-deleted, never reported), ``reversed`` (replaced once its period had closed:
    it stays in that period's books and a ``reversal`` entry in an open period cancels it)."""

    __tablename__ = "journal_entries"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    org_id: Mapped[str] = mapped_column(Text)
    document_id: Mapped[str] = mapped_column(Text)
    document_version: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    document_type: Mapped[str] = mapped_column(Text)
    matrix_version: Mapped[int] = mapped_column(Integer)
    entry_date: Mapped[date]
    currency: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default=text("'active'"))
    #: A reversal: the entry it cancels.
    reverses_id: Mapped[int | None] = mapped_column(BigInteger)
    #: A new set: the document version whose set it replaced.
    replaces_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    replaced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The transaction that wrote the entry: its lines must come from the same one (see below).
    txid: Mapped[int] = mapped_column(BigInteger, server_default=text("txid_current()"))

    __table_args__ = (
        ForeignKeyConstraint(["org_id", "document_id"], ["documents.org_id", "documents.id"]),
        ForeignKeyConstraint(["reverses_id"], ["journal_entries.id"]),
        UniqueConstraint("id", "txid"),
        CheckConstraint("status IN ('active', 'retired', 'reversed', 'reversal')", name="status"),
        CheckConstraint("(status = 'reversal') = (reverses_id IS NOT NULL)", name="reversal_link"),
        # A version is posted at most once, ever.
        Index(
            "uq_journal_entries_document_version",
            "org_id",
            "document_id",
            "document_version",
            "seq",
            unique=True,
            postgresql_where=text("status <> 'reversal'"),
        ),
        # At most one active entry set per document (one version: checked at commit).
        Index(
            "uq_journal_entries_one_active",
            "org_id",
            "document_id",
            "seq",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
        # An entry is reversed at most once.
        Index(
            "uq_journal_entries_reverses_id",
            "reverses_id",
            unique=True,
            postgresql_where=text("reverses_id IS NOT NULL"),
        ),
        # Reports per organization and period.
        Index("ix_journal_entries_org_id_entry_date", "org_id", "entry_date"),
    )


class JournalLine(Base):
    __tablename__ = "journal_lines"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigInteger, index=True)
    # Lines can only be added by the transaction that wrote their entry, which is when the
    # entry's balance is checked (per statement, and at commit for an entry whose lines span
    # statements): a later line cannot unbalance it.
    entry_txid: Mapped[int] = mapped_column(BigInteger, server_default=text("txid_current()"))
    org_id: Mapped[str] = mapped_column(Text)
    account_code: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    functional_amount: Mapped[Decimal] = mapped_column(MONEY)
    # Units of functional currency per unit of ``currency``, where it came from ("functional"
    # when the line is in the functional currency, "document" when the document carried it,
    # else the source the organization supplied it with) and its date.
    rate: Mapped[Decimal] = mapped_column(Numeric(28, 12))
    rate_source: Mapped[str] = mapped_column(Text)
    rate_date: Mapped[date]

    __table_args__ = (
        ForeignKeyConstraint(["org_id", "account_code"], ["accounts.org_id", "accounts.code"]),
        ForeignKeyConstraint(
            ["entry_id", "entry_txid"], ["journal_entries.id", "journal_entries.txid"]
        ),
        CheckConstraint("amount <> 0 OR functional_amount <> 0", name="not_zero"),
    )


class JournalBalancePending(Base):
    """Entries whose lines did not balance within one statement, checked again with all their
    lines at commit (written and emptied by the balance triggers only; empty between
    transactions)."""

    __tablename__ = "journal_balance_pending"

    entry_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class DispatcherLease(Base):
    """Leadership of the dispatcher: whoever holds an unexpired row dispatches."""

    __tablename__ = "dispatcher_leases"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    holder: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditRun(Base):
    """One run of the audit (of one organization, or of all when ``org_id`` is null)."""

    __tablename__ = "audit_runs"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    org_id: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    findings: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    #: {check name: findings}, every check listed.
    by_check: Mapped[dict[str, int]] = mapped_column(JSONB)


class AuditFinding(Base):
    """What one check found (at most a sample of each check's findings is kept)."""

    __tablename__ = "audit_findings"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("audit_runs.id", ondelete="CASCADE"), index=True)
    check_name: Mapped[str] = mapped_column(Text)
    org_id: Mapped[str] = mapped_column(Text)
    document_id: Mapped[str | None] = mapped_column(Text)
    entry_id: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str] = mapped_column(Text)


class Job(Base):
    """A request someone follows: a sync (one upsert call) or a recreate. Its id is the id of
    the Celery task that made it."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    kind: Mapped[str] = mapped_column(Text)
    lane: Mapped[str] = mapped_column(Text)
    total: Mapped[int] = mapped_column(Integer)
    requested_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )

    __table_args__ = (
        CheckConstraint("kind IN ('sync', 'recreate')", name="kind"),
        CheckConstraint("lane IN ('high', 'normal')", name="lane"),
    )


class JobDocument(Base):
    """A document version a job waits for: done once the document is posted at that version
    or a later one, failed if that version is dead."""

    __tablename__ = "job_documents"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[str] = mapped_column(Text)
    document_id: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    #: Cancelled before it started: the job no longer waits for it.
    cancelled: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))

    __table_args__ = (Index("ix_job_documents_document", "org_id", "document_id", "version"),)


class ApiToken(Base):
    """A bearer token of the HTTP API: it opens one organization, or (an admin token, with no
    organization) the onboarding endpoints. Only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    token_sha256: Mapped[str] = mapped_column(Text, primary_key=True)
    org_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id"))
    label: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    admin: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))

    __table_args__ = (CheckConstraint("admin = (org_id IS NULL)", name="org_or_admin"),)


class DeadIntake(Base):
    """A message the workers accepted but could not apply (Postgres unreachable for longer
    than the retry window, or a message that killed its worker process again and again): kept
    whole, listed by ``accounting dead list --intake`` and sent again by ``accounting dead
    retry --intake``. Never acknowledged into nothing."""

    __tablename__ = "dead_intake"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    #: The Celery task id, which is the job id its sender follows.
    task_id: Mapped[str] = mapped_column(Text, unique=True)
    task_name: Mapped[str] = mapped_column(Text)
    org_id: Mapped[str | None] = mapped_column(Text)
    #: The message's arguments as they came (None for a message too large to keep).
    args: Mapped[list[Any] | None] = mapped_column(JSONB)
    kwargs: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    reason: Mapped[str] = mapped_column(Text)
    deliveries: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    #: When ``accounting dead retry`` sent it again (it stays listed as retried).
    retried_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_dead_intake_org_id_recorded_at", "org_id", "recorded_at"),)


class OperatorAction(Base):
    """What an operator changed by hand (a document's stored revision reset, say): kept for
    the audit trail, never edited."""

    __tablename__ = "operator_actions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    #: Who, and through which command (``alice via accounting document reset-revision``).
    actor: Mapped[str] = mapped_column(Text)
    org_id: Mapped[str] = mapped_column(Text)
    document_id: Mapped[str | None] = mapped_column(Text)
    #: What was done, as a name (``reset_revision``); ``detail`` holds its before and after.
    action: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB)

    __table_args__ = (Index("ix_operator_actions_org_id_at", "org_id", "at"),)
