"""Use cases of organizations: create one with its chart of accounts, read it."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from accounting.domain import money
from accounting.store.organizations import OrganizationRow
from accounting.store.uow import UnitOfWork


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
