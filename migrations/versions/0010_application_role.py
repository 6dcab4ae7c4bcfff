"""The application role: what workers, beat and the HTTP service may do, and no more.

Migrations run as the owner of the tables; the processes connect as a login role that is a
member of ``accounting_app`` (docker-compose and .ci/run make both). That role can read and
write what posting needs, but cannot alter the schema, disable a trigger, truncate, delete or
change a journal line, change an entry but for retiring it, or become superuser: the triggers
that keep the books hold against it. A table a later migration adds must be granted there.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 23:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

APP_ROLE = "accounting_app"

#: table -> what the application does to it (journal lines: added and read, never more).
GRANTS = {
    "accounts": "SELECT, INSERT, UPDATE",
    "api_tokens": "SELECT, INSERT, UPDATE",
    "audit_findings": "SELECT, INSERT, DELETE",
    "audit_runs": "SELECT, INSERT, DELETE",
    "dead_intake": "SELECT, INSERT, UPDATE",
    "dispatcher_leases": "SELECT, INSERT, UPDATE, DELETE",
    "document_components": "SELECT, INSERT",
    "documents": "SELECT, INSERT, UPDATE",
    "exchange_rates": "SELECT, INSERT, UPDATE",
    "job_documents": "SELECT, INSERT, UPDATE, DELETE",
    "jobs": "SELECT, INSERT, DELETE",
    "journal_entries": "SELECT, INSERT, UPDATE (status, replaced_at)",
    "journal_lines": "SELECT, INSERT",
    "operator_actions": "SELECT, INSERT",
    "organizations": "SELECT, INSERT, UPDATE",
    "periods": "SELECT, INSERT, UPDATE",
    "posting_matrices": "SELECT, INSERT, UPDATE",
    "posting_rules": "SELECT, INSERT, DELETE",
    "alembic_version": "SELECT",
}


def upgrade() -> None:
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
            END IF;
        END $$
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    for table, privileges in GRANTS.items():
        op.execute(f"GRANT {privileges} ON {table} TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")


def downgrade() -> None:
    for table in GRANTS:
        op.execute(f"REVOKE ALL ON {table} FROM {APP_ROLE}")
    op.execute(f"REVOKE USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}")
