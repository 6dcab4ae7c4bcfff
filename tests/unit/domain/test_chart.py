"""The chart of accounts and the posting matrix as operators write them (CSV, JSON): every
bad row is named by its line (or index) and field, and a file with any is refused whole."""

from __future__ import annotations

import pytest

from accounting.domain.chart import AccountSpec, chart_from_csv, chart_from_json
from accounting.domain.matrix import Rule, matrix_from_csv
from accounting.errors import InvalidChart, InvalidMatrix

HEADER = "code,name,kind\n"


def test_a_csv_chart_is_read_in_any_column_order_with_a_bom_and_blank_lines() -> None:
    text = "\ufeffkind,code,name\nasset, 1000 ,Bank\n\n revenue,4000,Revenue: products\n"
    assert chart_from_csv(text) == [
        AccountSpec("1000", "Bank", "asset"),
        AccountSpec("4000", "Revenue: products", "revenue"),
    ]


def test_every_bad_row_of_a_csv_chart_is_named_by_line_and_field() -> None:
    text = HEADER + "1000,Bank,asset\n1100,,asset\n1200,PSP,assets\n1000,Bank again,asset\n"
    with pytest.raises(InvalidChart) as caught:
        chart_from_csv(text)
    message = str(caught.value)
    assert "line 3, name: missing" in message
    assert "line 4, kind: 'assets' is not one of asset, liability" in message
    assert "line 5, code: '1000' is already on line 2" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty: a header line is needed"),
        ("code,name\n1000,Bank\n", "line 1: missing column kind"),
        (HEADER.strip() + ",colour\n1000,Bank,asset,red\n", "line 1: unknown column colour"),
        (HEADER + "1000,Bank,asset,extra\n", "line 2: 4 cells, the header has 3"),
        (HEADER, "no accounts"),
        (HEADER + "1000,Ba\x00nk,asset\n", "line 2, name: NUL characters"),
        (HEADER + f"{'9' * 65},Bank,asset\n", "line 2, code: 65 characters; at most 64"),
    ],
)
def test_a_csv_chart_that_is_not_a_chart_is_refused_naming_why(text: str, expected: str) -> None:
    with pytest.raises(InvalidChart, match=expected):
        chart_from_csv(text)


def test_a_json_chart_names_the_index_and_field_of_each_bad_row() -> None:
    good = {"code": "1000", "name": "Bank", "kind": "asset"}
    assert chart_from_json({"accounts": [good]}) == [AccountSpec("1000", "Bank", "asset")]
    with pytest.raises(InvalidChart) as caught:
        chart_from_json([good, {"code": 7, "name": "x", "kind": "asset"}, "row", good | {"x": 1}])
    message = str(caught.value)
    assert "accounts[1], code: missing" in message
    assert "accounts[2]: an object with code, name and kind is needed" in message
    assert "accounts[3], x: unknown field" in message
    with pytest.raises(InvalidChart, match="a list of"):
        chart_from_json("1000,Bank,asset")


def test_a_csv_matrix_defaults_the_group_and_names_the_line_of_a_bad_rule() -> None:
    text = "document_type,component,debit,credit,group\ninvoice,net,1100,4000,\n"
    rules = matrix_from_csv("acme", text).rules
    assert rules == {("invoice", "net", "*"): Rule("1100", "4000")}
    duplicate = text + "invoice,net,1100,4010,*\ninvoice,tax,,2200,\n"
    with pytest.raises(InvalidMatrix) as caught:
        matrix_from_csv("acme", duplicate)
    assert "line 4, debit: String should have at least 1 character" in str(caught.value)
    with pytest.raises(InvalidMatrix, match="line 1: missing column credit"):
        matrix_from_csv("acme", "document_type,component,debit\ninvoice,net,1100\n")
