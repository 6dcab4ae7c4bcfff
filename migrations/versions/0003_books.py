"""Books: periods, exchange rates and rounding, entry sets with reversals, matrix drafts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 07:50:11.581512
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Raised when a write touches a closed period. Its own SQLSTATE, so the application can tell
# "a period closed while this posting ran: plan it again" from any other error.
PERIOD_CLOSED = "AC001"

# Nothing is inserted into, or retired from, a closed period. Posting first makes sure the
# months it touches have a period row and locks them FOR KEY SHARE; closing a period locks its
# row FOR UPDATE. So a close waits for postings in flight, and a posting that waited for a close
# sees it (each statement of a volatile function reads what committed before it).
OPEN_PERIODS = f"""
CREATE FUNCTION journal_entries_in_open_periods() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    closed record;
BEGIN
    INSERT INTO periods (org_id, period)
    SELECT DISTINCT org_id, date_trunc('month', entry_date)::date FROM changed
     WHERE TG_OP = 'INSERT' OR status = 'retired'
    ON CONFLICT DO NOTHING;
    PERFORM 1 FROM periods p
     WHERE (p.org_id, p.period) IN (
           SELECT org_id, date_trunc('month', entry_date)::date FROM changed
            WHERE TG_OP = 'INSERT' OR status = 'retired')
     ORDER BY p.org_id, p.period
       FOR KEY SHARE;
    SELECT p.org_id, p.period INTO closed FROM periods p
     WHERE p.status = 'closed' AND (p.org_id, p.period) IN (
           SELECT org_id, date_trunc('month', entry_date)::date FROM changed
            WHERE TG_OP = 'INSERT' OR status = 'retired')
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'period % of organization % is closed: nothing can be % it',
            to_char(closed.period, 'YYYY-MM'), closed.org_id,
            CASE TG_OP WHEN 'INSERT' THEN 'posted into' ELSE 'retired from' END
            USING ERRCODE = '{PERIOD_CLOSED}';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER journal_entries_open_period_insert
    AFTER INSERT ON journal_entries REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION journal_entries_in_open_periods();
CREATE TRIGGER journal_entries_open_period_update
    AFTER UPDATE ON journal_entries REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION journal_entries_in_open_periods();
"""

# Entries are history. The only change allowed is an active entry leaving the active set, by
# retirement or by reversal, with the time it happened. The condition is the trigger's WHEN
# clause, evaluated without calling PL/pgSQL: the function only runs to refuse.
ALLOWED_CHANGE = """
    OLD.status = 'active' AND NEW.status IN ('retired', 'reversed')
    AND (NEW.id, NEW.org_id, NEW.document_id, NEW.document_version, NEW.seq,
         NEW.document_type, NEW.matrix_version, NEW.entry_date, NEW.currency,
         NEW.reverses_id, NEW.replaces_version, NEW.created_at, NEW.txid)
        IS NOT DISTINCT FROM
        (OLD.id, OLD.org_id, OLD.document_id, OLD.document_version, OLD.seq,
         OLD.document_type, OLD.matrix_version, OLD.entry_date, OLD.currency,
         OLD.reverses_id, OLD.replaces_version, OLD.created_at, OLD.txid)
"""
ENTRY_HISTORY = f"""
CREATE FUNCTION journal_entries_are_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'journal entry % cannot be deleted: entries are history', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RAISE EXCEPTION 'journal entry %: only an active entry can be retired or reversed, '
        'and nothing else about it can change', OLD.id
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER journal_entries_history
    BEFORE UPDATE ON journal_entries
    FOR EACH ROW WHEN (NOT ({ALLOWED_CHANGE}))
    EXECUTE FUNCTION journal_entries_are_history();
CREATE TRIGGER journal_entries_no_delete
    BEFORE DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION journal_entries_are_history();
"""


# The balance check of 0001 (restored as it was by the downgrade)...
BALANCE_CHECKS = """
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
"""

# ...plus: a document's active entries all belong to one version.
ONE_ACTIVE_SET = """
    IF NEW.status = 'active' AND EXISTS (
        SELECT 1 FROM journal_entries e
         WHERE e.org_id = NEW.org_id AND e.document_id = NEW.document_id
           AND e.status = 'active' AND e.document_version <> NEW.document_version) THEN
        RAISE EXCEPTION 'document % of organization % would have active entries of two versions',
            NEW.document_id, NEW.org_id USING ERRCODE = 'unique_violation';
    END IF;
"""


def balance_function(checks: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION journal_entry_must_balance() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    off record;
BEGIN
{checks}
    RETURN NULL;
END $$;
"""


