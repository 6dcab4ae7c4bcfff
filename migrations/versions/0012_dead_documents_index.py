"""Dead documents in a small partial index, so the metrics count them without reading the
whole ``documents`` table: a scrape then costs the same at 10,000 and 10,000,000 documents.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_documents_dead",
        "documents",
        ["org_id"],
        postgresql_where=sa.text("failed_version = ready_version"),
    )


def downgrade() -> None:
    op.drop_index("ix_documents_dead", table_name="documents")
