"""The dispatcher: leases pending documents from Postgres and hands them out in batches; what
it posts next is decided here.

Postgres holds the backlog; only a bounded window of batches is ever published, so Redis holds
that window and never the backlog. One dispatcher leads (a lease row renewed every round, which
works through PgBouncer's transaction pooling where session advisory locks do not); the others
stand by and take over when the leader's lease runs out. The high lane is served first; the
normal lane is shared between organizations by weighted deficit round robin on estimated cost
(:mod:`accounting.domain.fairness`), within each one's pause, in-flight cap and rate limit.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable

from accounting.config import Settings
from accounting.domain.batching import Claim, Publish, batches
from accounting.domain.fairness import Budget, DeficitRoundRobin, OrgDemand
from accounting.domain.lanes import Lane
from accounting.errors import TransientError
from accounting.store.leases import LEADER_LEASE
from accounting.store.queue import OrgSchedule
from accounting.store.uow import UnitOfWork
from accounting.volatile.ratelimit import RateLimiter
from accounting.volatile.wakeup import Wakeup

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        units: Callable[[], UnitOfWork],
        publish: Publish,
        wakeup: Wakeup,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
        holder: str | None = None,
    ) -> None:
        self._units = units
        self._publish = publish
        self._wakeup = wakeup
        self._settings = settings
        self._rate_limiter = rate_limiter
        self._fair = DeficitRoundRobin(quantum=max(1, settings.batch_cost // 2))
        self.holder = holder or f"dispatcher-{uuid.uuid4().hex[:12]}"

    @property
    def _leader_ttl(self) -> float:
        return max(5.0, self._settings.dispatch_poll_seconds * 5)

    @property
    def window_cost(self) -> int:
        return self._settings.window_batches * self._settings.batch_cost

    def run_once(self) -> int:
        """One round: lead or stand by; if leading, fill the window. Returns batches published."""
        with self._units() as uow:
            if not uow.leases.acquire_leadership(LEADER_LEASE, self.holder, self._leader_ttl):
                return 0
            uow.leases.bury_exhausted(self._settings.max_attempts)
            in_flight = uow.leases.in_flight_by_org()
            room = self.window_cost - sum(cost for _, cost in in_flight.values())
            paused = list(uow.queue.schedules())
            # The high lane is never held back by normal work filling the window.
            high_room = max(room, self._settings.batch_cost)
            claims = uow.leases.claim_pending(Lane.HIGH, high_room, self._lease, paused)
            room -= sum(c.cost for c in claims)
            claims += self._claim_normal(uow, room, in_flight, paused)
            uow.commit()
        # Published after commit: a lost publish only delays the documents until their lease
        # runs out, while publishing before commit could post work nobody claimed.
        work = batches(claims, self._settings.batch_size, self._settings.batch_cost)
        for batch in work:
            self._publish(batch)
        return len(work)

    @property
    def _lease(self) -> float:
        return float(self._settings.lease_seconds)

    def _claim_normal(
        self,
        uow: UnitOfWork,
        room: int,
        in_flight: dict[str, tuple[int, int]],
        paused: list[str],
    ) -> list[Claim]:
        if room < self._settings.batch_cost:
            return []  # refill once a whole batch fits: small refills make tiny batches
        if self._settings.scheduling == "fifo":
            return uow.leases.claim_pending(Lane.NORMAL, room, self._lease, paused)
        return self._claim_fairly(uow, room, in_flight)

    def _claim_fairly(
        self, uow: UnitOfWork, room: int, in_flight: dict[str, tuple[int, int]]
    ) -> list[Claim]:
        schedules = uow.queue.schedules(uow.leases.organizations_with_normal_work())
        demands = [
            self._demand(schedule, in_flight.get(org_id, (0, 0))[0])
            for org_id, schedule in sorted(schedules.items())
            if not schedule.paused
        ]
        demands = [d for d in demands if d.max_documents is None or d.max_documents > 0]
        claims: list[Claim] = []
        for budget in self._fair.budgets(demands, room):
            schedule = schedules[budget.org_id]
            allowed = self._tokens(schedule, self._max_documents(budget))
            taken, held_back = uow.leases.claim_from_org(
                budget.org_id,
                max_documents=allowed,
                max_cost=budget.cost,
                lease_seconds=self._lease,
            )
            self._fair.settle(budget, sum(c.cost for c in taken), held_back)
            self._give_back(schedule, allowed - len(taken))
            claims += taken
        return claims

    def _max_documents(self, budget: Budget) -> int:
        limit = self._settings.window_batches * self._settings.batch_size
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
        self.resign()
        log.info("dispatcher %s stopped", self.holder)

    def resign(self) -> None:
        """Hand leadership over at once (a warm shutdown): a standby leads on its next round
        instead of after the lease runs out. What this one claimed stays leased and published."""
        try:
            with self._units() as uow:
                released = uow.leases.release_leadership(LEADER_LEASE, self.holder)
                uow.commit()
        except TransientError as exc:
            log.warning("dispatcher %s could not resign (its lease expires): %s", self.holder, exc)
            return
        if released:
            log.info("dispatcher %s resigned the leadership", self.holder)
            self._wakeup.notify()  # a standby waiting for work or its poll retries now
