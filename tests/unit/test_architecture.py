"""The folders are the architecture, and these rules keep them so: the import contracts of
pyproject.toml (run with import-linter, and shown to fail on a forbidden import), thin tasks,
Redis keys in one module, and modules and functions of a readable size."""

from __future__ import annotations

import ast
import io
import os
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("accounting", "tasks", "web")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """import-linter over the packages found in ``root`` (first on the path, ahead of the
    editable install), with the contracts of ``root``'s pyproject.toml."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_import_contract_is_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    kept = [line for line in result.stdout.splitlines() if line.endswith(" KEPT")]
    assert len(kept) >= 7, result.stdout


@pytest.fixture(scope="module")
def copy_of_the_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(ROOT / package, copy / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


@pytest.mark.parametrize(
    ("module", "forbidden_import", "contract"),
    [
        ("accounting/domain/money.py", "import sqlalchemy", "The domain is pure"),
        ("accounting/domain/ledger.py", "import accounting.config", "The domain is pure"),
        ("accounting/domain/facts.py", "import accounting.store.uow", "accounting: composition"),
        ("accounting/store/journal.py", "import accounting.volatile", "accounting: composition"),
        ("accounting/services/posting.py", "import accounting.runtime", "accounting: composition"),
        ("accounting/services/queue.py", "import celery", "The product never imports"),
        ("accounting/store/uow.py", "import tasks.app", "Entrypoints sit on the product"),
        ("web/routes.py", "import accounting.store.uow", "Entrypoints reach Postgres only"),
        ("tasks/documents.py", "import sqlalchemy", "Entrypoints reach Postgres only"),
        ("tasks/posting.py", "import tasks.cli.common", "The Celery adapter never imports"),
        ("tasks/worker.py", "import tasks.tools.worker_pool", "The Celery adapter never imports"),
        ("tasks/tools/demo.py", "import tasks.cli.common", "The tools never import the CLI"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    copy_of_the_tree: Path, module: str, forbidden_import: str, contract: str
) -> None:
    path = copy_of_the_tree / module
    original = path.read_text()
    path.write_text(f"{original}\n{forbidden_import}  # noqa\n")
    try:
        result = lint_imports(copy_of_the_tree)
    finally:
        path.write_text(original)
    assert result.returncode != 0, result.stdout
    broken = [line for line in result.stdout.splitlines() if line.endswith(" BROKEN")]
    assert [line for line in broken if line.startswith(contract)], result.stdout


def test_importing_the_product_loads_no_queue_and_no_web() -> None:
    code = (
        "import sys, accounting.runtime, accounting.demo_data, accounting.embedded; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'celery', 'kombu', 'tasks', 'web', 'fastapi', 'starlette', 'typer'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def python_files(*folders: str) -> list[Path]:
    files = [path for folder in folders for path in sorted((ROOT / folder).rglob("*.py"))]
    assert len(files) > 10, folders  # a glob that finds nothing proves nothing
    return files


def logic_lines(source: str, node: ast.AST) -> int:
    """Lines of ``node`` that are neither blank, nor comments, nor inside a string spanning
    several lines (docstrings, SQL)."""
    lines = source.splitlines()
    strings: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING and token.end[0] > token.start[0]:
            strings.update(range(token.start[0], token.end[0] + 1))
    span = range(node.lineno, (node.end_lineno or node.lineno) + 1)  # type: ignore[attr-defined]
    return sum(
        1
        for number in span
        if number not in strings
        and lines[number - 1].strip()
        and not lines[number - 1].strip().startswith("#")
    )


def test_tasks_are_thin_adapters() -> None:
    """A task checks its payload, calls one use case and returns a small dict: no policy.
    (Its body is counted from the first statement after its docstring.)"""
    tasks = []
    for path in python_files("tasks"):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef) and any(
                "app.task" in ast.unparse(decorator) for decorator in node.decorator_list
            ):
                body = node.body[1:] if ast.get_docstring(node) else node.body
                lines = sum(logic_lines(source, statement) for statement in body)
                tasks.append((path.name, node.name, lines))
    assert len(tasks) >= 7
    assert [task for task in tasks if task[2] > 16] == []


def test_redis_keys_are_named_only_in_volatile_keys() -> None:
    keys = ROOT / "accounting" / "volatile" / "keys.py"
    offenders = [
        str(path.relative_to(ROOT))
        for path in python_files("accounting", "tasks", "web")
        if path != keys and '"accounting:' in path.read_text()
    ]
    assert offenders == []


#: The schema is one file on purpose: it is what Alembic compares the migrations against.
LONG_ON_PURPOSE = {"accounting/store/models.py"}


def test_no_module_is_much_over_three_hundred_lines() -> None:
    long = [
        (str(path.relative_to(ROOT)), len(path.read_text().splitlines()))
        for path in python_files("accounting", "tasks", "web", "client/src")
        if str(path.relative_to(ROOT)) not in LONG_ON_PURPOSE
    ]
    assert [module for module in long if module[1] > 350] == []


def test_no_function_outside_the_cli_and_the_tools_has_over_forty_logic_lines() -> None:
    long = []
    for path in python_files("accounting", "tasks", "web", "client/src"):
        relative = str(path.relative_to(ROOT))
        if relative.startswith(("tasks/cli/", "tasks/tools/")):
            continue  # command parsers and tool loops, as in the codebases we imitate
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            is_function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if is_function and logic_lines(source, node) > 40:
                long.append(f"{relative}:{node.lineno} {node.name}")
    assert long == []


def test_the_top_of_the_product_is_small() -> None:
    top = sorted(path.name for path in (ROOT / "accounting").glob("*.py"))
    assert len(top) <= 8, top
