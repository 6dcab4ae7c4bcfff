"""Weighted deficit round robin and batch cutting, without I/O."""

from __future__ import annotations

from accounting.domain.batching import Claim, batches
from accounting.domain.fairness import DeficitRoundRobin, OrgDemand
from accounting.domain.lanes import Lane


def claim(org: str, doc: str, cost: int = 1, priority: int = 0, attempts: int = 0) -> Claim:
    return Claim(org, doc, 1, Lane.of_priority(priority), cost, attempts)


def test_room_is_shared_in_proportion_to_weights() -> None:
    budgets = DeficitRoundRobin(quantum=1).budgets([OrgDemand("a", 3), OrgDemand("b", 1)], 400)
    assert {b.org_id: b.cost for b in budgets} == {"a": 300, "b": 100}


def test_a_small_room_serves_a_few_organizations_a_quantum_each_taking_turns() -> None:
    drr = DeficitRoundRobin(quantum=20)
    demands = [OrgDemand(f"org-{n}") for n in range(5)]
    first = drr.budgets(demands, 40)
    second = drr.budgets(demands, 40)
    third = drr.budgets(demands, 40)
    assert [(b.org_id, b.cost) for b in first] == [("org-0", 20), ("org-1", 20)]
    assert [b.org_id for b in second] == ["org-2", "org-3"]
    assert [b.org_id for b in third] == ["org-4", "org-0"]


def test_an_expensive_document_gets_its_turn_through_accumulated_credit() -> None:
    drr = DeficitRoundRobin(quantum=1)
    rounds = 0
    while True:
        rounds += 1
        (budget,) = drr.budgets([OrgDemand("big")], 100)
        if budget.cost >= 350:  # its next document costs 350
            break
        drr.settle(budget, used=0, held_back=True)
    assert rounds == 4


def test_credit_is_dropped_when_an_organization_runs_out_of_work() -> None:
    drr = DeficitRoundRobin(quantum=1)
    (budget,) = drr.budgets([OrgDemand("a")], 100)
    drr.settle(budget, used=0, held_back=True)
    assert drr.credit("a") == 100
    drr.budgets([OrgDemand("b")], 100)  # "a" has no work this round
    assert drr.credit("a") == 0


def test_document_limits_travel_with_the_budget() -> None:
    (budget,) = DeficitRoundRobin(quantum=1).budgets([OrgDemand("a", max_documents=3)], 100)
    assert budget.documents == 3


def test_batches_respect_cost_and_count_and_keep_one_organization_each() -> None:
    claims = [claim("a", f"a{n}", cost=3) for n in range(5)] + [claim("b", "b0")]
    cut = batches(claims, max_documents=10, max_cost=7)
    assert [(b.org_id, sorted(b.versions)) for b in cut] == [
        ("a", ["a0", "a1"]),
        ("a", ["a2", "a3"]),
        ("a", ["a4"]),
        ("b", ["b0"]),
    ]


def test_a_document_that_failed_before_goes_alone_and_high_lane_batches_come_first() -> None:
    claims = [claim("a", "a0"), claim("a", "retry", attempts=1), claim("a", "h", priority=1)]
    cut = batches(claims, max_documents=10, max_cost=10)
    assert cut[0].lane is Lane.HIGH and list(cut[0].versions) == ["h"]
    assert [list(b.versions) for b in cut[1:]] == [["retry"], ["a0"]]
