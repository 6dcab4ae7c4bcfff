"""The domain stays free of the queue and the web: nothing in accounting/ imports Celery,
the tasks or the HTTP service."""

from __future__ import annotations

import ast
from pathlib import Path

import accounting

FORBIDDEN = ("celery", "kombu", "tasks", "celeryconfig", "web", "fastapi", "starlette")


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_accounting_package_never_imports_celery_or_tasks() -> None:
    package = Path(accounting.__file__).parent
    modules = sorted(package.glob("*.py"))
    assert len(modules) > 10
    offenders = {
        path.name: sorted(imported_roots(path) & set(FORBIDDEN))
        for path in modules
        if imported_roots(path) & set(FORBIDDEN)
    }
    assert offenders == {}
