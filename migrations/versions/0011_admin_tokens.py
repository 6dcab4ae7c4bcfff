"""Admin tokens: a token that opens no organization but the onboarding endpoints (create an
organization, import its chart, draft and publish its matrix). A token is either an
organization's or an admin's, never both.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "api_tokens",
        sa.Column("admin", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.alter_column("api_tokens", "org_id", existing_type=sa.Text(), nullable=True)
    op.create_check_constraint("org_or_admin", "api_tokens", "admin = (org_id IS NULL)")


def downgrade() -> None:
    op.execute("DELETE FROM api_tokens WHERE admin")
    op.drop_constraint("org_or_admin", "api_tokens", type_="check")
    op.alter_column("api_tokens", "org_id", existing_type=sa.Text(), nullable=False)
    op.drop_column("api_tokens", "admin")
