"""Weighted deficit round robin across organizations, on estimated cost (pure, no I/O).

Each dispatch round shares the free room of the window between the organizations that have
work, in proportion to their weights. An organization that could not use its whole share
because its next document is expensive keeps the difference as credit (its deficit) for the
next round, so a 2,000-line invoice waits its turn instead of starving or jumping the queue.
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
    def __init__(self) -> None:
        self._deficit: dict[str, int] = {}

    def budgets(self, demands: list[OrgDemand], room: int) -> list[Budget]:
        """Each organization's cost budget for this round: its weighted share of ``room`` plus
        the credit it carries. Shares are rounded up so that every organization with work can
        take at least one cheap document. An organization without work loses its credit."""
        active = {d.org_id for d in demands}
        self._deficit = {org: credit for org, credit in self._deficit.items() if org in active}
        total_weight = sum(d.weight for d in demands) or 1
        return [
            Budget(
                d.org_id,
                -(-room * d.weight // total_weight) + self._deficit.get(d.org_id, 0),
                d.max_documents,
            )
            for d in demands
            if room > 0
        ]

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
