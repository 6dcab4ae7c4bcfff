"""The posting matrix as data: rule validation, completeness gaps, what a new version changes,
and the JSON format operators write."""

from __future__ import annotations

import pytest

from accounting.domain.matrix import (
    PostingMatrix,
    Rule,
    changed_triples,
    gaps,
    matrix_from_json,
    matrix_to_json,
    rule_problems,
)
from accounting.errors import InvalidMatrix

CHART = {"1100": True, "1200": True, "4000": True, "4010": True, "2200": True, "9999": False}


def matrix(**rules: tuple[str, str]) -> PostingMatrix:
    """Rules keyed "type__component__group"."""
    parsed = {tuple(key.split("__")): Rule(*accounts) for key, accounts in rules.items()}
    return PostingMatrix("org-1", 1, parsed)  # type: ignore[arg-type]


def test_rules_for_unknown_types_or_components_or_accounts_are_all_listed() -> None:
    bad = matrix(
        invoce__net__x=("1100", "4000"),
        invoice__discount__x=("1100", "4000"),
        payment__gross__x=("1100", "7777"),
    )
    assert rule_problems(bad, CHART) == [
        "rule invoce/net/x: unknown document type 'invoce'",
        "rule invoice/discount/x: invoice has no component 'discount' (net, tax)",
        "rule payment/gross/x: credit account '7777' is not in the chart",
    ]


def test_a_used_component_without_a_rule_is_a_gap_and_the_wildcard_covers_any_group() -> None:
    rules = matrix(invoice__net__services=("1100", "4010"), invoice__tax__x=("1100", "2200"))
    used = {("invoice", "net", "services"), ("invoice", "net", "goods"), ("invoice", "tax", "x")}
    assert gaps(rules, used, CHART) == ["no rule for invoice/net/goods, which documents use"]
    covered = matrix(**{"invoice__net__*": ("1100", "4000"), "invoice__tax__x": ("1100", "2200")})
    assert gaps(covered, used, CHART) == []


def test_a_rule_naming_an_inactive_account_is_a_gap() -> None:
    rules = matrix(**{"invoice__net__*": ("1100", "9999")})
    assert gaps(rules, [], CHART) == ["rule invoice/net/*: credit account '9999' is inactive"]


def test_changed_triples_are_the_used_ones_that_resolve_differently() -> None:
    old = matrix(**{"invoice__net__*": ("1100", "4000"), "invoice__tax__*": ("1100", "2200")})
    new = matrix(
        **{
            "invoice__net__*": ("1100", "4000"),
            "invoice__net__services": ("1100", "4010"),
            "invoice__tax__*": ("1100", "2200"),
        }
    )
    used = {("invoice", "net", "services"), ("invoice", "net", "goods"), ("invoice", "tax", "x")}
    assert changed_triples(old, new, used) == {("invoice", "net", "services")}
    assert changed_triples(None, new, used) == used


def test_json_round_trips_and_the_group_defaults_to_the_wildcard() -> None:
    data = {
        "rules": [{"document_type": "invoice", "component": "net", "debit": "1", "credit": "2"}]
    }
    parsed = matrix_from_json("org-1", data)
    assert parsed.rules == {("invoice", "net", "*"): Rule("1", "2")}
    assert matrix_from_json("org-1", matrix_to_json(parsed)) == parsed


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rules": []}, "rules: List should have at least 1 item"),
        (
            {"rules": [{"document_type": "invoice", "component": "net", "debit": "1"}]},
            "rules.0.credit",
        ),
        (
            {
                "rules": [
                    {"document_type": "invoice", "component": "net", "debit": "1", "credit": 2}
                ]
            },
            "rules.0.credit",
        ),
        (
            {
                "rules": [
                    {
                        "document_type": "invoice",
                        "component": "net",
                        "debit": "1",
                        "credit": "2",
                        "x": 1,
                    }
                ]
            },
            "rules.0.x",
        ),
        ([], "matrix"),
    ],
)
def test_bad_json_names_the_rule_and_the_field(data: object, message: str) -> None:
    with pytest.raises(InvalidMatrix, match=message):
        matrix_from_json("org-1", data)


def test_a_rule_given_twice_is_refused() -> None:
    rule = {
        "document_type": "invoice",
        "component": "net",
        "group": "*",
        "debit": "1",
        "credit": "2",
    }
    with pytest.raises(InvalidMatrix, match=r"rules\.1: a second rule for invoice/net/"):
        matrix_from_json("org-1", {"rules": [rule, rule]})
