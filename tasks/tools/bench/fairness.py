"""Fairness: small organizations submit while a large one's backlog drains, ours against FIFO."""

from __future__ import annotations

import time
from dataclasses import dataclass

from accounting import runtime
from accounting.services.queue import status
from tasks.tools.bench.harness import Bench, wait_until

SMALL_ORGS = 10
SMALL_DOCUMENTS = 200


@dataclass(frozen=True)
class FairnessRun:
    seconds_by_org: dict[str, float]

    @property
    def max_small_org_s(self) -> float:
        return round(max(self.seconds_by_org.values()), 2)


def run(bench: Bench, mode: str, backlog: int, timeout: float) -> FairnessRun:
    """Organization A stores ``backlog`` documents; then ten small organizations store 200 each.
    Each small organization's time runs from its own documents being stored (committed) to the
    last of them posted."""
    big = bench.new_org(f"{mode}-big")
    smalls = [bench.new_org(f"{mode}-small{n}") for n in range(SMALL_ORGS)]
    with bench.abandoning([big, *smalls]), bench.workers(mode), bench.progress() as progress:
        with bench.held(big):  # the whole backlog is pending when the small ones arrive
            bench.load(big, backlog, f"{big}-doc", progress)
        submitted = {org: bench.load(org, SMALL_DOCUMENTS, f"{org}-doc") for org in smalls}
        task = progress.add_task("small organizations fully posted", total=SMALL_ORGS)
        finished: dict[str, float] = {}

        def all_finished() -> bool:
            for org in smalls:
                if org not in finished and _posted(org) >= SMALL_DOCUMENTS:
                    finished[org] = time.monotonic() - submitted[org]
                    progress.advance(task)
            return len(finished) == len(smalls)

        wait_until(all_finished, timeout, "every small organization posted", interval=0.02)
    return FairnessRun({org.rsplit("-", 2)[-2]: s for org, s in finished.items()})


def _posted(org: str) -> int:
    return int(status(runtime.unit_of_work(), org)["posted"])
