"""Use cases of the posting matrix: drafts, publishing with a completeness check, versions,
the accounts rules may name."""

from __future__ import annotations

from dataclasses import dataclass

from accounting.domain.matrix import PostingMatrix, changed_triples, gaps, rule_problems
from accounting.errors import IncompleteMatrix, InvalidMatrix, InvalidSetting, NoDraftMatrix
from accounting.store.matrices import MatrixVersion
from accounting.store.uow import UnitOfWork


@dataclass(frozen=True)
class PublishResult:
    version: int
    #: Documents given a new version because their rules changed (``recreate=True``).
    recreated: int = 0


def save_matrix_draft(uow: UnitOfWork, org_id: str, matrix: PostingMatrix) -> int:
    """Store ``matrix`` as the organization's draft (replacing the draft there is); returns
    its version. A rule for an unknown type or component, or naming an account not in the
    chart, is refused with every such problem listed."""
    with uow:
        version = _save_draft(uow, org_id, matrix)
        uow.commit()
    return version


def publish_draft(uow: UnitOfWork, org_id: str, *, recreate: bool = False) -> PublishResult:
    """Make the draft the current version, unless it leaves gaps: every (document type,
    component, group) the organization's documents use must resolve, and every rule must name
    active accounts; otherwise nothing changes and :class:`IncompleteMatrix` lists them all.
    With ``recreate``, documents whose rules changed get a new version on the normal lane."""
    with uow:
        result = _publish_draft(uow, org_id, recreate)
        uow.commit()
    return result


def publish_matrix(
    uow: UnitOfWork, org_id: str, matrix: PostingMatrix, *, recreate: bool = False
) -> int:
    """Draft and publish ``matrix`` in one go (one transaction); returns its version."""
    with uow:
        _save_draft(uow, org_id, matrix)
        result = _publish_draft(uow, org_id, recreate)
        uow.commit()
    return result.version


def matrix_versions(uow: UnitOfWork, org_id: str) -> tuple[list[MatrixVersion], int | None]:
    """Every version, oldest first, and the current one."""
    with uow:
        organization = uow.organizations.get_or_raise(org_id)
        return uow.matrices.versions(org_id), organization.matrix_version


def load_matrix_version(
    uow: UnitOfWork, org_id: str, version: int | None = None, *, draft: bool = False
) -> PostingMatrix:
    """A given version, the draft, or (by default) the current one."""
    with uow:
        organization = uow.organizations.get_or_raise(org_id)
        if draft:
            version = _draft_version(uow, org_id)
        elif version is None:
            version = organization.matrix_version
        known = {v.version for v in uow.matrices.versions(org_id)}
        if version is None or version not in known:
            raise InvalidSetting(f"organization {org_id!r} has no matrix version {version}")
        return uow.matrices.load_matrix(org_id, version)


def set_account_active(uow: UnitOfWork, org_id: str, code: str, active: bool) -> None:
    """Activate or deactivate an account. An account the current matrix posts to, or the
    rounding account, cannot be deactivated: publish a matrix without it first."""
    with uow:
        organization = uow.organizations.get_or_raise(org_id)
        if not active:
            if code == organization.rounding_account:
                raise InvalidSetting(f"account {code!r} is {org_id!r}'s rounding account")
            if organization.matrix_version is not None:
                current = uow.matrices.load_matrix(org_id, organization.matrix_version)
                if any(code in (r.debit, r.credit) for r in current.rules.values()):
                    raise InvalidSetting(
                        f"account {code!r} is used by matrix version "
                        f"{organization.matrix_version}: publish a matrix without it first"
                    )
        if not uow.matrices.set_account_active(org_id, code, active):
            raise InvalidSetting(f"no account {code!r} in organization {org_id!r}")
        uow.commit()


def set_account_clearing(uow: UnitOfWork, org_id: str, code: str, clearing: bool) -> None:
    """Mark an account as clearing (money in transit, to be back at zero at the end of every
    closed period; the audit checks it), or not."""
    with uow:
        uow.organizations.get_or_raise(org_id)
        if not uow.matrices.set_account_clearing(org_id, code, clearing):
            raise InvalidSetting(f"no account {code!r} in organization {org_id!r}")
        uow.commit()


def _save_draft(uow: UnitOfWork, org_id: str, matrix: PostingMatrix) -> int:
    uow.organizations.get_or_raise(org_id)
    problems = rule_problems(matrix, uow.matrices.accounts(org_id))
    if problems:
        raise InvalidMatrix("; ".join(problems))
    if not matrix.rules:
        raise InvalidMatrix("a matrix needs at least one rule")
    return uow.matrices.save_draft(org_id, matrix)


def _publish_draft(uow: UnitOfWork, org_id: str, recreate: bool) -> PublishResult:
    organization = uow.organizations.get_or_raise(org_id)
    version = _draft_version(uow, org_id)
    draft = uow.matrices.load_matrix(org_id, version)
    used = uow.matrices.used_components(org_id)
    found = gaps(draft, used, uow.matrices.accounts(org_id))
    if found:
        raise IncompleteMatrix(found)
    previous = (
        uow.matrices.load_matrix(org_id, organization.matrix_version)
        if organization.matrix_version is not None
        else None
    )
    uow.matrices.publish(org_id, version)
    recreated = 0
    if recreate:
        changed = changed_triples(previous, draft, used)
        recreated = uow.matrices.recreate_documents_using(org_id, changed)
    return PublishResult(version, recreated)


def _draft_version(uow: UnitOfWork, org_id: str) -> int:
    version = uow.matrices.draft_version(org_id)
    if version is None:
        raise NoDraftMatrix(f"organization {org_id!r} has no draft matrix")
    return version
