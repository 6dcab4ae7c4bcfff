"""The dispatcher: leases pending documents from Postgres and hands them out in batches; what
it posts next is decided here.

Postgres holds the backlog; each lane keeps only a bounded window of batches in flight, so
Redis holds those windows and never the backlog. One dispatcher leads (a lease row renewed
every round, which works through PgBouncer's transaction pooling where session advisory locks
do not); the others stand by and take over when the leader's lease runs out.

Each round, the high lane is served first, then the normal lane. Within a lane, organizations
share its window by weighted deficit round robin on estimated cost
(:mod:`accounting.domain.fairness`), each within its pause, its in-flight cap and its rate
limit, so one tenant flooding a lane cannot starve another. A batch still waiting in the
broker keeps its documents leased (:mod:`accounting.volatile.outstanding`): a pool that is
down or behind never makes the dispatcher publish the same documents again.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable

from accounting.config import Settings
from accounting.domain.batching import Claim, Publish, batches
from accounting.domain.events import JobsMoved
from accounting.domain.fairness import Budget, DeficitRoundRobin, OrgDemand
from accounting.domain.lanes import Lane
from accounting.errors import TransientError
from accounting.services.jobs import settled_jobs
from accounting.store.leases import LEADER_LEASE
from accounting.store.queue import OrgSchedule
from accounting.store.uow import UnitOfWork
from accounting.volatile.outstanding import OutstandingBatches
from accounting.volatile.ratelimit import RateLimiter
from accounting.volatile.wakeup import Wakeup

log = logging.getLogger(__name__)

#: Messages waiting in a lane's broker queue (the dispatcher's own and any other).
Backlog = Callable[[Lane], int]
InFlight = dict[tuple[str, Lane], tuple[int, int]]
#: The consumer slots workers announce for a lane (accounting.volatile.capacity).
Slots = Callable[[Lane], int]


class Dispatcher:
    def __init__(
        self,
        units: Callable[[], UnitOfWork],
        publish: Publish,
        wakeup: Wakeup,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
        holder: str | None = None,
        outstanding: OutstandingBatches | None = None,
        broker_backlog: Backlog | None = None,
        slots: Slots | None = None,
    ) -> None:
        self._units = units
        self._slots = slots
        self._slots_now: dict[Lane, int] = {}
        self._publish = publish
        self._wakeup = wakeup
        self._settings = settings
        self._rate_limiter = rate_limiter
        self._outstanding = outstanding
        self._broker_backlog = broker_backlog
        self._fair = {
            Lane.HIGH: DeficitRoundRobin(quantum=max(1, settings.high_batch_cost // 2)),
            Lane.NORMAL: DeficitRoundRobin(quantum=max(1, settings.batch_cost // 2)),
        }
        self.holder = holder or f"dispatcher-{uuid.uuid4().hex[:12]}"

    @property
    def _leader_ttl(self) -> float:
        return max(5.0, self._settings.dispatch_poll_seconds * 5)

    @property
    def _lease(self) -> float:
        return float(self._settings.lease_seconds)

    def window_cost(self, lane: Lane) -> int:
        return window_cost(self._settings, lane, self._slots_now.get(lane, 0))

    def _read_slots(self) -> dict[Lane, int]:
        """The consumer slots announced per lane; none when they cannot be read (the window
        falls back to its floor: slower, never unbounded)."""
        if self._slots is None:
            return {}
        try:
            return {lane: self._slots(lane) for lane in Lane}
        except Exception as exc:
            log.warning("worker slots unavailable, the window keeps its floor: %s", exc)
            return {}

    def batch_cost(self, lane: Lane) -> int:
        settings = self._settings
        return settings.high_batch_cost if lane is Lane.HIGH else settings.batch_cost

    def run_once(self) -> int:
        """One round: lead or stand by; if leading, fill each lane's window. Returns the
        batches published."""
        with self._units() as uow:
            if not uow.leases.acquire_leadership(LEADER_LEASE, self.holder, self._leader_ttl):
                return 0
            self._slots_now = self._read_slots()
            self._bury_exhausted(uow)
            self._keep_waiting_batches_leased(uow)
            in_flight = uow.leases.in_flight()
            paused = list(uow.queue.schedules())
            claims = {lane: self._claim(uow, lane, in_flight, paused) for lane in Lane}
            uow.commit()
        # Published after commit: a lost publish only delays the documents until their lease
        # runs out, while publishing before commit could post work nobody claimed.
        work = [
            batch
            for lane in Lane
            for batch in batches(claims[lane], self._settings.batch_size, self.batch_cost(lane))
        ]
        for batch in work:
            self._publish(batch)
            if self._outstanding is not None:
                self._outstanding.published(batch)
        return len(work)

    def _bury_exhausted(self, uow: UnitOfWork) -> None:
        """Give up on versions that failed too often, and tell the jobs waiting for them."""
        buried = uow.leases.bury_exhausted(self._settings.max_attempts)
        if buried:
            uow.record(JobsMoved(settled_jobs(uow, buried)))

    def _keep_waiting_batches_leased(self, uow: UnitOfWork) -> None:
        """Batches still in the broker when their lease is half gone keep their documents
        leased; batches no longer in it (consumed, or lost with Redis) are forgotten, and their
        leases run out as they should."""
        if self._outstanding is None or self._broker_backlog is None:
            return
        before = time.time() - self._lease / 2
        for lane in Lane:
            waiting = self._outstanding.waiting_since(lane, before)
            if not waiting:
                continue
            if not self._broker_backlog(lane):
                self._outstanding.forget(lane, [w.batch_id for w in waiting])
                continue
            for batch in waiting:
                uow.leases.extend(batch.org_id, batch.document_ids, self._lease)
            self._outstanding.still_waiting(lane, [w.batch_id for w in waiting])

    def _claim(
        self, uow: UnitOfWork, lane: Lane, in_flight: InFlight, paused: list[str]
    ) -> list[Claim]:
        room = self.window_cost(lane) - sum(
            cost for (_, in_lane), (_, cost) in in_flight.items() if in_lane is lane
        )
        if lane is Lane.NORMAL and room < self._settings.batch_cost:
            return []  # refill once a whole batch fits: small refills make tiny batches
        if room <= 0:
            return []
        if self._settings.scheduling == "fifo":
            return uow.leases.claim_pending(lane, room, self._lease, paused)
        return self._claim_fairly(uow, lane, room, in_flight)

    def _claim_fairly(
        self, uow: UnitOfWork, lane: Lane, room: int, in_flight: InFlight
    ) -> list[Claim]:
        schedules = uow.queue.schedules(uow.leases.organizations_with_work(lane))
        documents_in_flight = _documents_by_org(in_flight)
        demands = [
            self._demand(schedule, documents_in_flight.get(org_id, 0))
            for org_id, schedule in sorted(schedules.items())
            if not schedule.paused
        ]
        demands = [d for d in demands if d.max_documents is None or d.max_documents > 0]
        claims: list[Claim] = []
        for budget in self._fair[lane].budgets(demands, room):
            schedule = schedules[budget.org_id]
            allowed = self._tokens(schedule, self._max_documents(lane, budget))
            taken, held_back = uow.leases.claim_from_org(
                budget.org_id,
                lane,
                max_documents=allowed,
                max_cost=budget.cost,
                lease_seconds=self._lease,
            )
            self._fair[lane].settle(budget, sum(c.cost for c in taken), held_back)
            self._give_back(schedule, allowed - len(taken))
            claims += taken
        return claims

    def _max_documents(self, lane: Lane, budget: Budget) -> int:
        batches_in_window = window_batches(self._settings, lane, self._slots_now.get(lane, 0))
        limit = batches_in_window * self._settings.batch_size
        return limit if budget.documents is None else min(limit, budget.documents)

    def _demand(self, schedule: OrgSchedule, in_flight_documents: int) -> OrgDemand:
        cap = schedule.max_in_flight
        limit = None if cap is None else max(0, cap - in_flight_documents)
        return OrgDemand(schedule.org_id, schedule.weight, limit)

    def _tokens(self, schedule: OrgSchedule, wanted: int) -> int:
        """How many of ``wanted`` documents the organization's rate limit allows now."""
        if schedule.rate_per_second is None or self._rate_limiter is None:
            return wanted
        return self._rate_limiter.take(schedule.org_id, schedule.rate_per_second, wanted)

    def _give_back(self, schedule: OrgSchedule, unused: int) -> None:
        if schedule.rate_per_second is not None and self._rate_limiter is not None:
            self._rate_limiter.give_back(schedule.org_id, unused)

    def run_forever(self, stop: threading.Event) -> None:
        """Rounds until ``stop``: after each, wait for a wake-up (work arrived, a batch
        finished and freed room) or the poll interval."""
        log.info("dispatcher %s started", self.holder)
        poll = self._settings.dispatch_poll_seconds
        while not stop.is_set():
            try:
                self.run_once()
            except TransientError as exc:
                log.warning("dispatcher round failed, retrying: %s", exc)
                stop.wait(poll)
            except Exception:
                log.exception("dispatcher round failed")
                stop.wait(poll)
            self._wakeup.wait(poll)
        self.resign()
        log.info("dispatcher %s stopped", self.holder)

    def resign(self) -> None:
        """Hand leadership over at once (a warm shutdown): a standby leads on its next round
        instead of after the lease runs out. What this one claimed stays leased and published."""
        try:
            with self._units() as uow:
                released = uow.leases.release_leadership(LEADER_LEASE, self.holder)
                uow.commit()
        except Exception as exc:  # whatever went wrong, the lease expires on its own
            log.warning("dispatcher %s could not resign (its lease expires): %s", self.holder, exc)
            return
        if released:
            log.info("dispatcher %s resigned the leadership", self.holder)
            self._wakeup.notify()  # a standby waiting for work or its poll retries now


