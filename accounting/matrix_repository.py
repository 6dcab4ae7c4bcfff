"""SQL of the chart of accounts and the posting matrices: drafts, publishing, what is used."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, func, insert, select, update

from accounting.matrix import PostingMatrix, Rule
from accounting.models import Account, Organization, PostingRule
from accounting.models import PostingMatrix as PostingMatrixRow


class MatrixRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add_accounts(self, org_id: str, accounts: Iterable[tuple[str, str, str]]) -> None:
        """Insert ``(code, name, kind)`` accounts."""
        rows = [{"org_id": org_id, "code": c, "name": n, "kind": k} for c, n, k in accounts]
        if rows:
            self.connection.execute(insert(Account), rows)

    def add_published_matrix(self, org_id: str, rules: PostingMatrix) -> int:
        """Store ``rules`` as the organization's next matrix version and make it current."""
        version = self.connection.execute(
            select(func.coalesce(func.max(PostingMatrixRow.version), 0) + 1).where(
                PostingMatrixRow.org_id == org_id
            )
        ).scalar_one()
        self.connection.execute(insert(PostingMatrixRow).values(org_id=org_id, version=version))
        self.connection.execute(
            insert(PostingRule),
            [
                {
                    "org_id": org_id,
                    "version": version,
                    "document_type": document_type,
                    "component": component,
                    "group_name": group,
                    "debit_account": rule.debit,
                    "credit_account": rule.credit,
                }
                for (document_type, component, group), rule in rules.rules.items()
            ],
        )
        self.connection.execute(
            update(PostingMatrixRow)
            .where(PostingMatrixRow.org_id == org_id, PostingMatrixRow.version == version)
            .values(published_at=func.now())
        )
        self.connection.execute(
            update(Organization).where(Organization.id == org_id).values(matrix_version=version)
        )
        return int(version)

    def load_matrix(self, org_id: str, version: int) -> PostingMatrix:
        rows = self.connection.execute(
            select(
                PostingRule.document_type,
                PostingRule.component,
                PostingRule.group_name,
                PostingRule.debit_account,
                PostingRule.credit_account,
            ).where(PostingRule.org_id == org_id, PostingRule.version == version)
        ).all()
        rules = {(t, c, g): Rule(debit=d, credit=cr) for t, c, g, d, cr in rows}
        return PostingMatrix(org_id=org_id, version=version, rules=rules)
