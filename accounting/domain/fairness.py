"""Weighted deficit round robin across organizations, on estimated cost (pure, no I/O).

Each dispatch round visits the organizations that have work, in turn, starting after the one
served last, and gives each visited organization a budget: its weighted share of the free room,
but never less than a quantum (times its weight), so that a nearly full window yields a few
real batches rather than many tiny ones. An organization whose next document did not fit in its
budget keeps the rest as credit (its deficit) for its next turn, so a 2,000-line invoice waits
its turn instead of starving or jumping the queue.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OrgDemand:
    """An organization with pending work, and what limits it this round."""

    org_id: str
    weight: int = 1
    #: Documents it may still put in flight (its in-flight cap, its rate-limit tokens).
    max_documents: int | None = None


@dataclass(frozen=True)
class Budget:
    org_id: str
    cost: int
    documents: int | None


class DeficitRoundRobin:
    def __init__(self, quantum: int) -> None:
        self._quantum = quantum
        self._deficit: dict[str, int] = {}
        self._last_served: str | None = None

    def budgets(self, demands: list[OrgDemand], room: int) -> list[Budget]:
        """Budgets for this round, in serving order, until ``room`` is given out. An
        organization without work loses its credit."""
        active = {d.org_id for d in demands}
        self._deficit = {org: credit for org, credit in self._deficit.items() if org in active}
        total_weight = sum(d.weight for d in demands) or 1
        budgets = []
        left = room
        for demand in self._in_turn(demands):
            if left <= 0:
                break
            share = max(room * demand.weight // total_weight, self._quantum * demand.weight)
            cost = share + self._deficit.get(demand.org_id, 0)
            budgets.append(Budget(demand.org_id, cost, demand.max_documents))
            left -= share
            self._last_served = demand.org_id
        return budgets

    def _in_turn(self, demands: list[OrgDemand]) -> list[OrgDemand]:
        """In organization order, starting after the one served last."""
        ordered = sorted(demands, key=lambda d: d.org_id)
        last = self._last_served
        start = next((n for n, d in enumerate(ordered) if last is None or d.org_id > last), 0)
        return ordered[start:] + ordered[:start]

    def settle(self, budget: Budget, used: int, held_back: bool) -> None:
        """Record what an organization used of its budget. Only one whose next document did
        not fit in what was left keeps the rest as credit: that is how an expensive document
        gets its turn. One that ran out of work or hit its document limit starts afresh."""
        if held_back:
            self._deficit[budget.org_id] = budget.cost - used
        else:
            self._deficit.pop(budget.org_id, None)

    def credit(self, org_id: str) -> int:
        return self._deficit.get(org_id, 0)