def window_batches(settings: Settings, lane: Lane, slots: int = 0) -> int:
    """Batches a lane may have in flight. The high lane: a fixed few, so a user's recreate
    never waits behind more. The normal lane follows capacity: ``window_batches_per_slot``
    for each consumer slot the workers announce (``slots``), never fewer than
    ``window_batches`` (nobody announced yet) nor more than ``max_window_batches`` (Redis
    holds the window)."""
    if lane is Lane.HIGH:
        return settings.high_window_batches
    if not settings.window_follows_capacity:
        return settings.window_batches
    wanted = math.ceil(slots * settings.window_batches_per_slot)
    return min(settings.max_window_batches, max(settings.window_batches, wanted))


def window_cost(settings: Settings, lane: Lane, slots: int = 0) -> int:
    """The estimated cost a lane may have in flight."""
    batch = settings.high_batch_cost if lane is Lane.HIGH else settings.batch_cost
    return window_batches(settings, lane, slots) * batch


def _documents_by_org(in_flight: InFlight) -> dict[str, int]:
    """Documents in flight per organization, both lanes together (an in-flight cap is one)."""
    totals: dict[str, int] = {}
    for (org_id, _), (documents, _) in in_flight.items():
        totals[org_id] = totals.get(org_id, 0) + documents
    return totals
