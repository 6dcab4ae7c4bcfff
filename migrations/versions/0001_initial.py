"""Initial schema: organizations, chart, posting matrices, documents as the durable queue,
journal entries that must balance.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 05:30:07.807494
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Checked at commit (deferred), once per entry, when all its lines are in: per currency and in
# the functional currency, debits equal credits. Lines can only be added in the transaction that
# wrote their entry (the (entry_id, entry_txid) foreign key), so no later insert escapes the
# check. A bug anywhere above cannot commit unbalanced books.
BALANCE_CHECK = """
CREATE FUNCTION journal_entry_must_balance() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    off record;
BEGIN
    SELECT currency, sum(amount) AS total INTO off
      FROM journal_lines WHERE entry_id = NEW.id
     GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance in %: debits minus credits = %',
            NEW.id, off.currency, off.total USING ERRCODE = 'check_violation';
    END IF;
    SELECT sum(functional_amount) AS total INTO off
      FROM journal_lines WHERE entry_id = NEW.id HAVING sum(functional_amount) <> 0;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance in functional currency: %',
            NEW.id, off.total USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER journal_entries_balance
    AFTER INSERT ON journal_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION journal_entry_must_balance();
"""

# Posted lines are history: a replaced entry is retired, never edited or deleted.
IMMUTABLE_LINES = """
CREATE FUNCTION journal_lines_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'journal lines are immutable (entry %)', OLD.entry_id
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER journal_lines_immutable
    BEFORE UPDATE OR DELETE ON journal_lines
    FOR EACH ROW EXECUTE FUNCTION journal_lines_are_immutable();
"""


def upgrade() -> None:
    op.create_table(
        "dispatcher_leases",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_dispatcher_leases")),
    )
    op.create_table(
        "organizations",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("functional_currency", sa.Text(), nullable=False),
        sa.Column("matrix_version", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    op.create_table(
        "accounts",
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('asset', 'liability', 'equity', 'revenue', 'expense')",
            name=op.f("ck_accounts_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_accounts_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("org_id", "code", name=op.f("pk_accounts")),
    )
    op.create_table(
        "documents",
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("facts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("cost", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("ready_version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("posted_version", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failed_version", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("priority", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "ready_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "failed_version <= ready_version", name=op.f("ck_documents_failed_not_ahead")
        ),
        sa.CheckConstraint(
            "posted_version <= ready_version", name=op.f("ck_documents_posted_not_ahead")
        ),
        sa.CheckConstraint("priority IN (0, 1)", name=op.f("ck_documents_priority")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_documents_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_documents")),
    )
    op.create_index(
        "ix_documents_pending",
        "documents",
        ["priority", "ready_at"],
        unique=False,
        postgresql_where=sa.text(
            "ready_version > posted_version AND ready_version > failed_version"
        ),
    )
    op.create_table(
        "posting_matrices",
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_posting_matrices_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("org_id", "version", name=op.f("pk_posting_matrices")),
    )
    op.create_table(
        "journal_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("document_id", sa.Text(), nullable=False),
        sa.Column("document_version", sa.Integer(), nullable=False),
        sa.Column("document_type", sa.Text(), nullable=False),
        sa.Column("matrix_version", sa.Integer(), nullable=False),
        sa.Column("entry_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "txid", sa.BigInteger(), server_default=sa.text("txid_current()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "document_id"],
            ["documents.org_id", "documents.id"],
            name=op.f("fk_journal_entries_org_id_document_id_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entries")),
        sa.UniqueConstraint("id", "txid", name=op.f("uq_journal_entries_id_txid")),
    )
    op.create_index(
        "uq_journal_entries_document_version",
        "journal_entries",
        ["org_id", "document_id", "document_version"],
        unique=True,
    )
    op.create_index(
        "uq_journal_entries_one_active",
        "journal_entries",
        ["org_id", "document_id"],
        unique=True,
        postgresql_where=sa.text("retired_at IS NULL"),
    )
    op.create_table(
        "posting_rules",
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document_type", sa.Text(), nullable=False),
        sa.Column("component", sa.Text(), nullable=False),
        sa.Column("group_name", sa.Text(), nullable=False),
        sa.Column("debit_account", sa.Text(), nullable=False),
        sa.Column("credit_account", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "credit_account"],
            ["accounts.org_id", "accounts.code"],
            name=op.f("fk_posting_rules_org_id_credit_account_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "debit_account"],
            ["accounts.org_id", "accounts.code"],
            name=op.f("fk_posting_rules_org_id_debit_account_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "version"],
            ["posting_matrices.org_id", "posting_matrices.version"],
            name=op.f("fk_posting_rules_org_id_version_posting_matrices"),
        ),
        sa.PrimaryKeyConstraint(
            "org_id",
            "version",
            "document_type",
            "component",
            "group_name",
            name=op.f("pk_posting_rules"),
        ),
    )
    op.create_table(
        "journal_lines",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "entry_txid", sa.BigInteger(), server_default=sa.text("txid_current()"), nullable=False
        ),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("account_code", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=28, scale=8), nullable=False),
        sa.Column("functional_amount", sa.Numeric(precision=28, scale=8), nullable=False),
        sa.Column("rate", sa.Numeric(precision=28, scale=12), nullable=False),
        sa.CheckConstraint(
            "amount <> 0 OR functional_amount <> 0", name=op.f("ck_journal_lines_not_zero")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id", "entry_txid"],
            ["journal_entries.id", "journal_entries.txid"],
            name=op.f("fk_journal_lines_entry_id_entry_txid_journal_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "account_code"],
            ["accounts.org_id", "accounts.code"],
            name=op.f("fk_journal_lines_org_id_account_code_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_lines")),
    )
    op.create_index(op.f("ix_journal_lines_entry_id"), "journal_lines", ["entry_id"], unique=False)
    op.execute(BALANCE_CHECK)
    op.execute(IMMUTABLE_LINES)


def downgrade() -> None:
    op.execute("DROP TRIGGER journal_lines_immutable ON journal_lines")
    op.execute("DROP FUNCTION journal_lines_are_immutable()")
    op.execute("DROP TRIGGER journal_entries_balance ON journal_entries")
    op.execute("DROP FUNCTION journal_entry_must_balance()")
    op.drop_index(op.f("ix_journal_lines_entry_id"), table_name="journal_lines")
    op.drop_table("journal_lines")
    op.drop_table("posting_rules")
    op.drop_index(
        "uq_journal_entries_one_active",
        table_name="journal_entries",
        postgresql_where=sa.text("retired_at IS NULL"),
    )
    op.drop_index("uq_journal_entries_document_version", table_name="journal_entries")
    op.drop_table("journal_entries")
    op.drop_table("posting_matrices")
    op.drop_index(
        "ix_documents_pending",
        table_name="documents",
        postgresql_where=sa.text(
            "ready_version > posted_version AND ready_version > failed_version"
        ),
    )
    op.drop_table("documents")
    op.drop_table("accounts")
    op.drop_table("organizations")
    op.drop_table("dispatcher_leases")
