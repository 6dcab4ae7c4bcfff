"""SQL of organizations: the row posting and scheduling read, and a new organization."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, func, insert, select

from accounting.errors import UnknownOrganization
from accounting.store.models import Account, Document, Organization
from accounting.store.models import PostingMatrix as PostingMatrixRow
from accounting_impact_client.values import storable


@dataclass(frozen=True)
class OrganizationRow:
    id: str
    functional_currency: str
    matrix_version: int | None
    paused: bool
    rounding_account: str | None
    rounding_tolerance: Decimal
    #: When the current matrix version was published: with the version, the cache key (a
    #: database rebuilt from scratch numbers versions from 1 again; it cannot repeat this).
    matrix_published_at: dt.datetime | None


@dataclass(frozen=True)
class OrganizationSummary:
    """One line of ``accounting org list``."""

    id: str
    name: str
    functional_currency: str
    matrix_version: int | None
    accounts: int
    documents: int
    created_at: dt.datetime


class OrganizationRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def get(self, org_id: str) -> OrganizationRow | None:
        row = self.connection.execute(
            select(
                Organization.id,
                Organization.functional_currency,
                Organization.matrix_version,
                Organization.paused,
                Organization.rounding_account,
                Organization.rounding_tolerance,
                PostingMatrixRow.published_at,
            )
            .outerjoin(
                PostingMatrixRow,
                (PostingMatrixRow.org_id == Organization.id)
                & (PostingMatrixRow.version == Organization.matrix_version),
            )
            .where(Organization.id == org_id)
        ).one_or_none()
        return OrganizationRow(*row) if row else None

    def get_or_raise(self, org_id: str) -> OrganizationRow:
        """The organization, or :class:`UnknownOrganization`. An id Postgres cannot even hold
        (a NUL, an unpaired surrogate) names no organization."""
        organization = self.get(org_id) if storable(org_id) else None
        if organization is None:
            raise UnknownOrganization(f"unknown organization {org_id!r}")
        return organization

    def exists(self, org_id: str) -> bool:
        return (
            self.connection.execute(
                select(Organization.id).where(Organization.id == org_id)
            ).first()
            is not None
        )

    def summaries(self) -> list[OrganizationSummary]:
        """Every organization, by id, with the size of its chart and how many documents."""
        accounts = select(func.count()).where(Account.org_id == Organization.id).scalar_subquery()
        documents = select(func.count()).where(Document.org_id == Organization.id).scalar_subquery()
        rows = self.connection.execute(
            select(
                Organization.id,
                Organization.name,
                Organization.functional_currency,
                Organization.matrix_version,
                accounts,
                documents,
                Organization.created_at,
            ).order_by(Organization.id)
        ).all()
        return [OrganizationSummary(*row) for row in rows]

    def add(self, org_id: str, name: str, functional_currency: str) -> None:
        self.connection.execute(
            insert(Organization).values(
                id=org_id, name=name, functional_currency=functional_currency
            )
        )
