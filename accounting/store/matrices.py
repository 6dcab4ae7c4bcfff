"""SQL of the chart of accounts and the posting matrices: drafts, publishing, what is used."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, text, update

from accounting.domain.matrix import PostingMatrix, Rule, Triple
from accounting.store.models import PENDING, Account, DocumentComponent, Organization, PostingRule
from accounting.store.models import PostingMatrix as PostingMatrixRow
from accounting.store.sql import ORG


@dataclass(frozen=True)
class MatrixVersion:
    version: int
    published_at: dt.datetime | None
    rules: int

    @property
    def is_draft(self) -> bool:
        return self.published_at is None


class MatrixRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add_accounts(self, org_id: str, accounts: Iterable[tuple[str, str, str]]) -> None:
        """Insert ``(code, name, kind)`` accounts."""
        rows = [{"org_id": org_id, "code": c, "name": n, "kind": k} for c, n, k in accounts]
        if rows:
            self.connection.execute(insert(Account), rows)

    def chart(self, org_id: str) -> dict[str, tuple[str, str]]:
        """The chart as written: ``{code: (name, kind)}``."""
        rows = self.connection.execute(
            select(Account.code, Account.name, Account.kind).where(Account.org_id == org_id)
        ).all()
        return {code: (name, kind) for code, name, kind in rows}

    def rename_account(self, org_id: str, code: str, name: str) -> None:
        self.connection.execute(
            update(Account).where(Account.org_id == org_id, Account.code == code).values(name=name)
        )

    def accounts(self, org_id: str) -> dict[str, bool]:
        """The chart: ``{code: active}``."""
        rows = self.connection.execute(
            select(Account.code, Account.active).where(Account.org_id == org_id)
        ).all()
        return {code: active for code, active in rows}

    def set_account_active(self, org_id: str, code: str, active: bool) -> bool:
        result = self.connection.execute(
            update(Account)
            .where(Account.org_id == org_id, Account.code == code)
            .values(active=active)
        )
        return bool(result.rowcount)

    def set_account_clearing(self, org_id: str, code: str, clearing: bool) -> bool:
        result = self.connection.execute(
            update(Account)
            .where(Account.org_id == org_id, Account.code == code)
            .values(clearing=clearing)
        )
        return bool(result.rowcount)

    def draft_version(self, org_id: str) -> int | None:
        return self.connection.execute(
            select(PostingMatrixRow.version).where(
                PostingMatrixRow.org_id == org_id, PostingMatrixRow.published_at.is_(None)
            )
        ).scalar_one_or_none()

    def save_draft(self, org_id: str, matrix: PostingMatrix) -> int:
        """Store ``matrix`` as the organization's draft: the existing draft's rules are
        replaced, or a new version (the next number) is started."""
        version = self.draft_version(org_id)
        if version is None:
            version = self.connection.execute(
                select(func.coalesce(func.max(PostingMatrixRow.version), 0) + 1).where(
                    PostingMatrixRow.org_id == org_id
                )
            ).scalar_one()
            self.connection.execute(insert(PostingMatrixRow).values(org_id=org_id, version=version))
        else:
            self.connection.execute(
                delete(PostingRule).where(
                    PostingRule.org_id == org_id, PostingRule.version == version
                )
            )
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
                for (document_type, component, group), rule in matrix.rules.items()
            ],
        )
        return int(version)

    def publish(self, org_id: str, version: int) -> None:
        """Make a draft the current version; from now on it is immutable (a trigger)."""
        self.connection.execute(
            update(PostingMatrixRow)
            .where(PostingMatrixRow.org_id == org_id, PostingMatrixRow.version == version)
            .values(published_at=func.now())
        )
        self.connection.execute(
            update(Organization).where(Organization.id == org_id).values(matrix_version=version)
        )

    def versions(self, org_id: str) -> list[MatrixVersion]:
        rows = self.connection.execute(
            select(
                PostingMatrixRow.version,
                PostingMatrixRow.published_at,
                select(func.count())
                .where(
                    PostingRule.org_id == PostingMatrixRow.org_id,
                    PostingRule.version == PostingMatrixRow.version,
                )
                .scalar_subquery(),
            )
            .where(PostingMatrixRow.org_id == org_id)
            .order_by(PostingMatrixRow.version)
        ).all()
        return [MatrixVersion(version, published, rules) for version, published, rules in rows]

    def used_components(self, org_id: str) -> set[Triple]:
        rows = self.connection.execute(
            select(
                DocumentComponent.document_type,
                DocumentComponent.component,
                DocumentComponent.group_name,
            ).where(DocumentComponent.org_id == org_id)
        ).all()
        return {(t, c, g) for t, c, g in rows}

    def record_components(self, org_id: str, used: Iterable[Triple]) -> None:
        """Remember what the organization's documents use (cheap when nothing is new)."""
        triples = sorted(set(used))
        if not triples:
            return
        self.connection.execute(
            text(
                """
                INSERT INTO document_components (org_id, document_type, component, group_name)
                SELECT :org_id, t, c, g
                  FROM unnest(CAST(:types AS text[]), CAST(:components AS text[]),
                              CAST(:groups AS text[])) AS u(t, c, g)
                ON CONFLICT DO NOTHING
                """
            ),
            {"org_id": org_id, **_as_arrays(triples)},
        )

    def recreate_documents_using(self, org_id: str, used: Iterable[Triple]) -> int:
        """Give a new version to every document of the organization that has one of these
        (type, component, group) among its posting facts: due on the normal lane, unless it
        is already pending on the high lane. Dead ones are included: a new matrix may be what
        they were waiting for."""
        triples = sorted(set(used))
        if not triples:
            return 0
        result = self.connection.execute(
            text(
                f"""
                UPDATE documents d SET
                    ready_version = d.ready_version + 1, ready_at = now(),
                    -- a user's pending recreate keeps its lane; everything else is a backfill
                    priority = CASE WHEN {PENDING} THEN d.priority ELSE 0 END,
                    attempts = 0, last_error = NULL, lease_until = NULL
                 WHERE d.org_id = {ORG} AND EXISTS (
                    SELECT 1
                      FROM unnest(CAST(:types AS text[]), CAST(:components AS text[]),
                                  CAST(:groups AS text[])) AS u(t, c, g),
                           jsonb_array_elements(
                               d.facts->'components'
                               || coalesce(jsonb_path_query_array(
                                      d.facts, '$.schedule[*][1][*]'), '[]'::jsonb)
                           ) AS part
                     WHERE u.t = d.type AND part->>0 = u.c AND part->>1 = u.g)
                """
            ),
            {"org_id": org_id, **_as_arrays(triples)},
        )
        return int(result.rowcount)

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


def _as_arrays(triples: list[Triple]) -> dict[str, list[str]]:
    """Triples as the ``:types``, ``:components`` and ``:groups`` arrays of an ``unnest``."""
    return {
        "types": [t for t, _, _ in triples],
        "components": [c for _, c, _ in triples],
        "groups": [g for _, _, g in triples],
    }
