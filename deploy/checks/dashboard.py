"""Offline check of the Grafana dashboard: valid JSON, a Prometheus datasource variable that
every panel and query uses, queries on every panel, panels laid out without overlap, every
PromQL expression parsed by promtool (Grafana's variables replaced first), only exported
metrics queried, and every exported metric shown somewhere.

Usage: python deploy/checks/dashboard.py [DASHBOARD_JSON]"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from checklib import DEPLOY, METRICS, Problems, check_metric_names, check_promql

#: Grafana's built-in interval variables, replaced by a fixed range before parsing.
GRAFANA_RANGES = (
    "$__rate_interval",
    "${__rate_interval}",
    "$__interval",
    "${__interval}",
    "$__range",
    "${__range}",
)
DATASOURCE_VARIABLE = "DS_PROMETHEUS"
GRID_WIDTH = 24


def _datasource_ok(datasource: Any) -> bool:
    if isinstance(datasource, str):  # the older form: the variable itself
        return datasource in (f"${DATASOURCE_VARIABLE}", f"${{{DATASOURCE_VARIABLE}}}")
    return (
        isinstance(datasource, dict)
        and datasource.get("type") == "prometheus"
        and datasource.get("uid") in (f"${DATASOURCE_VARIABLE}", f"${{{DATASOURCE_VARIABLE}}}")
    )


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' collapsed children included."""
    found = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []) if panel.get("type") == "row" else [])
    return found


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEPLOY / "grafana/accounting-impact.json"
    problems = Problems("dashboard")
    try:
        dashboard = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        problems.add(f"{path.name} is not valid JSON: {exc}")
        problems.finish("")
        return
    for key in ("title", "uid", "panels", "schemaVersion"):
        problems.check(key in dashboard, f"no top-level {key!r}")
    problems.check(dashboard.get("id") is None, "id must be null (Grafana assigns it on import)")

    variables = dashboard.get("templating", {}).get("list", [])
    problems.check(
        any(
            v.get("name") == DATASOURCE_VARIABLE
            and v.get("type") == "datasource"
            and v.get("query") == "prometheus"
            for v in variables
        ),
        f"no datasource variable {DATASOURCE_VARIABLE} of type prometheus",
    )
    known_variables = {v.get("name") for v in variables}

    expressions: list[tuple[str, str]] = []
    used: set[str] = set()
    ids: set[int] = set()
    boxes: list[tuple[str, int, int, int, int]] = []
    panels = _panels(dashboard)
    for panel in panels:
        title = panel.get("title") or f"panel {panel.get('id')}"
        where = f"panel {title!r}"
        problems.check(
            isinstance(panel.get("id"), int) and panel["id"] not in ids,
            f"{where}: id missing or reused",
        )
        ids.add(panel.get("id", -1))
        grid = panel.get("gridPos", {})
        if problems.check(
            all(isinstance(grid.get(k), int) for k in ("h", "w", "x", "y")), f"{where}: no gridPos"
        ):
            problems.check(grid["x"] + grid["w"] <= GRID_WIDTH, f"{where}: wider than the grid")
            boxes.append((title, grid["x"], grid["y"], grid["w"], grid["h"]))
        if panel.get("type") == "row":
            continue
        problems.check(
            _datasource_ok(panel.get("datasource")),
            f"{where}: datasource must be the ${DATASOURCE_VARIABLE} variable",
        )
        targets = panel.get("targets") or []
        problems.check(targets, f"{where}: no targets")
        refs = [t.get("refId") for t in targets]
        problems.check(
            len(set(refs)) == len(refs) and all(refs), f"{where}: refIds missing or reused"
        )
        for target in targets:
            target_where = f"{where} query {target.get('refId')}"
            if "datasource" in target:
                problems.check(
                    _datasource_ok(target["datasource"]),
                    f"{target_where}: datasource must be the ${DATASOURCE_VARIABLE} variable",
                )
            expr = target.get("expr", "")
            if not problems.check(expr.strip(), f"{target_where}: no expr"):
                continue
            for variable in GRAFANA_RANGES:
                expr = expr.replace(variable, "5m")
            for name in re.findall(r"\$\{?(\w+)", expr):
                problems.check(name in known_variables, f"{target_where}: unknown variable ${name}")
            used |= check_metric_names(problems, target_where, expr)
            expressions.append((target_where, expr))

    for i, (a, ax, ay, aw, ah) in enumerate(boxes):
        for b, bx, by, bw, bh in boxes[i + 1 :]:
            if ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah:
                problems.add(f"panels {a!r} and {b!r} overlap")
    for name in sorted(set(METRICS) - used):
        problems.add(f"no panel shows {name}")

    parsed = check_promql(problems, expressions)
    problems.finish(
        f"{path.name}: {len(panels)} panels, {parsed} PromQL expressions parsed by promtool,"
        f" all {len(METRICS)} exported metrics shown"
    )


if __name__ == "__main__":
    main()
