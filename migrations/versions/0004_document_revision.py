"""Documents carry the application's revision, so a late, older upsert cannot undo a newer one.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 11:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("documents", sa.Column("revision", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("documents", "revision")
