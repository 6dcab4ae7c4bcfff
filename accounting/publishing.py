"""Use cases of the posting matrix: drafts, publishing, preview."""

from __future__ import annotations

from accounting.matrix import PostingMatrix
from accounting.services import get_organization
from accounting.uow import UnitOfWork


def publish_matrix(uow: UnitOfWork, org_id: str, matrix: PostingMatrix) -> int:
    """Store ``matrix`` as the organization's next version and make it current."""
    with uow:
        get_organization(uow.repo, org_id)
        version = uow.matrices.add_published_matrix(org_id, matrix)
        uow.commit()
    return version
