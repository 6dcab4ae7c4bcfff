"""The balance check per statement, over the lines the statement inserted (a transition
table), instead of a deferred trigger per entry that read the entry's lines back with two
aggregate queries at commit; the one-active-set check likewise, per statement over the
inserted entries.

Still "every entry balances at commit", exactly: lines are only ever inserted
(journal_lines_immutable), and only by the transaction that wrote their entry. Where a
statement's lines of an entry balance, the statement adds a balanced share (the product writes
every line of an entry in one COPY: JournalRepository.add_entries); where they do not (lines
of one entry over several statements), the entry is queued in ``journal_balance_pending`` and
all its lines are checked at commit by a deferred constraint trigger, as before. An active
entry of a second version is refused when it is inserted rather than at commit: entries only
ever leave the active set (journal_entries_history), and the product retires the previous set
before it inserts the new one.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 01:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

APP_ROLE = "accounting_app"

# Per statement, over the lines it inserted: one aggregate. An entry whose lines in this
# statement do not balance (per currency, or in the functional currency) is not refused yet:
# it is queued for a deferred check of all its lines at commit, as before.
LINES_BALANCE = """
CREATE FUNCTION journal_lines_must_balance() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO journal_balance_pending (entry_id)
    SELECT entry_id FROM (
        SELECT entry_id, sum(amount) AS total, sum(functional_amount) AS functional
          FROM new_lines GROUP BY entry_id, currency) per_currency
     GROUP BY entry_id HAVING bool_or(total <> 0) OR sum(functional) <> 0
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER journal_lines_balance
    AFTER INSERT ON journal_lines REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION journal_lines_must_balance();
"""

# The deferred check of 0001, for the queued entries only: at commit, all the entry's lines.
PENDING_BALANCE = """
CREATE FUNCTION journal_pending_entry_must_balance() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    off record;
BEGIN
    SELECT currency, sum(amount) AS total INTO off
      FROM journal_lines WHERE entry_id = NEW.entry_id
     GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance in %: debits minus credits = %',
            NEW.entry_id, off.currency, off.total USING ERRCODE = 'check_violation';
    END IF;
    SELECT sum(functional_amount) AS total INTO off
      FROM journal_lines WHERE entry_id = NEW.entry_id HAVING sum(functional_amount) <> 0;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance in functional currency: %',
            NEW.entry_id, off.total USING ERRCODE = 'check_violation';
    END IF;
    DELETE FROM journal_balance_pending WHERE entry_id = NEW.entry_id;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER journal_balance_pending_check
    AFTER INSERT ON journal_balance_pending
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION journal_pending_entry_must_balance();
"""

ONE_ACTIVE_SET = """
CREATE FUNCTION journal_entries_one_active_set() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    two record;
BEGIN
    SELECT n.org_id, n.document_id INTO two
      FROM new_entries n JOIN journal_entries e
        ON e.org_id = n.org_id AND e.document_id = n.document_id
       AND e.status = 'active' AND e.document_version <> n.document_version
     WHERE n.status = 'active' LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'document % of organization % would have active entries of two versions',
            two.document_id, two.org_id USING ERRCODE = 'unique_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER journal_entries_one_active_set
    AFTER INSERT ON journal_entries REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION journal_entries_one_active_set();
"""

# The deferred per-entry trigger of 0001, with its function as 0003 left it.
DEFERRED_PER_ENTRY = """
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
    IF NEW.status = 'active' AND EXISTS (
        SELECT 1 FROM journal_entries e
         WHERE e.org_id = NEW.org_id AND e.document_id = NEW.document_id
           AND e.status = 'active' AND e.document_version <> NEW.document_version) THEN
        RAISE EXCEPTION 'document % of organization % would have active entries of two versions',
            NEW.document_id, NEW.org_id USING ERRCODE = 'unique_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER journal_entries_balance
    AFTER INSERT ON journal_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION journal_entry_must_balance();
"""


def upgrade() -> None:
    op.execute("DROP TRIGGER journal_entries_balance ON journal_entries")
    op.execute("DROP FUNCTION journal_entry_must_balance()")
    op.create_table(
        "journal_balance_pending",
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_journal_balance_pending")),
    )
    # Only the trigger functions (security definers) write it; the application reads it.
    op.execute(f"GRANT SELECT ON journal_balance_pending TO {APP_ROLE}")
    op.execute(PENDING_BALANCE)
    op.execute(LINES_BALANCE)
    op.execute(ONE_ACTIVE_SET)


def downgrade() -> None:
    op.execute("DROP TRIGGER journal_entries_one_active_set ON journal_entries")
    op.execute("DROP FUNCTION journal_entries_one_active_set()")
    op.execute("DROP TRIGGER journal_lines_balance ON journal_lines")
    op.execute("DROP FUNCTION journal_lines_must_balance()")
    op.drop_table("journal_balance_pending")
    op.execute("DROP FUNCTION journal_pending_entry_must_balance()")
    op.execute(DEFERRED_PER_ENTRY)
