"""Shared by the offline checks of deploy/ (run them through `bash deploy/check`).

Each check collects every problem it finds, prints them, and exits 1 if there was any."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[1]
ROOT = DEPLOY.parent

#: The metric names the service exports today (accounting/metrics.py, accounting/audit_metrics.py),
#: with the labels each one carries. Anything the ops files query must be one of these.
METRICS: dict[str, frozenset[str]] = {
    "accounting_documents_posted_total": frozenset({"lane"}),
    "accounting_documents_failed_total": frozenset({"lane"}),
    "accounting_documents_postponed_total": frozenset({"lane"}),
    "accounting_posting_latency_seconds_bucket": frozenset({"lane", "le"}),
    "accounting_posting_latency_seconds_sum": frozenset({"lane"}),
    "accounting_posting_latency_seconds_count": frozenset({"lane"}),
    "accounting_pending_documents": frozenset({"lane"}),
    "accounting_oldest_pending_age_seconds": frozenset({"lane"}),
    "accounting_in_flight_documents": frozenset(),
    "accounting_dead_documents": frozenset(),
    "accounting_task_retries_total": frozenset({"task"}),
    "accounting_matrix_cache_hits_total": frozenset(),
    "accounting_matrix_cache_misses_total": frozenset(),
    "accounting_matrix_cache_errors_total": frozenset(),
    "accounting_dispatcher_window_cost": frozenset({"state"}),
    "accounting_lane_throughput_documents_per_second": frozenset({"lane"}),
    "accounting_lane_suggested_workers": frozenset({"lane"}),
    "accounting_audit_findings": frozenset({"check"}),
    "accounting_audit_last_run_timestamp_seconds": frozenset(),
}
#: Values a label of ours can take (the others, task and check, are open-ended).
LABEL_VALUES: dict[str, frozenset[str]] = {
    "lane": frozenset({"high", "normal"}),
    "state": frozenset({"in_flight", "limit"}),
}
#: Labels Prometheus adds to every scraped series.
TARGET_LABELS = frozenset({"job", "instance"})
#: Metric families the alerts and the dashboard may use besides ours.
OTHER_METRICS = frozenset({"up"})


class Problems:
    """Collects failures; `finish` prints the verdict and exits."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def check(self, condition: object, message: str) -> bool:
        if not condition:
            self.add(message)
        return bool(condition)

    def finish(self, summary: str) -> None:
        for item in self.items:
            print(f"FAIL [{self.name}] {item}")
        if self.items:
            print(f"{self.name}: {len(self.items)} problem(s)")
            sys.exit(1)
        print(f"ok [{self.name}] {summary}")


def load_yaml_documents(path: Path) -> list[Any]:
    with path.open() as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc is not None]


_SELECTOR = re.compile(r"\b(accounting_[a-z0-9_]+|up)\b\s*(\{[^}]*\})?")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"')


def metric_selectors(expr: str) -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
    """(metric name, [(label, operator, value)]) for each metric the expression selects."""
    for match in _SELECTOR.finditer(expr):
        name, braces = match.group(1), match.group(2) or ""
        yield name, _MATCHER.findall(braces)


def check_metric_names(problems: Problems, where: str, expr: str) -> set[str]:
    """Every metric named must be exported, with its labels and their values; returns the names."""
    names = set()
    for name, matchers in metric_selectors(expr):
        names.add(name)
        if name in OTHER_METRICS:
            continue
        if name not in METRICS:
            problems.add(f"{where}: unknown metric {name} (the service exports no such name)")
            continue
        for label, operator, value in matchers:
            if label in TARGET_LABELS:
                continue
            if label not in METRICS[name]:
                problems.add(f"{where}: {name} has no label {label}")
            elif operator == "=" and label in LABEL_VALUES and value not in LABEL_VALUES[label]:
                problems.add(f"{where}: {name}{{{label}}} is never {value!r}")
    return names


def promtool() -> str:
    found = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if not found:
        print("FAIL promtool not found (install Debian's prometheus package)")
        sys.exit(1)
    return found


def check_promql(problems: Problems, expressions: Iterable[tuple[str, str]]) -> int:
    """Parse each (where, expr) with promtool: as recording rules in a temporary rules file, so
    `promtool check rules` reports every expression that does not parse. Returns how many."""
    pairs = list(expressions)
    if not pairs:
        return 0
    rules = [
        {"record": f"check:expression_{index}", "expr": expr}
        for index, (_, expr) in enumerate(pairs)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "expressions.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "check", "rules": rules}]}))
        result = subprocess.run(
            [promtool(), "check", "rules", str(path)], capture_output=True, text=True, check=False
        )
        if result.returncode == 0:
            return len(pairs)
        output = result.stdout + result.stderr
        # promtool names the failing rule by its index in the group; report ours by name.
        bad = re.findall(r'group "check", rule (\d+), "[^"]*": (.*)', output)
        for number, error in bad:
            where, expr = pairs[int(number) - 1]
            problems.add(f"{where}: {error}: {expr}")
        if not bad:
            problems.add(f"promtool check rules failed:\n{output}")
    return len(pairs)
