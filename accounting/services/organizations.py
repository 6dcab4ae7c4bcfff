"""Use cases of organizations: create one with its chart of accounts, import a chart, list
and read them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from accounting.domain import money
from accounting.domain.chart import AccountSpec
from accounting.errors import InvalidChart, InvalidOrganization
from accounting.store.organizations import OrganizationRow, OrganizationSummary
from accounting.store.uow import UnitOfWork
from accounting_impact_client.limits import MAX_DESCRIPTION_LENGTH, MAX_ID_LENGTH
from accounting_impact_client.values import storable

#: What an organization id may be: it appears in URLs, file names and Redis keys.
ORG_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class ChartImport:
    """What importing a chart did: new accounts, accounts renamed, accounts already so."""

    added: tuple[str, ...]
    renamed: tuple[str, ...]
    unchanged: tuple[str, ...]


def onboard_organization(
    uow: UnitOfWork,
    org_id: str,
    name: str,
    functional_currency: str,
    accounts: Sequence[AccountSpec] = (),
) -> None:
    """Create an organization as an operator asks for one (the CLI, the admin API): its id
    checked (letters, digits, ``.``, ``_``, ``-``; not taken), its name and currency too, with
    an optional chart. :class:`InvalidOrganization` names what is wrong; nothing is written."""
    if not ORG_ID.fullmatch(org_id) or len(org_id) > MAX_ID_LENGTH:
        raise InvalidOrganization(
            f"org: {org_id!r} is not an organization id (1 to {MAX_ID_LENGTH} letters, digits, "
            "'.', '_' or '-', starting with a letter or digit)"
        )
    if not name.strip() or len(name) > MAX_DESCRIPTION_LENGTH or not storable(name):
        raise InvalidOrganization(f"name: 1 to {MAX_DESCRIPTION_LENGTH} characters of text")
    with uow:
        if uow.organizations.exists(org_id):
            raise InvalidOrganization(f"org: organization {org_id!r} exists already")
    create_organization(
        uow, org_id, name.strip(), functional_currency, [a.as_tuple() for a in accounts]
    )


def import_chart(uow: UnitOfWork, org_id: str, accounts: Sequence[AccountSpec]) -> ChartImport:
    """Add the accounts the chart does not have and rename those whose name changed, in one
    transaction. An account whose kind would change is refused (its balances would change
    sides): :class:`InvalidChart` names each one and nothing is written."""
    with uow:
        uow.organizations.get_or_raise(org_id)
        chart = uow.matrices.chart(org_id)
        conflicts = [
            f"code {a.code!r}: kind is {chart[a.code][1]!r}, the file says {a.kind!r} (an "
            "account's kind cannot change)"
            for a in accounts
            if a.code in chart and chart[a.code][1] != a.kind
        ]
        if conflicts:
            raise InvalidChart("; ".join(conflicts))
        added = [a for a in accounts if a.code not in chart]
        renamed = [a for a in accounts if a.code in chart and chart[a.code][0] != a.name]
        uow.matrices.add_accounts(org_id, [a.as_tuple() for a in added])
        for account in renamed:
            uow.matrices.rename_account(org_id, account.code, account.name)
        uow.commit()
    changed = {a.code for a in added} | {a.code for a in renamed}
    return ChartImport(
        added=tuple(a.code for a in added),
        renamed=tuple(a.code for a in renamed),
        unchanged=tuple(a.code for a in accounts if a.code not in changed),
    )


def list_organizations(uow: UnitOfWork) -> list[OrganizationSummary]:
    """Every organization, by id."""
    with uow:
        return uow.organizations.summaries()


def create_organization(
    uow: UnitOfWork,
    org_id: str,
    name: str,
    functional_currency: str,
    accounts: Sequence[tuple[str, str, str]],
    *,
    rounding_account: str | None = None,
    rounding_tolerance: Decimal | None = None,
) -> None:
    """Create an organization with its chart of accounts and, optionally, the account that
    takes foreign-currency rounding differences (up to ``rounding_tolerance``, by default
    :data:`DEFAULT_ROUNDING_UNITS` minor units of the functional currency)."""
    money.exponent(functional_currency)  # raises UnknownCurrency
    with uow:
        uow.organizations.add(org_id, name, functional_currency)
        uow.matrices.add_accounts(org_id, accounts)
        if rounding_account is not None:
            tolerance = rounding_tolerance
            if tolerance is None:
                tolerance = default_rounding_tolerance(functional_currency)
            uow.books.set_rounding(
                org_id, rounding_account=rounding_account, rounding_tolerance=tolerance
            )
        uow.commit()


#: Per-line conversion leaves at most half a minor unit per line; more than this many minor
#: units in one entry means a wrong rate or rule, not rounding.
DEFAULT_ROUNDING_UNITS = 5


def default_rounding_tolerance(functional_currency: str) -> Decimal:
    return DEFAULT_ROUNDING_UNITS * money.minor_unit(functional_currency)


def organization(uow: UnitOfWork, org_id: str) -> OrganizationRow:
    """The organization, or UnknownOrganization."""
    with uow:
        return uow.organizations.get_or_raise(org_id)
