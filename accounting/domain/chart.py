"""The chart of accounts as operators hand it over (CSV or JSON): each account's code, name
and kind, checked row by row. Every problem is listed, naming the row and the field, so a
file is fixed in one go; nothing is imported from a file with any problem."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from accounting.domain.tables import TableError, read_csv
from accounting.errors import InvalidChart
from accounting_impact_client.limits import MAX_DESCRIPTION_LENGTH, MAX_LABEL_LENGTH
from accounting_impact_client.values import storable

#: What an account is; the database checks the same list.
KINDS = ("asset", "liability", "equity", "revenue", "expense")
#: Accounts in one chart: far more than any real one.
MAX_ACCOUNTS = 10_000
COLUMNS = ("code", "name", "kind")


@dataclass(frozen=True)
class AccountSpec:
    code: str
    name: str
    kind: str

    def as_tuple(self) -> tuple[str, str, str]:
        return (self.code, self.name, self.kind)


def chart_from_csv(text: str) -> list[AccountSpec]:
    """Accounts from a CSV text with the columns code,name,kind (header line first; rows
    named by their line number). :class:`InvalidChart` lists every problem."""
    try:
        rows = read_csv(text, required=COLUMNS)
    except TableError as exc:
        raise InvalidChart(str(exc)) from None
    return _checked((f"line {line}", row) for line, row in rows)


def chart_from_json(data: object) -> list[AccountSpec]:
    """Accounts from ``[{"code", "name", "kind"}, ...]`` or ``{"accounts": [...]}`` (rows
    named ``accounts[i]``). :class:`InvalidChart` lists every problem."""
    if isinstance(data, Mapping):
        extra = sorted(set(data) - {"accounts"})
        if extra or "accounts" not in data:
            raise InvalidChart('a chart is {"accounts": [{"code", "name", "kind"}, ...]}')
        data = data["accounts"]
    if not isinstance(data, list):
        raise InvalidChart('accounts: a list of {"code", "name", "kind"} objects is needed')
    rows: list[tuple[str, Any]] = [(f"accounts[{i}]", row) for i, row in enumerate(data)]
    return _checked(rows)


def _checked(rows: Iterable[tuple[str, Any]]) -> list[AccountSpec]:
    accounts: list[AccountSpec] = []
    problems: list[str] = []
    first_row: dict[str, str] = {}
    for where, row in rows:
        if not isinstance(row, Mapping):
            problems.append(f"{where}: an object with code, name and kind is needed")
            continue
        row_problems = _row_problems(row)
        for column in sorted(set(row) - set(COLUMNS)):
            row_problems.append(f"{column}: unknown field (fields: {', '.join(COLUMNS)})")
        if not row_problems:
            code = row["code"].strip()
            if code in first_row:
                row_problems.append(f"code: {code!r} is already on {first_row[code]}")
            else:
                first_row[code] = where
                accounts.append(AccountSpec(code, row["name"].strip(), row["kind"].strip()))
        problems.extend(f"{where}, {problem}" for problem in row_problems)
    if len(accounts) > MAX_ACCOUNTS:
        problems.append(f"{len(accounts):,} accounts; at most {MAX_ACCOUNTS:,} in one chart")
    if problems:
        raise InvalidChart("; ".join(problems))
    if not accounts:
        raise InvalidChart("no accounts: a chart needs at least one row")
    return accounts


def _row_problems(row: Mapping[str, Any]) -> list[str]:
    problems = []
    for column, limit in (("code", MAX_LABEL_LENGTH), ("name", MAX_DESCRIPTION_LENGTH)):
        value = row.get(column)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{column}: missing (a non-empty text is needed)")
        elif len(value.strip()) > limit:
            problems.append(f"{column}: {len(value.strip())} characters; at most {limit}")
        elif not storable(value):
            problems.append(f"{column}: NUL characters or text that is not UTF-8")
    kind = row.get("kind")
    if not isinstance(kind, str) or kind.strip() not in KINDS:
        problems.append(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    return problems
