"""What every repository's SQL shares: the organization as a parameter the planner cannot see."""

from __future__ import annotations

from sqlalchemy import ScalarSelect, Text, literal, select

# The organization as a query parameter the planner cannot see. A new or fast-growing
# organization is missing from the table statistics; planned with its literal id, "org_id = x"
# looks like one row and Postgres scans the whole organization instead of probing the primary
# key for the batch's ids (measured: 95 ms instead of 2 ms for 60 documents of a 5,000-document
# organization, growing with the organization).
ORG = "(SELECT CAST(:org_id AS text))"


def same_org(org_id: str) -> ScalarSelect[str]:
    """``ORG`` for Core queries."""
    return select(literal(org_id, Text)).scalar_subquery()
