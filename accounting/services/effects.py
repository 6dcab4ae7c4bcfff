"""What committed transactions set in motion outside Postgres: the composition root hands
every unit of work's committed events to :class:`Effects`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial

from accounting.domain.events import (
    Event,
    JobAccepted,
    JobCancelled,
    JobQueued,
    JobsMoved,
    WorkArrived,
)
from accounting.services.jobs import JobAnnouncer

log = logging.getLogger(__name__)


class Effects:
    """Wakes the dispatcher when work arrived (once per commit, however many events say so),
    then tells each job's followers what moved. The transaction has committed already: a
    failure here is logged, never raised (the dispatcher also polls, and a job's progress is
    published again by the next commit that moves it)."""

    def __init__(self, wake_dispatcher: Callable[[], None], jobs: JobAnnouncer) -> None:
        self._wake_dispatcher = wake_dispatcher
        self._jobs = jobs

    def __call__(self, events: Sequence[Event]) -> None:
        if any(isinstance(event, WorkArrived) for event in events):
            self._safely(self._wake_dispatcher)
        for event in events:
            self._safely(partial(self._announce, event))

    def _announce(self, event: Event) -> None:
        if isinstance(event, JobAccepted):
            self._jobs.accepted(event)
        elif isinstance(event, JobQueued):
            self._jobs.queued(event.job_id)
        elif isinstance(event, JobsMoved):
            self._jobs.moved(event.failures)
        elif isinstance(event, JobCancelled):
            self._jobs.cancelled(event)

    @staticmethod
    def _safely(effect: Callable[[], None]) -> None:
        try:
            effect()
        except Exception as exc:
            log.warning("after commit: %s", exc)
