"""Batches: the claimed document versions the dispatcher hands to one ``post_batch`` task."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from accounting.domain.lanes import Lane


@dataclass(frozen=True)
class Claim:
    """A document version the dispatcher leased to a batch."""

    org_id: str
    document_id: str
    version: int
    lane: Lane
    cost: int
    #: Failed postings of this version so far.
    attempts: int


@dataclass(frozen=True)
class Batch:
    """Document versions of one organization, to be posted together on one lane. Its id is the
    id of the message that carries it."""

    org_id: str
    lane: Lane
    versions: dict[str, int]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


#: How a batch reaches the workers (a Celery message, in production).
Publish = Callable[[Batch], None]


def batches(claims: list[Claim], max_documents: int, max_cost: int) -> list[Batch]:
    """Cut claims into batches of one organization and lane, within ``max_documents`` and
    ``max_cost``, in claim order. A document whose posting failed before goes alone, so a
    poison document cannot take its neighbours down with it again. The high lane's batches
    come first."""
    result: list[Batch] = []
    open_batches: dict[tuple[str, Lane], tuple[dict[str, int], int]] = {}
    for claim in claims:
        if claim.attempts > 0:
            result.append(Batch(claim.org_id, claim.lane, {claim.document_id: claim.version}))
            continue
        key = (claim.org_id, claim.lane)
        versions, cost = open_batches.get(key, ({}, 0))
        if versions and (len(versions) >= max_documents or cost + claim.cost > max_cost):
            result.append(Batch(claim.org_id, claim.lane, versions))
            versions, cost = {}, 0
        versions[claim.document_id] = claim.version
        open_batches[key] = (versions, cost + claim.cost)
    for (org_id, lane), (versions, _) in open_batches.items():
        result.append(Batch(org_id, lane, versions))
    result.sort(key=lambda b: b.lane is not Lane.HIGH)
    return result
