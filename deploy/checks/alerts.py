"""What promtool does not check in deploy/prometheus/: every alert names only exported metrics,
has a severity, a summary and a description that names a command to run, and is proven by at
least one unit test where it fires (and one where it does not).

Usage: python deploy/checks/alerts.py [ALERTS_YML [ALERTS_TEST_YML]]"""

from __future__ import annotations

import sys
from pathlib import Path

from checklib import DEPLOY, Problems, check_metric_names, load_yaml_documents

SEVERITIES = {"critical", "warning", "info"}
#: An alert's description tells the operator where to look: a command or an endpoint.
POINTERS = ("`accounting ", "/healthz", "logs")


def main() -> None:
    alerts_path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEPLOY / "prometheus/alerts.yml"
    tests_path = (
        Path(sys.argv[2]) if len(sys.argv) > 2 else alerts_path.with_name("alerts_test.yml")
    )
    problems = Problems("alerts")
    (rules_file,) = load_yaml_documents(alerts_path)
    alerts: dict[str, dict[str, object]] = {}
    for group in rules_file.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert")
            if name is None:
                continue
            where = f"{alerts_path.name}: {name}"
            problems.check(name not in alerts, f"{where}: defined twice")
            alerts[name] = rule
            check_metric_names(problems, where, str(rule.get("expr", "")))
            labels = rule.get("labels") or {}
            problems.check(
                labels.get("severity") in SEVERITIES,
                f"{where}: severity label must be one of {sorted(SEVERITIES)}",
            )
            annotations = rule.get("annotations") or {}
            problems.check(annotations.get("summary"), f"{where}: no summary annotation")
            description = str(annotations.get("description", ""))
            problems.check(
                any(pointer in description for pointer in POINTERS),
                f"{where}: the description names nothing to run or look at",
            )
            problems.check("for" in rule, f"{where}: no `for:` duration")

    (tests_file,) = load_yaml_documents(tests_path)
    fired: set[str] = set()
    silent: set[str] = set()
    for test in tests_file.get("tests", []):
        for case in test.get("alert_rule_test", []):
            name = case.get("alertname")
            if name not in alerts:
                problems.add(f"{tests_path.name}: tests an alert that does not exist: {name}")
            (fired if case.get("exp_alerts") else silent).add(name)
    for name in sorted(alerts):
        problems.check(name in fired, f"{tests_path.name}: no test where {name} fires")
        problems.check(name in silent, f"{tests_path.name}: no test where {name} stays silent")
    problems.finish(f"{len(alerts)} alerts, each tested firing and silent")


if __name__ == "__main__":
    main()
