"""Every hand-written SQL statement over an organization's data is scoped by organization.

A static check of the repositories: each ``text(...)`` statement that reads or writes a tenant
table must name ``org_id`` (or the ``ORG`` placeholder), unless it is on the list below, where
each statement that crosses organizations on purpose says why. (Statements built with
SQLAlchemy's ``select()`` are checked by the behavioural tests of test_tenant_isolation.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

STORE = Path(__file__).resolve().parents[3] / "accounting" / "store"
TENANT_TABLES = (
    "documents",
    "journal_entries",
    "journal_lines",
    "periods",
    "exchange_rates",
    "accounts",
    "posting_rules",
    "posting_matrices",
    "document_components",
)
#: (module, function) -> why it may cross organizations.
CROSS_ORGANIZATION = {
    ("leases", "bury_exhausted"): "the dispatcher gives up on any organization's",
    ("leases", "claim_pending"): "the FIFO lane takes the oldest of any organization",
    ("leases", "organizations_with_work"): "lists organizations with work",
    ("leases", "in_flight"): "counts per organization and lane, for fairness and the window",
    ("leases", "release_expired_leases"): "the reclaim job, for every organization",
    ("queue", "vacuum_queue"): "maintenance of the whole table",
    ("queue", "status_counts"): "scoped when an organization is given ({where})",
    ("queue", "oldest_pending_age_seconds"): "the metrics of the whole lane",
    ("jobs", "documents_ahead"): "a job's place counts the whole shared lane",
    ("jobs", "cancel"): "by job id, once jobs.cancel_job checked its organization",
    ("console", "organizations"): "the operator console lists every organization (admin only)",
}


def statements() -> list[tuple[str, str, str]]:
    """(module, function, SQL text) of every text(...) call with a literal in a repository."""
    found = []
    for path in sorted(STORE.glob("*.py")):
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            for call in ast.walk(function):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Name)
                    and call.func.id == "text"
                    and call.args
                ):
                    found.append((path.stem, function.name, ast.unparse(call.args[0])))
    return found


def touches_a_tenant_table(sql: str) -> bool:
    return any(re.search(rf"\b{table}\b", sql) for table in TENANT_TABLES)


def scoped(sql: str) -> bool:
    """The organization is a parameter of the statement: ``:org_id`` (a filter, or the value
    inserted), the ``ORG`` placeholder of accounting.store.sql, or a ``{where}`` built from it."""
    return bool(re.search(r":org_id\b|\{ORG\}|org_id = ANY\(:orgs\)", sql))


def unscoped_statements() -> list[tuple[str, str]]:
    return [
        (module, function)
        for module, function, sql in statements()
        if touches_a_tenant_table(sql) and not scoped(sql)
    ]


def test_the_check_sees_the_repositories_statements() -> None:
    found = statements()
    assert len(found) > 20
    assert any(function == "upsert_documents" for _, function, _ in found)


def test_every_statement_over_tenant_data_is_scoped_by_organization() -> None:
    assert [s for s in unscoped_statements() if s not in CROSS_ORGANIZATION] == []


def test_every_exception_is_needed() -> None:
    assert set(CROSS_ORGANIZATION) <= set(unscoped_statements())


def test_every_audit_check_is_scoped_when_an_organization_is_given() -> None:
    from accounting.store.audits import CHECKS

    assert all(":org_id" in sql for _, sql in CHECKS.values())


#: The models of the tenant tables, as the repositories import them.
TENANT_MODELS = {
    "Document",
    "JournalEntry",
    "JournalLine",
    "Period",
    "ExchangeRate",
    "ExchangeRateRow",
    "Account",
    "PostingRule",
    "PostingMatrixRow",
    "PostingMatrix",
    "DocumentComponent",
}
CORE = {"select", "update", "insert", "delete", "pg_insert"}


def core_statements_without_org() -> list[tuple[str, str]]:
    """(module, function) of every repository function that builds a SQLAlchemy core
    statement over a tenant model and never mentions ``org_id``."""
    found = []
    for path in sorted(STORE.glob("*.py")):
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, ast.FunctionDef):
                continue
            names = {n.id for n in ast.walk(function) if isinstance(n, ast.Name)}
            builds = any(
                isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id in CORE
                for c in ast.walk(function)
            )
            if builds and names & TENANT_MODELS and "org_id" not in ast.unparse(function):
                found.append((path.stem, function.name))
    return found


def test_every_core_statement_over_tenant_data_mentions_the_organization() -> None:
    assert core_statements_without_org() == []
