"""Use cases of the queue as operators see it: status, the queue view, dead letters, pause and
schedule, and the policy behind the suggested worker count. The read queries used only by the
tools (bench, chaos) are at the end."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from accounting.domain.events import WorkArrived
from accounting.domain.jobs import JobProgress, estimated_seconds
from accounting.domain.lanes import Lane
from accounting.errors import InvalidSetting
from accounting.store.leases import LEADER_LEASE
from accounting.store.queue import DeadDocument
from accounting.store.uow import UnitOfWork


def set_paused(uow: UnitOfWork, org_id: str, paused: bool) -> None:
    """Pause or resume an organization: while paused nothing of it is dispatched or posted
    inline; its documents keep their place and nothing is dropped."""
    with uow:
        uow.organizations.get_or_raise(org_id)
        uow.queue.set_schedule(org_id, paused=paused)
        if not paused:
            uow.record(WorkArrived())
        uow.commit()


#: Limits ``set_schedule`` can remove (an organization always has a weight).
CLEARABLE_LIMITS = ("max_in_flight", "rate_per_second")


#: organizations.weight and max_in_flight are Postgres integers.
MAX_SCHEDULE_INTEGER = 2**31 - 1


#: organizations.rate_per_second is NUMERIC(12, 3).
MAX_RATE_PER_SECOND = Decimal("999999999.999")


def set_schedule(
    uow: UnitOfWork,
    org_id: str,
    *,
    weight: int | None = None,
    max_in_flight: int | None = None,
    rate_per_second: Decimal | None = None,
    clear: Sequence[str] = (),
) -> None:
    """Change an organization's share of the normal lane, its in-flight cap or its rate limit
    (``clear`` names the limits to remove: ``max_in_flight`` or ``rate_per_second``)."""
    unknown = [name for name in clear if name not in CLEARABLE_LIMITS]
    if unknown:
        raise InvalidSetting(
            f"clear: {unknown[0][:40]!r} is not a limit; expected one of "
            f"{', '.join(CLEARABLE_LIMITS)}"
        )
    values: dict[str, Any] = {name: None for name in clear}
    for name, value in (("weight", weight), ("max_in_flight", max_in_flight)):
        if value is not None:
            if not 0 < value <= MAX_SCHEDULE_INTEGER:
                raise InvalidSetting(f"{name}: must be 1 to {MAX_SCHEDULE_INTEGER}, got {value}")
            values[name] = value
    if rate_per_second is not None:
        values["rate_per_second"] = _rate_per_second(rate_per_second)
    with uow:
        uow.organizations.get_or_raise(org_id)
        uow.queue.set_schedule(org_id, **values)
        uow.record(WorkArrived())  # a lifted limit lets more through now
        uow.commit()


def _rate_per_second(rate: Decimal) -> Decimal:
    # Checked here: NaN compares with an exception, and a rate finer than the column's three
    # places would be stored as zero.
    if not rate.is_finite() or not 0 < rate <= MAX_RATE_PER_SECOND:
        raise InvalidSetting(
            f"rate_per_second: must be above 0 and at most {MAX_RATE_PER_SECOND}, got {rate}"
        )
    if rate != rate.quantize(Decimal("0.001"), rounding=ROUND_DOWN):
        raise InvalidSetting(f"rate_per_second: at most 3 decimal places, got {rate}")
    return rate


def dead_documents(uow: UnitOfWork, org_id: str | None, limit: int = 100) -> list[DeadDocument]:
    with uow:
        if org_id is not None:
            uow.organizations.get_or_raise(org_id)
        return uow.queue.dead_documents(org_id, limit)


def retry_dead(uow: UnitOfWork, org_id: str, document_ids: Sequence[str] | None) -> int:
    """Make dead documents pending again (the given ones, or all of the organization's)."""
    with uow:
        uow.organizations.get_or_raise(org_id)
        revived = uow.queue.revive(org_id, document_ids)
        if revived:
            uow.record(WorkArrived())
        uow.commit()
    return revived


def abandon_pending(uow: UnitOfWork, org_id: str, reason: str) -> int:
    """Give up on every pending document of an organization (they become dead with
    ``reason`` and can be retried with ``accounting dead retry``)."""
    with uow:
        uow.organizations.get_or_raise(org_id)
        abandoned = uow.queue.abandon_pending(org_id, reason)
        uow.commit()
        uow.queue.vacuum_queue()
    return abandoned


def status(uow: UnitOfWork, org_id: str | None = None) -> dict[str, int]:
    with uow:
        if org_id is not None:
            uow.organizations.get_or_raise(org_id)
        return uow.queue.status_counts(org_id)


def oldest_pending_age_seconds(uow: UnitOfWork, org_id: str | None = None) -> dict[Lane, float]:
    with uow:
        return uow.queue.oldest_pending_age_seconds(org_id)


def pending_count(uow: UnitOfWork, org_ids: Sequence[str]) -> int:
    with uow:
        return uow.queue.pending_count(org_ids)


def posted_since(uow: UnitOfWork, org_id: str, since: dt.datetime) -> int:
    with uow:
        return uow.queue.posted_since(org_id, since)


def database_now(uow: UnitOfWork) -> dt.datetime:
    with uow:
        return uow.documents.database_now()


def dispatcher_leader(uow: UnitOfWork) -> str | None:
    """The worker whose dispatcher leads now, if any."""
    with uow:
        return uow.leases.leader(LEADER_LEASE)


# -- what operators and users see -------------------------------------------------------------


@dataclass(frozen=True)
class LaneFigures:
    pending: int
    #: How long its oldest waiting document has waited (0 when none waits).
    oldest_pending_seconds: float


@dataclass(frozen=True)
class OpenJob:
    progress: JobProgress
    #: Documents of its lane due before it and still waiting.
    ahead: int
    eta_seconds: float | None


@dataclass(frozen=True)
class QueueView:
    """One organization's queue, read in one snapshot."""

    org_id: str
    paused: bool
    lanes: dict[Lane, LaneFigures]
    in_flight: int
    dead: int
    posted: int
    jobs: list[OpenJob]


def queue_view(
    uow: UnitOfWork, org_id: str, rates: Mapping[Lane, float | None], job_limit: int = 20
) -> QueueView:
    """Pending and the oldest waiting per lane, in flight, dead, posted, and each unfinished
    job with its place and an estimate at the lane's recent rate (``rates``, documents per
    second; None when unknown: the estimate is then None too)."""
    with uow:
        uow.use_snapshot()
        organization = uow.organizations.get_or_raise(org_id)
        counts = uow.queue.status_counts(org_id)
        oldest = uow.queue.oldest_pending_age_seconds(org_id)
        open_jobs = [
            (job, uow.jobs.documents_ahead(job.job_id) or 0)
            for job in uow.jobs.open_jobs(org_id, job_limit)
        ]
    return QueueView(
        org_id=org_id,
        paused=organization.paused,
        lanes={
            lane: LaneFigures(counts[f"pending_{lane}"], oldest.get(lane, 0.0)) for lane in Lane
        },
        in_flight=counts["in_flight"],
        dead=counts["dead"],
        posted=counts["posted"],
        jobs=[
            OpenJob(job, ahead, _eta(ahead, job, rates.get(Lane(job.lane))))
            for job, ahead in open_jobs
        ],
    )


def _eta(ahead: int, job: JobProgress, rate: float | None) -> float | None:
    return None if rate is None else estimated_seconds(ahead, job.pending, rate)


@dataclass(frozen=True)
class QueueFigures:
    """The whole queue at one moment, for the metrics."""

    pending: dict[Lane, int]
    oldest_pending_seconds: dict[Lane, float]
    in_flight: int
    dead: int
    #: Estimated cost in flight per lane (against each lane's window).
    in_flight_cost: dict[Lane, int]
    #: Messages accepted but not applied, kept whole for an operator.
    dead_intake: int


def queue_figures(uow: UnitOfWork) -> QueueFigures:
    with uow:
        uow.use_snapshot()
        counts = uow.queue.lane_counts()
        oldest = uow.queue.oldest_pending_age_seconds()
        in_flight = uow.leases.in_flight()
        dead_intake = uow.intake.count()
    return QueueFigures(
        pending={lane: counts[f"pending_{lane}"] for lane in Lane},
        oldest_pending_seconds={lane: oldest.get(lane, 0.0) for lane in Lane},
        in_flight=counts["in_flight"],
        dead=counts["dead"],
        in_flight_cost={
            lane: sum(cost for (_, in_lane), (_, cost) in in_flight.items() if in_lane is lane)
            for lane in Lane
        },
        dead_intake=dead_intake,
    )


#: How soon each lane's backlog should be drained, for the suggested worker count.
DRAIN_SECONDS = {Lane.HIGH: 5.0, Lane.NORMAL: 300.0}


def suggested_workers(lane: Lane, backlog: int, documents_per_worker: float) -> int:
    """Worker processes that would drain ``backlog`` in the lane's target time (at least one:
    a lane is never left without a worker)."""
    return max(1, math.ceil(backlog / (documents_per_worker * DRAIN_SECONDS[lane])))