# A published matrix is what its entries were built with: its rules never change again.
PUBLISHED_MATRICES = """
CREATE FUNCTION published_matrices_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    target record;
BEGIN
    IF TG_TABLE_NAME = 'posting_matrices' THEN
        IF OLD.published_at IS NOT NULL THEN
            RAISE EXCEPTION 'posting matrix version % of organization % is published: '
                'it cannot change', OLD.version, OLD.org_id USING ERRCODE = 'restrict_violation';
        END IF;
    ELSE
        target := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        PERFORM 1 FROM posting_matrices m
         WHERE m.org_id = target.org_id AND m.version = target.version
           AND m.published_at IS NOT NULL;
        IF FOUND OR (TG_OP = 'UPDATE' AND EXISTS (
            SELECT 1 FROM posting_matrices m WHERE m.org_id = OLD.org_id
               AND m.version = OLD.version AND m.published_at IS NOT NULL)) THEN
            RAISE EXCEPTION 'posting matrix version % of organization % is published: '
                'its rules cannot change', target.version, target.org_id
                USING ERRCODE = 'restrict_violation';
        END IF;
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER posting_matrices_immutable
    BEFORE UPDATE OR DELETE ON posting_matrices
    FOR EACH ROW EXECUTE FUNCTION published_matrices_are_immutable();
CREATE TRIGGER posting_rules_immutable
    BEFORE INSERT OR UPDATE OR DELETE ON posting_rules
    FOR EACH ROW EXECUTE FUNCTION published_matrices_are_immutable();
"""


