"""Shared by the offline checks of deploy/ (run them through `bash deploy/check`).

Each check collects every problem it finds, prints them, and exits 1 if there was any."""

from __future__ import annotations

import os
import re
import shlex
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

#: The metric names the service exports (web/metrics.py), with the labels each one carries.
#: Anything the ops files query must be one of these.
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
    "accounting_dead_intake_messages": frozenset(),
    "accounting_task_retries_total": frozenset({"task"}),
    "accounting_matrix_cache_hits_total": frozenset(),
    "accounting_matrix_cache_misses_total": frozenset(),
    "accounting_matrix_cache_errors_total": frozenset(),
    "accounting_dispatcher_window_cost": frozenset({"lane", "state"}),
    "accounting_lane_throughput_documents_per_second": frozenset({"lane"}),
    "accounting_lane_suggested_workers": frozenset({"lane"}),
    "accounting_lane_worker_slots": frozenset({"lane"}),
    "accounting_audit_findings": frozenset({"check"}),
    "accounting_audit_last_run_timestamp_seconds": frozenset(),
}
#: Values a label of ours can take (the others, task and check, are open-ended).
LABEL_VALUES: dict[str, frozenset[str]] = {
    "lane": frozenset({"high", "normal"}),
    "state": frozenset({"in_flight", "limit"}),
}
#: The database roles (deploy/postgres/roles.sql; security review M6). Migrations run as the
#: owner of the database and its tables; every other process logs in as the login role, a
#: member of the group role the migrations grant to. Neither is a superuser.
OWNER_ROLE = "accounting_owner"
APP_GROUP_ROLE = "accounting_app"
APP_LOGIN_ROLE = "accounting_worker"
DATABASE = "accounting"
#: The superuser the postgres image (and a stock Postgres) makes unless told otherwise.
DEFAULT_SUPERUSER = "postgres"

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
    for name in lanes_merged(expr):
        problems.add(
            f'{where}: {name} is aggregated across lanes (no `by (lane)`, no lane="..."):'
            " one lane's figure hides the other's"
        )
    return names


_AGGREGATIONS = frozenset(
    {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
     "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
)  # fmt: skip
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_GROUPING_BEFORE = re.compile(r"\b(by|without)\s*\(([^()]*)\)\s*$")
_GROUPING_AFTER = re.compile(r"^\s*(by|without)\s*\(([^()]*)\)")
_WORD_BEFORE = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*$")


def _enclosing(text: str, position: int) -> tuple[int, int] | None:
    """The (open, close) indexes of the innermost parentheses around position, if any."""
    depth = 0
    for index in range(position - 1, -1, -1):
        if text[index] == ")":
            depth += 1
        elif text[index] == "(":
            if depth == 0:
                break
            depth -= 1
    else:
        return None
    depth = 0
    for close in range(position, len(text)):
        if text[close] == "(":
            depth += 1
        elif text[close] == ")":
            if depth == 0:
                return index, close
            depth -= 1
    return None


def lanes_merged(expr: str) -> list[str]:
    """Metrics with a lane label that the expression aggregates across lanes: the first
    aggregation around the selector (max, sum, ...) neither keeps `lane` (by/without) nor
    is the selector pinned to one lane (lane="..."). `sum(max by (lane) (m))` keeps the
    lanes apart first, then adds them up on purpose, and passes."""
    # Strings blanked (same length), so that a parenthesis in a label value counts for nothing.
    text = _STRING.sub(lambda m: '"' + " " * (len(m.group(0)) - 2) + '"', expr)
    merged = []
    for match in _SELECTOR.finditer(expr):
        name = match.group(1)
        if "lane" not in METRICS.get(name, frozenset()):
            continue
        if any(
            label == "lane" and operator == "="
            for label, operator, _ in _MATCHER.findall(match.group(2) or "")
        ):
            continue
        position = match.start()
        while (around := _enclosing(text, position)) is not None:
            opening, closing = around
            before = text[:opening]
            grouping = _GROUPING_BEFORE.search(before)
            if grouping:  # max by (lane) (...)
                before = before[: grouping.start()]
            else:  # max(...) by (lane)
                grouping = _GROUPING_AFTER.match(text[closing + 1 :])
            word = _WORD_BEFORE.search(before)
            if word and word.group(1) in _AGGREGATIONS:
                if grouping is None:
                    kept = False
                else:
                    labels = {label.strip() for label in grouping.group(2).split(",")}
                    kept = ("lane" in labels) == (grouping.group(1) == "by")
                if not kept:
                    merged.append(name)
                break
            position = opening
    return merged


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


def userlist_entries(script: str, auth_file: str) -> list[tuple[str, str]] | None:
    """The (user, password word) pairs a shell script's `printf FORMAT ARGS... > AUTH_FILE`
    writes into PgBouncer's auth file (two %s a line: user, password), as the shell would pass
    them (quotes removed, $VAR left as it is); None if no printf writes that file."""
    try:
        lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError:
        return None
    for start, word in enumerate(words):
        if word != "printf":
            continue
        end = start + 1
        while end < len(words) and words[end] not in (">", ">>", "&&", "||", ";", "|"):
            end += 1
        if end + 1 >= len(words) or words[end] != ">" or words[end + 1] != auth_file:
            continue
        arguments = words[start + 2 : end]  # after the format
        return list(zip(arguments[0::2], arguments[1::2], strict=False))
    return None
