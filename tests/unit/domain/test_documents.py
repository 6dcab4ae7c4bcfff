"""Document validation: what is accepted, what is rejected and how the rejection reads."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from accounting.domain.documents import (
    DOCUMENT_TYPES,
    Invoice,
    Payout,
    Rejection,
    content_hash,
    estimated_cost,
    validate_documents,
)


def invoice(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": "inv-1",
        "type": "invoice",
        "date": "2024-03-01",
        "currency": "EUR",
        "lines": [{"quantity": "2", "unit_price": "10.00", "tax_rate": "0.2"}],
    }
    return document | overrides


def line(**overrides: Any) -> dict[str, Any]:
    return {"quantity": "1", "unit_price": "5.00"} | overrides


def payment(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": "pay-1",
        "type": "payment",
        "date": "2024-03-02",
        "currency": "EUR",
        "amount": "24.00",
    }
    return document | overrides


def subscription(**overrides: Any) -> dict[str, Any]:
    document = invoice(id="sub-1", type="subscription_invoice")
    return document | {"service_start": "2024-03-01", "term_months": 12} | overrides


def payout(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": "po-1",
        "type": "payout",
        "date": "2024-03-03",
        "currency": "EUR",
        "gross": "100.00",
        "fees": "2.50",
        "net": "97.50",
    }
    return document | overrides


def errors_of(raw: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    documents, errors = validate_documents([raw])
    assert documents == []
    return [(e.document_id, e.field, e.message) for e in errors]


def only_error(raw: dict[str, Any]) -> Rejection:
    _, errors = validate_documents([raw])
    assert len(errors) == 1, errors
    return errors[0]


def test_a_valid_invoice_is_parsed_with_decimal_money() -> None:
    [document], errors = validate_documents([invoice()])
    assert errors == []
    assert isinstance(document, Invoice)
    assert document.lines[0].unit_price == Decimal("10.00")
    assert document.lines[0].group == "default"


def test_every_document_type_validates() -> None:
    raw = [
        invoice(),
        invoice(id="cn-1", type="credit_note"),
        subscription(),
        payment(),
        payment(id="ref-1", type="refund"),
        payout(),
    ]
    documents, errors = validate_documents(raw)
    assert errors == []
    assert [d.type for d in documents] == list(DOCUMENT_TYPES)


def test_missing_field_is_named() -> None:
    raw = invoice()
    del raw["date"]
    assert errors_of(raw) == [("inv-1", "date", "Field required")]


def test_a_numeric_date_is_rejected() -> None:
    assert only_error(invoice(date=1709251200)).field == "date"


def test_a_non_string_type_is_reported_on_the_type_field() -> None:
    assert only_error(invoice(type=5)).field == "type"


def test_negative_quantity_is_rejected_on_its_line() -> None:
    error = only_error(invoice(lines=[line(), line(quantity="-1")]))
    assert (error.field, error.message) == ("lines.1.quantity", "must be positive")


def test_unknown_type_lists_the_valid_types() -> None:
    error = only_error(invoice(type="receipt"))
    assert error.field == "type"
    assert "'receipt'" in error.message
    assert all(kind in error.message for kind in DOCUMENT_TYPES)


def test_missing_type_is_reported_on_the_type_field() -> None:
    raw = invoice()
    del raw["type"]
    assert only_error(raw).field == "type"


def test_float_money_is_rejected_naming_the_field() -> None:
    error = only_error(invoice(lines=[line(unit_price=10.5)]))
    assert error.field == "lines.0.unit_price"
    assert error.message == "money must be a decimal string, not a float"


def test_float_quantity_and_payment_amount_are_rejected_too() -> None:
    assert only_error(invoice(lines=[line(quantity=1.0)])).field == "lines.0.quantity"
    assert only_error(payment(amount=24.0)).field == "amount"


def test_boolean_money_is_rejected() -> None:
    assert only_error(payment(amount=True)).field == "amount"


def test_integer_money_is_accepted() -> None:
    documents, errors = validate_documents([payment(amount=24)])
    assert errors == []
    assert documents[0].amount == Decimal(24)  # type: ignore[union-attr]


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-inf", "sNaN"])
def test_non_finite_money_is_rejected(value: str) -> None:
    error = only_error(invoice(lines=[line(unit_price=value)]))
    assert (error.field, error.message) == ("lines.0.unit_price", "must be finite")


@pytest.mark.parametrize("value", ["ten", "", "1,00", "0x10", "1" * 100])
def test_malformed_money_is_rejected(value: str) -> None:
    error = only_error(payment(amount=value))
    assert (error.field, error.message) == ("amount", "money must be a decimal string")


def test_more_than_eighteen_integer_digits_is_rejected() -> None:
    assert errors_of(payment(amount="1" * 19)) == [("pay-1", "amount", "at most 18 integer digits")]
    assert validate_documents([payment(amount="9" * 18)])[1] == []


def test_unknown_currency_is_rejected_by_name() -> None:
    assert errors_of(invoice(currency="XYZ")) == [("inv-1", "currency", "unknown currency 'XYZ'")]


def test_unit_price_allows_six_decimal_places_but_not_seven() -> None:
    assert validate_documents([invoice(lines=[line(unit_price="0.123456")])])[1] == []
    error = only_error(invoice(lines=[line(unit_price="0.1234567")]))
    assert error.field == "lines.0.unit_price"


def test_negative_unit_price_and_tax_rate_above_one_are_rejected() -> None:
    fields = {e[1] for e in errors_of(invoice(lines=[line(unit_price="-1", tax_rate="1.5")]))}
    assert fields == {"lines.0.unit_price", "lines.0.tax_rate"}


def test_payment_amount_finer_than_the_currency_is_rejected_on_the_amount() -> None:
    assert errors_of(payment(amount="10.001")) == [
        ("pay-1", "amount", "at most 2 decimal places for EUR")
    ]
    assert only_error(payment(currency="JPY", amount="100.5")).field == "amount"


def test_trailing_zeros_do_not_count_as_decimal_places() -> None:
    assert validate_documents([payment(currency="JPY", amount="100.00")])[1] == []


def test_payout_net_must_equal_gross_minus_fees() -> None:
    error = only_error(payout(net="98.00"))
    assert error.field == "net"
    assert "gross - fees" in error.message


def test_zero_or_negative_payment_is_rejected() -> None:
    assert only_error(payment(amount="0")).message == "must be positive"
    assert only_error(payment(amount="-5")).message == "must be positive"


def test_exchange_rate_must_be_positive() -> None:
    assert only_error(payment(exchange_rate="0")).field == "exchange_rate"


def test_unknown_fields_are_rejected() -> None:
    assert only_error(invoice(customer="ACME")).field == "customer"


@pytest.mark.parametrize("bad_id", ["", "x" * 129, "a\nb"])
def test_bad_document_ids_are_rejected(bad_id: str) -> None:
    assert only_error(invoice(id=bad_id)).field == "id"


def test_empty_and_oversized_invoices_are_rejected() -> None:
    assert only_error(invoice(lines=[])).field == "lines"
    assert only_error(invoice(lines=[line()] * 5001)).field == "lines"


def test_every_copy_of_a_duplicated_id_is_rejected_and_the_others_kept() -> None:
    documents, errors = validate_documents(
        [invoice(), invoice(), payment(id="inv-1"), payment(id="pay-1")]
    )
    assert [d.id for d in documents] == ["pay-1"]
    assert [(e.document_id, e.field, e.message) for e in errors] == [
        ("inv-1", "id", "document id appears 3 times in this call")
    ] * 3


def test_good_documents_are_kept_alongside_bad_ones_in_order() -> None:
    raw: list[object] = [
        invoice(id="a"),
        invoice(id="b", currency="XYZ"),
        payment(id="c"),
        "not a document",
        payout(id="d"),
    ]
    documents, errors = validate_documents(raw)
    assert [d.id for d in documents] == ["a", "c", "d"]
    assert [(e.document_id, e.field) for e in errors] == [("b", "currency"), (None, "document")]


def test_an_item_without_a_string_id_is_reported_without_one() -> None:
    _, errors = validate_documents([invoice(id=7)])
    assert [(e.document_id, e.field) for e in errors] == [(None, "id")]


def test_documents_are_frozen() -> None:
    [document], _ = validate_documents([invoice()])
    with pytest.raises(ValidationError):
        document.id = "other"  # type: ignore[misc]


def test_identical_content_gives_identical_hash() -> None:
    same_rate_written_differently = invoice(lines=[line(unit_price="10.00", tax_rate="0.20")])
    documents, _ = validate_documents(
        [
            invoice(lines=[line(unit_price="10", tax_rate="0.2")]),
            same_rate_written_differently | {"id": "inv-2"},
        ]
    )
    first, renamed = documents
    [again], _ = validate_documents([same_rate_written_differently])
    assert content_hash(first) == content_hash(again)
    assert content_hash(first) != content_hash(renamed)
    assert len(content_hash(first)) == 64


def test_a_changed_amount_changes_the_hash() -> None:
    [original], _ = validate_documents([payment()])
    [changed], _ = validate_documents([payment(amount="24.01")])
    assert content_hash(original) != content_hash(changed)


def test_dumped_documents_validate_back_to_equal_documents() -> None:
    documents, _ = validate_documents([invoice(), payment(amount="1E+3"), payout()])
    again, errors = validate_documents([d.model_dump(mode="json") for d in documents])
    assert errors == []
    assert again == documents


def test_estimated_cost_counts_invoice_lines() -> None:
    documents, _ = validate_documents([invoice(lines=[line()] * 3), payment(), payout()])
    assert [estimated_cost(d) for d in documents] == [3, 1, 1]


def test_models_can_be_built_directly_in_python() -> None:
    built = Payout.model_validate(payout())
    assert built.net == Decimal("97.5")
    with pytest.raises(ValidationError, match="not a float"):
        Payout.model_validate(payout(fees=2.5))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"term_months": 0}, "term_months"),
        ({"term_months": 121}, "term_months"),
        ({"term_months": "12"}, "term_months"),
        ({"term_months": True}, "term_months"),
        ({"service_start": "2024-02-30"}, "service_start"),
        ({"service_start": None}, "service_start"),
    ],
)
def test_a_bad_subscription_term_is_named(overrides: dict[str, Any], field: str) -> None:
    error = only_error(subscription(**overrides))
    assert (error.document_id, error.field) == ("sub-1", field)


def test_a_subscription_costs_its_lines_plus_its_months() -> None:
    [document], _ = validate_documents([subscription(term_months=12)])
    assert estimated_cost(document) == 1 + 12


def test_an_exchange_rate_finer_than_the_stored_rate_is_rejected() -> None:
    error = only_error(invoice(currency="USD", exchange_rate="1.0000000000001"))
    assert (error.field, error.message) == ("exchange_rate", "at most 12 decimal places")


def test_an_id_with_a_bidi_override_or_a_zero_width_space_is_rejected() -> None:
    for bad_id in ("\u202einv-1", "inv\u200b-1"):
        _, errors = validate_documents([invoice(id=bad_id)])
        assert [(e.field, e.message) for e in errors] == [
            ("id", "must not contain control or invisible formatting characters")
        ]


def test_a_description_keeps_line_breaks_but_not_a_nul() -> None:
    line = invoice()["lines"][0]
    documents, _ = validate_documents([invoice(lines=[line | {"description": "two\nlines"}])])
    assert documents[0].lines[0].description == "two\nlines"  # type: ignore[union-attr]
    _, errors = validate_documents([invoice(lines=[line | {"description": "a\x00b"}])])
    assert [e.field for e in errors] == ["lines.0.description"]


def test_a_huge_id_or_currency_is_not_echoed_back_whole() -> None:
    _, errors = validate_documents([invoice(id="x" * 1_000_000, currency="y" * 1_000_000)])
    assert errors and all(len(str(error)) < 500 for error in errors)
    assert errors[0].document_id == "x" * 128 + "…"