def upgrade() -> None:
    _new_tables()
    op.add_column(
        "accounts",
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
    )
    _organizations()
    _journal_entries()
    _journal_lines()
    op.create_index(
        "uq_posting_matrices_one_draft",
        "posting_matrices",
        ["org_id"],
        unique=True,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.execute(balance_function(BALANCE_CHECKS + ONE_ACTIVE_SET))
    op.execute(ENTRY_HISTORY)
    op.execute(OPEN_PERIODS)
    op.execute(PUBLISHED_MATRICES)


def _new_tables() -> None:
    op.create_table(
        "document_components",
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("document_type", sa.Text(), nullable=False),
        sa.Column("component", sa.Text(), nullable=False),
        sa.Column("group_name", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_document_components_org_id_organizations"),
        ),
        sa.PrimaryKeyConstraint(
            "org_id",
            "document_type",
            "component",
            "group_name",
            name=op.f("pk_document_components"),
        ),
    )
    # What the documents already stored use.
    op.execute(
        """
        INSERT INTO document_components (org_id, document_type, component, group_name)
        SELECT DISTINCT d.org_id, d.type, c->>0, c->>1
          FROM documents d, jsonb_array_elements(d.facts->'components') AS c
        """
    )
    op.create_table(
        "exchange_rates",
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("rate_date", sa.Date(), nullable=False),
        sa.Column("rate", sa.Numeric(precision=28, scale=12), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("rate > 0", name=op.f("ck_exchange_rates_rate_positive")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_exchange_rates_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("org_id", "currency", "rate_date", name=op.f("pk_exchange_rates")),
    )
    op.create_table(
        "periods",
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'open'"), nullable=False),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_periods_status")),
        sa.CheckConstraint("extract(day FROM period) = 1", name=op.f("ck_periods_first_of_month")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_periods_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("org_id", "period", name=op.f("pk_periods")),
    )


def _organizations() -> None:
    op.add_column("organizations", sa.Column("rounding_account", sa.Text(), nullable=True))
    op.add_column(
        "organizations",
        sa.Column(
            "rounding_tolerance",
            sa.Numeric(precision=28, scale=8),
            server_default=sa.text("0"),
            nullable=False,
        ),
    )
    op.create_check_constraint(
        op.f("ck_organizations_tolerance_not_negative"), "organizations", "rounding_tolerance >= 0"
    )
    op.create_foreign_key(
        "fk_organizations_rounding_account_accounts",
        "organizations",
        "accounts",
        ["id", "rounding_account"],
        ["org_id", "code"],
    )


def _journal_entries() -> None:
    op.execute("ALTER TABLE journal_entries DISABLE TRIGGER journal_entries_balance")
    for column in (
        sa.Column("seq", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'active'"), nullable=False),
        sa.Column("reverses_id", sa.BigInteger(), nullable=True),
        sa.Column("replaces_version", sa.Integer(), nullable=True),
    ):
        op.add_column("journal_entries", column)
    op.alter_column("journal_entries", "retired_at", new_column_name="replaced_at")
    op.execute("UPDATE journal_entries SET status = 'retired' WHERE replaced_at IS NOT NULL")
    op.execute("ALTER TABLE journal_entries ENABLE TRIGGER journal_entries_balance")
    op.create_check_constraint(
        op.f("ck_journal_entries_status"),
        "journal_entries",
        "status IN ('active', 'retired', 'reversed', 'reversal')",
    )
    op.create_check_constraint(
        op.f("ck_journal_entries_reversal_link"),
        "journal_entries",
        "(status = 'reversal') = (reverses_id IS NOT NULL)",
    )
    op.create_foreign_key(
        op.f("fk_journal_entries_reverses_id_journal_entries"),
        "journal_entries",
        "journal_entries",
        ["reverses_id"],
        ["id"],
    )
    op.drop_index("uq_journal_entries_document_version", table_name="journal_entries")
    op.create_index(
        "uq_journal_entries_document_version",
        "journal_entries",
        ["org_id", "document_id", "document_version", "seq"],
        unique=True,
        postgresql_where=sa.text("status <> 'reversal'"),
    )
    op.drop_index("uq_journal_entries_one_active", table_name="journal_entries")
    op.create_index(
        "uq_journal_entries_one_active",
        "journal_entries",
        ["org_id", "document_id", "seq"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index(
        "uq_journal_entries_reverses_id",
        "journal_entries",
        ["reverses_id"],
        unique=True,
        postgresql_where=sa.text("reverses_id IS NOT NULL"),
    )
    op.create_index(
        "ix_journal_entries_org_id_entry_date", "journal_entries", ["org_id", "entry_date"]
    )


def _journal_lines() -> None:
    op.add_column("journal_lines", sa.Column("rate_source", sa.Text(), nullable=True))
    op.add_column("journal_lines", sa.Column("rate_date", sa.Date(), nullable=True))
    # Lines are immutable, except for this once: say where the rates already used came from.
    op.execute("ALTER TABLE journal_lines DISABLE TRIGGER journal_lines_immutable")
    op.execute(
        """
        UPDATE journal_lines l
           SET rate_source = CASE WHEN l.currency = o.functional_currency
                                  THEN 'functional' ELSE 'document' END,
               rate_date = e.entry_date
          FROM journal_entries e, organizations o
         WHERE e.id = l.entry_id AND o.id = l.org_id
        """
    )
    op.execute("ALTER TABLE journal_lines ENABLE TRIGGER journal_lines_immutable")
    op.alter_column("journal_lines", "rate_source", nullable=False)
    op.alter_column("journal_lines", "rate_date", nullable=False)


def downgrade() -> None:
    op.execute("DROP TRIGGER posting_rules_immutable ON posting_rules")
    op.execute("DROP TRIGGER posting_matrices_immutable ON posting_matrices")
    op.execute("DROP FUNCTION published_matrices_are_immutable()")
    op.execute("DROP TRIGGER journal_entries_open_period_update ON journal_entries")
    op.execute("DROP TRIGGER journal_entries_open_period_insert ON journal_entries")
    op.execute("DROP FUNCTION journal_entries_in_open_periods()")
    op.execute("DROP TRIGGER journal_entries_no_delete ON journal_entries")
    op.execute("DROP TRIGGER journal_entries_history ON journal_entries")
    op.execute("DROP FUNCTION journal_entries_are_history()")
    op.execute(balance_function(BALANCE_CHECKS))
    op.drop_index("uq_posting_matrices_one_draft", table_name="posting_matrices")
    op.drop_column("journal_lines", "rate_date")
    op.drop_column("journal_lines", "rate_source")
    op.drop_index("ix_journal_entries_org_id_entry_date", table_name="journal_entries")
    op.drop_index("uq_journal_entries_reverses_id", table_name="journal_entries")
    op.drop_index("uq_journal_entries_one_active", table_name="journal_entries")
    op.drop_index("uq_journal_entries_document_version", table_name="journal_entries")
    # Reversals and deferred-revenue schedules have no place in the older schema.
    op.execute("ALTER TABLE journal_lines DISABLE TRIGGER journal_lines_immutable")
    op.execute(
        "DELETE FROM journal_lines WHERE entry_id IN"
        " (SELECT id FROM journal_entries WHERE status = 'reversal' OR seq > 0)"
    )
    op.execute("ALTER TABLE journal_lines ENABLE TRIGGER journal_lines_immutable")
    op.execute("DELETE FROM journal_entries WHERE status = 'reversal' OR seq > 0")
    op.execute(
        "UPDATE journal_entries SET replaced_at = coalesce(replaced_at, now())"
        " WHERE status <> 'active'"
    )
    op.alter_column("journal_entries", "replaced_at", new_column_name="retired_at")
    op.create_index(
        "uq_journal_entries_one_active",
        "journal_entries",
        ["org_id", "document_id"],
        unique=True,
        postgresql_where=sa.text("retired_at IS NULL"),
    )
    op.create_index(
        "uq_journal_entries_document_version",
        "journal_entries",
        ["org_id", "document_id", "document_version"],
        unique=True,
    )
    op.drop_constraint(
        op.f("fk_journal_entries_reverses_id_journal_entries"), "journal_entries", "foreignkey"
    )
    op.drop_constraint(op.f("ck_journal_entries_reversal_link"), "journal_entries", "check")
    op.drop_constraint(op.f("ck_journal_entries_status"), "journal_entries", "check")
    for column in ("replaces_version", "reverses_id", "status", "seq"):
        op.drop_column("journal_entries", column)
    op.drop_constraint("fk_organizations_rounding_account_accounts", "organizations", "foreignkey")
    op.drop_column("organizations", "rounding_tolerance")
    op.drop_column("organizations", "rounding_account")
    op.drop_column("accounts", "active")
    op.drop_table("periods")
    op.drop_table("exchange_rates")
    op.drop_table("document_components")
