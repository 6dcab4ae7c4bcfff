"""The fast path: a user's small recreate is posted inline by the high pool, ahead of every
batch; a larger one, one of a paused organization, and one the fast path cannot finish are
queued on the high lane for the dispatcher.

What keeps the dispatcher away from documents being posted inline is their hold: their new
versions are made due with a lease of ``fast_path_hold_seconds``, which no dispatcher claims.
If the high worker dies mid-way, the lease runs out and the dispatcher takes them then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from accounting.config import Settings
from accounting.domain.lanes import Lane
from accounting.errors import TransientError
from accounting.services.documents import release_documents
from accounting.services.posting import PostResult, post_documents
from accounting.services.recreate import RecreateResult, request_recreate
from accounting.store.uow import UnitOfWork
from accounting.volatile.matrix_cache import MatrixCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecreateOutcome:
    requested: RecreateResult
    #: The inline posting, when the fast path ran.
    inline: PostResult | None = None

    @property
    def posted(self) -> list[str]:
        return self.inline.posted if self.inline else []

    @property
    def failed(self) -> dict[str, str]:
        return self.inline.failed if self.inline else {}

    def as_dict(self) -> dict[str, Any]:
        requested = len(self.requested.versions)
        return {
            "paused": self.requested.paused,
            "requested": requested,
            "posted": self.posted,
            "failed": self.failed,
            "queued": requested - len(self.posted) - len(self.failed),
            "rejected": [rejection.as_dict() for rejection in self.requested.rejected],
        }


class FastPath:
    """Recreates for one process: its units of work, settings and matrix cache."""

    def __init__(
        self, units: Callable[[], UnitOfWork], settings: Settings, matrices: MatrixCache | None
    ) -> None:
        self._units = units
        self._settings = settings
        self._matrices = matrices

    def recreate(
        self,
        org_id: str,
        document_ids: Sequence[str],
        *,
        job_id: str | None = None,
        requested_by: str | None = None,
    ) -> RecreateOutcome:
        """Recreate the documents' entries: inline when there are few enough of them, else
        (and whenever the inline posting cannot go on) queued on the high lane."""
        settings, units = self._settings, self._units
        fast = 0 < len(set(document_ids)) <= settings.fast_path_max_documents
        requested = request_recreate(
            units(),
            org_id,
            document_ids,
            hold_seconds=settings.fast_path_hold_seconds if fast else None,
            lane=Lane.NORMAL if settings.scheduling == "fifo" else Lane.HIGH,  # FIFO: one queue
            job_id=job_id,
            requested_by=requested_by,
        )
        if not fast or not requested.versions:
            return RecreateOutcome(requested)
        if requested.paused:  # queued until the organization resumes
            _hand_back(units, org_id, requested, job_id)
            return RecreateOutcome(requested)
        try:
            inline = post_documents(units(), org_id, requested.versions, matrices=self._matrices)
        except Exception as exc:
            log.warning("fast path of job %s fell back to the queue: %s", job_id, exc)
            _hand_back(units, org_id, requested, job_id)
            return RecreateOutcome(requested)
        return RecreateOutcome(requested, inline)


def _hand_back(
    units: Callable[[], UnitOfWork], org_id: str, requested: RecreateResult, job_id: str | None
) -> None:
    # If this fails too, their hold expires on its own and the dispatcher takes them then.
    with suppress(TransientError):
        release_documents(units(), org_id, list(requested.versions), job_id=job_id)
