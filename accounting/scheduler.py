"""The dispatcher: leases pending documents from Postgres and hands them out in batches.

Postgres holds the backlog; only a bounded window of batches is ever published, so Redis holds
that window and never the backlog. One dispatcher leads (a lease row renewed every loop); the
others stand by and take over when the leader's lease runs out.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby

from sqlalchemy import Engine

from accounting.config import Settings
from accounting.errors import TransientError
from accounting.repository import HIGH, NORMAL, Claim
from accounting.uow import UnitOfWork
from accounting.wakeup import Wakeup

log = logging.getLogger(__name__)

LEADER_LEASE = "dispatcher"


@dataclass(frozen=True)
class Batch:
    """Document versions of one organization, to be posted together on one lane."""

    org_id: str
    high: bool
    versions: dict[str, int]


Publish = Callable[[Batch], None]


def batches(claims: list[Claim], size: int) -> list[Batch]:
    """Cut claims into batches of one organization and lane, at most ``size`` documents each,
    keeping the claim order between batches."""
    result = []
    ordered = sorted(claims, key=lambda c: (-c.priority, c.org_id))
    for (org_id, priority), group in groupby(ordered, key=lambda c: (c.org_id, c.priority)):
        members = list(group)
        for start in range(0, len(members), size):
            chunk = members[start : start + size]
            result.append(
                Batch(org_id, priority == HIGH, {c.document_id: c.version for c in chunk})
            )
    return result


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        publish: Publish,
        wakeup: Wakeup,
        settings: Settings,
        holder: str | None = None,
    ) -> None:
        self._engine = engine
        self._publish = publish
        self._wakeup = wakeup
        self._settings = settings
        self.holder = holder or f"dispatcher-{uuid.uuid4().hex[:12]}"

    @property
    def _leader_ttl(self) -> float:
        return max(5.0, self._settings.dispatch_poll_seconds * 5)

    def run_once(self) -> int:
        """One round: lead or stand by; if leading, fill the window. Returns batches published."""
        with UnitOfWork(self._engine) as uow:
            leading = uow.repo.acquire_leadership(LEADER_LEASE, self.holder, self._leader_ttl)
            if not leading:
                return 0
            uow.repo.bury_exhausted(self._settings.max_attempts)
            room = self._window_documents - uow.repo.count_in_flight()
            lease = self._settings.lease_seconds
            claims = uow.repo.claim_pending(HIGH, room, lease)
            claims += uow.repo.claim_pending(NORMAL, room - len(claims), lease)
            uow.commit()
        # Published after commit: a lost publish only delays the documents until their
        # lease runs out, while publishing before commit could post unclaimed work.
        work = batches(claims, self._settings.batch_size)
        for batch in work:
            self._publish(batch)
        return len(work)

    @property
    def _window_documents(self) -> int:
        return self._settings.window_batches * self._settings.batch_size

    def run_forever(self, stop: threading.Event) -> None:
        log.info("dispatcher %s started", self.holder)
        while not stop.is_set():
            try:
                published = self.run_once()
            except TransientError as exc:
                log.warning("dispatcher round failed, retrying: %s", exc)
                published = 0
                stop.wait(self._settings.dispatch_poll_seconds)
            except Exception:
                log.exception("dispatcher round failed")
                published = 0
                stop.wait(self._settings.dispatch_poll_seconds)
            if not published:
                self._wakeup.wait(self._settings.dispatch_poll_seconds)
        log.info("dispatcher %s stopped", self.holder)
