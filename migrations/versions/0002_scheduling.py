"""Scheduling: per-organization pause, weight, in-flight cap and rate; per-organization queue
and lease indexes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:52:56.921351
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_documents_leased",
        "documents",
        ["lease_until"],
        unique=False,
        postgresql_where=sa.text(
            "ready_version > posted_version AND ready_version > failed_version"
            " AND lease_until IS NOT NULL"
        ),
    )
    op.create_index(
        "ix_documents_pending_org",
        "documents",
        ["org_id", "priority", "ready_at"],
        unique=False,
        postgresql_where=sa.text(
            "ready_version > posted_version AND ready_version > failed_version"
        ),
    )
    op.add_column(
        "organizations",
        sa.Column("paused", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column(
        "organizations",
        sa.Column("weight", sa.Integer(), server_default=sa.text("1"), nullable=False),
    )
    op.add_column("organizations", sa.Column("max_in_flight", sa.Integer(), nullable=True))
    op.add_column(
        "organizations",
        sa.Column("rate_per_second", sa.Numeric(precision=12, scale=3), nullable=True),
    )
    op.create_check_constraint(
        op.f("ck_organizations_weight_positive"), "organizations", "weight > 0"
    )
    op.create_check_constraint(
        op.f("ck_organizations_cap_positive"),
        "organizations",
        "max_in_flight IS NULL OR max_in_flight > 0",
    )
    op.create_check_constraint(
        op.f("ck_organizations_rate_positive"),
        "organizations",
        "rate_per_second IS NULL OR rate_per_second > 0",
    )


def downgrade() -> None:
    for name in ("rate_positive", "cap_positive", "weight_positive"):
        op.drop_constraint(op.f(f"ck_organizations_{name}"), "organizations", type_="check")
    op.drop_column("organizations", "rate_per_second")
    op.drop_column("organizations", "max_in_flight")
    op.drop_column("organizations", "weight")
    op.drop_column("organizations", "paused")
    op.drop_index(
        "ix_documents_pending_org",
        table_name="documents",
        postgresql_where=sa.text(
            "ready_version > posted_version AND ready_version > failed_version"
        ),
    )
    op.drop_index(
        "ix_documents_leased",
        table_name="documents",
        postgresql_where=sa.text(
            "ready_version > posted_version AND ready_version > failed_version"
            " AND lease_until IS NOT NULL"
        ),
    )
