"""The posting matrix: which accounts each document component debits and credits."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from accounting.domain.tables import TableError, read_csv
from accounting.errors import InvalidMatrix, MissingPostingRule

WILDCARD = "*"

# The components each document type produces; a published matrix needs a rule for each.
COMPONENTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "invoice": ("net", "tax"),
        "credit_note": ("net", "tax"),
        # The invoice books net revenue as deferred; "recognition" moves it to revenue monthly.
        "subscription_invoice": ("net", "tax", "recognition"),
        "payment": ("gross",),
        "refund": ("gross",),
        "payout": ("net", "fee"),
    }
)

RuleKey = tuple[str, str, str]
"""(document_type, component, group); group "*" matches any group."""


@dataclass(frozen=True)
class Rule:
    debit: str
    credit: str


@dataclass(frozen=True)
class PostingMatrix:
    org_id: str
    version: int
    rules: Mapping[RuleKey, Rule]

    def resolve(self, document_type: str, component: str, group: str) -> Rule:
        """The rule for this exact group, else the type's wildcard rule for the component."""
        rule = self.rules.get((document_type, component, group)) or self.rules.get(
            (document_type, component, WILDCARD)
        )
        if rule is None:
            raise MissingPostingRule(
                f"posting matrix version {self.version} has no rule for {document_type} "
                f"component {component!r} in group {group!r}"
            )
        return rule


Triple = tuple[str, str, str]
"""(document_type, component, group) as a document uses it."""


def rule_problems(matrix: PostingMatrix, accounts: Mapping[str, bool]) -> list[str]:
    """What makes a matrix unusable as it is written: a rule for a document type or component
    that does not exist, or naming an account not in the chart (``accounts``: code -> active)."""
    problems = []
    for (document_type, component, group), rule in sorted(matrix.rules.items()):
        where = f"rule {document_type}/{component}/{group}"
        if document_type not in COMPONENTS:
            problems.append(f"{where}: unknown document type {document_type!r}")
        elif component not in COMPONENTS[document_type]:
            expected = ", ".join(COMPONENTS[document_type])
            problems.append(f"{where}: {document_type} has no component {component!r} ({expected})")
        if not group:
            problems.append(f"{where}: empty group (use '*' for any group)")
        for side, code in (("debit", rule.debit), ("credit", rule.credit)):
            if code not in accounts:
                problems.append(f"{where}: {side} account {code!r} is not in the chart")
    return problems


def gaps(matrix: PostingMatrix, used: Iterable[Triple], accounts: Mapping[str, bool]) -> list[str]:
    """Why ``matrix`` cannot be published: each (type, component, group) the organization's
    documents use must resolve to a rule, and every rule's accounts must exist and be active."""
    found = rule_problems(matrix, accounts)
    for document_type, component, group in sorted(set(used)):
        try:
            matrix.resolve(document_type, component, group)
        except MissingPostingRule:
            found.append(f"no rule for {document_type}/{component}/{group}, which documents use")
    for (document_type, component, group), rule in sorted(matrix.rules.items()):
        for side, code in (("debit", rule.debit), ("credit", rule.credit)):
            if accounts.get(code) is False:
                found.append(
                    f"rule {document_type}/{component}/{group}: {side} account {code!r} is inactive"
                )
    return found


def changed_triples(
    old: PostingMatrix | None, new: PostingMatrix, used: Iterable[Triple]
) -> set[Triple]:
    """The used (type, component, group) whose rule differs between two versions."""
    return {triple for triple in used if _rule_or_none(old, triple) != _rule_or_none(new, triple)}


def _rule_or_none(matrix: PostingMatrix | None, triple: Triple) -> Rule | None:
    if matrix is None:
        return None
    try:
        return matrix.resolve(*triple)
    except MissingPostingRule:
        return None


class _RuleInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    document_type: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    component: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    group: Annotated[str, StringConstraints(min_length=1, max_length=64)] = WILDCARD
    debit: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    credit: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class _MatrixInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: Annotated[list[_RuleInput], Field(min_length=1, max_length=10_000)]


def matrix_from_json(org_id: str, data: object) -> PostingMatrix:
    """``{"rules": [{"document_type", "component", "group" (default "*"), "debit", "credit"}]}``
    as a matrix (version 0: the version is given when it is stored). Errors name the rule's
    index and field."""
    try:
        parsed = _MatrixInput.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or 'matrix'}: {error['msg']}"
            for error in exc.errors()
        ]
        raise InvalidMatrix("; ".join(problems)) from None
    rules: dict[Triple, Rule] = {}
    for index, rule in enumerate(parsed.rules):
        key = (rule.document_type, rule.component, rule.group)
        if key in rules:
            raise InvalidMatrix(f"rules.{index}: a second rule for {'/'.join(key)}")
        rules[key] = Rule(rule.debit, rule.credit)
    return PostingMatrix(org_id, 0, rules)


#: Columns of a matrix written as CSV (``group`` may be left out: "*", any group).
CSV_COLUMNS = ("document_type", "component", "group", "debit", "credit")


def matrix_from_csv(org_id: str, text: str) -> PostingMatrix:
    """A matrix from a CSV text with the columns document_type,component,group,debit,credit
    (header line first; ``group`` optional, "*" when empty). Errors name the line and field."""
    try:
        rows = read_csv(
            text, required=("document_type", "component", "debit", "credit"), optional=("group",)
        )
    except TableError as exc:
        raise InvalidMatrix(str(exc)) from None
    lines = [line for line, _ in rows]
    rules = [{k: v for k, v in row.items() if v or k != "group"} for _, row in rows]
    try:
        return matrix_from_json(org_id, {"rules": rules})
    except InvalidMatrix as exc:
        # rules.<i> -> the line of the file it came from
        named = re.sub(r"rules\.(\d+)\.?", lambda m: f"line {lines[int(m[1])]}, ", str(exc))
        raise InvalidMatrix(named.replace(", :", ":")) from None


def matrix_to_json(matrix: PostingMatrix) -> dict[str, object]:
    return {
        "rules": [
            {"document_type": t, "component": c, "group": g, "debit": r.debit, "credit": r.credit}
            for (t, c, g), r in sorted(matrix.rules.items())
        ]
    }
