"""Document validation: what is accepted, what is rejected and how the rejection reads."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from accounting_impact_client.documents import (
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


NOT_A_DECIMAL = 'money must be a decimal string of ASCII digits, like "-12.50"'


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-inf", "sNaN"])
def test_non_finite_money_is_rejected(value: str) -> None:
    error = only_error(invoice(lines=[line(unit_price=value)]))
    assert (error.field, error.message) == ("lines.0.unit_price", NOT_A_DECIMAL)
    # A Python caller's Decimal is a number already: it is refused for what it is.
    _, errors = validate_documents([invoice(lines=[line(unit_price=Decimal(value))])])
    assert [(e.field, e.message) for e in errors] == [("lines.0.unit_price", "must be finite")]


@pytest.mark.parametrize("value", ["ten", "", "1,00", "0x10", "1" * 100])
def test_malformed_money_is_rejected(value: str) -> None:
    error = only_error(payment(amount=value))
    assert (error.field, error.message) == ("amount", NOT_A_DECIMAL)


@pytest.mark.parametrize(
    "value",
    [
        "\u0661\u0660\u0660",  # Arabic-Indic digits
        "\uff11\uff10\uff10",  # fullwidth digits
        "1e2",
        "1E+2",
        "1_000",
        " 10.00 ",
        "10.00\n",
        "10.",
        ".5",
        "+-1",
        "1.2.3",
    ],
)
def test_money_takes_ascii_digits_only_without_exponent_separator_or_spaces(value: str) -> None:
    error = only_error(payment(amount=value))
    assert (error.field, error.message) == ("amount", NOT_A_DECIMAL)
    quantity = only_error(invoice(lines=[line(quantity=value)]))
    assert quantity.field == "lines.0.quantity"


@pytest.mark.parametrize(("value", "parsed"), [("+24.00", "24"), ("-0", "0"), ("0024.50", "24.5")])
def test_a_sign_and_leading_zeros_are_plain_decimals(value: str, parsed: str) -> None:
    documents, _ = validate_documents([invoice(lines=[line(), line(unit_price=value)])])
    assert documents and documents[0].lines[1].unit_price == Decimal(parsed)  # type: ignore[union-attr]


def test_a_tiny_quantity_dumps_in_plain_digits_and_validates_back() -> None:
    raw = invoice(lines=[line(quantity="0.0000001", unit_price="100000000")])
    [document], _ = validate_documents([raw])
    dumped = document.model_dump(mode="json")
    assert dumped["lines"][0]["quantity"] == "0.0000001"
    assert validate_documents([dumped]) == ([document], [])


@pytest.mark.parametrize(
    "value",
    [
        "0",  # read as Unix timestamps
        "86400",
        "1767225600",
        "2026-03-01T00:00:00+05:00",  # the time zone dropped
        "2026-03-01T10:00",
        "2026-03-01 ",
        "2026-3-1",
        "20260301",
        "\uff12\uff10\uff12\uff16-03-01",
        "2026-03-01\n",
    ],
)
def test_a_date_is_an_iso_date_string_and_nothing_else(value: str) -> None:
    error = only_error(invoice(date=value))
    assert (error.field, error.message) == ("date", "date must be an ISO date string (YYYY-MM-DD)")


def test_a_date_that_does_not_exist_is_named() -> None:
    error = only_error(invoice(date="2026-02-30"))
    assert error.field == "date" and error.message.startswith("not a valid date")


def test_a_python_caller_may_give_a_date_but_not_a_datetime() -> None:
    import datetime as dt

    assert validate_documents([invoice(date=dt.date(2026, 3, 1))])[1] == []
    assert only_error(invoice(date=dt.datetime(2026, 3, 1, 12))).field == "date"


INVISIBLE = "must not contain control, invisible, private-use or unassigned characters"


@pytest.mark.parametrize(
    "bad_id",
    [
        "line\u2028sep",  # a line separator
        "para\u2029sep",  # a paragraph separator
        "pua\ue000",  # private use
        "unassigned\u0378",
        "tag\U000e0041",  # an invisible tag character
    ],
)
def test_an_id_with_a_separator_private_or_unassigned_character_is_rejected(bad_id: str) -> None:
    error = only_error(invoice(id=bad_id))
    assert (error.field, error.message) == ("id", INVISIBLE)


@pytest.mark.parametrize(
    ("bad_id", "plain"),
    [("\ufb01le-1", "file-1"), ("\uff49nv-1", "inv-1"), ("inv\u00b2", "inv2"), ("\u2168", "IX")],
)
def test_an_id_that_changes_under_nfkc_is_rejected_with_its_plain_form(
    bad_id: str, plain: str
) -> None:
    error = only_error(invoice(id=bad_id))
    assert error.field == "id"
    assert error.message.startswith("must not contain compatibility characters")
    assert error.message.endswith(f"write {plain!r}")


def test_an_id_in_nfd_is_stored_in_nfc_and_is_the_same_document_as_its_nfc_twin() -> None:
    nfc, nfd = "caf\u00e9-1", "cafe\u0301-1"
    [document], errors = validate_documents([invoice(id=nfd)])
    assert (document.id, errors) == (nfc, [])
    documents, errors = validate_documents([invoice(id=nfc), invoice(id=nfd)])
    assert documents == []
    assert [(e.document_id, e.field) for e in errors] == [(nfc, "id")] * 2
    assert errors[0].message == "document id appears 2 times in this call"


def test_labels_follow_the_rules_of_ids() -> None:
    [document], _ = validate_documents([invoice(lines=[line(group="Getra\u0308nke")])])
    assert document.lines[0].group == "Getr\u00e4nke"  # type: ignore[union-attr]
    assert only_error(invoice(lines=[line(group="g\u2028")])).field == "lines.0.group"
    assert only_error(payment(method="\uff43ard")).field == "method"


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


def test_an_invoice_of_more_lines_than_a_real_one_needs_is_rejected_naming_count_and_limit() -> (
    None
):
    assert validate_documents([invoice(lines=[line()] * 1000)])[1] == []
    error = only_error(invoice(lines=[line()] * 1001))
    assert (error.field, error.message) == ("lines", "1,001 lines; at most 1,000 per document")
    # Refused before its lines are looked at: a million bad lines make one rejection.
    assert errors_of(invoice(lines=[{}] * 1_000_000)) == [
        ("inv-1", "lines", "1,000,000 lines; at most 1,000 per document")
    ]


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


def test_a_subscription_costs_each_month_of_each_line_group() -> None:
    lines = [line(group=f"g{n % 5}") for n in range(20)]
    [document], _ = validate_documents([subscription(lines=lines, term_months=120)])
    assert estimated_cost(document) == 20 + 5 * 120


def grouped(groups: int) -> list[dict[str, Any]]:
    return [line(group=f"g{n}") for n in range(groups)]


def test_a_subscription_recognising_more_than_ten_thousand_amounts_is_rejected_on_its_term() -> (
    None
):
    assert validate_documents([subscription(lines=grouped(100), term_months=100)])[1] == []
    error = only_error(subscription(lines=grouped(100), term_months=101))
    assert (error.document_id, error.field) == ("sub-1", "term_months")
    assert error.message == (
        "100 line groups x 101 months = 10,100 monthly recognition amounts; "
        "at most 10,000 per document"
    )


def test_an_exchange_rate_finer_than_the_stored_rate_is_rejected() -> None:
    error = only_error(invoice(currency="USD", exchange_rate="1.0000000000001"))
    assert (error.field, error.message) == ("exchange_rate", "at most 12 decimal places")


def test_an_id_with_a_bidi_override_or_a_zero_width_space_is_rejected() -> None:
    for bad_id in ("\u202einv-1", "inv\u200b-1"):
        _, errors = validate_documents([invoice(id=bad_id)])
        assert [(e.field, e.message) for e in errors] == [("id", INVISIBLE)]


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


# --- what a document adds up to (L1, L2) -------------------------------------------------------

TOO_LARGE = "beyond the 20 integer digits an amount can have"


def test_a_line_whose_net_a_money_column_cannot_hold_is_rejected_on_that_line() -> None:
    huge = line(quantity="100000000000", unit_price="100000000000")
    error = only_error(invoice(lines=[line(), huge]))
    assert error.field == "lines.1"
    assert error.message == f"quantity x unit_price is 10000000000000000000000 EUR: {TOO_LARGE}"


def test_a_document_whose_lines_add_up_beyond_a_money_column_is_rejected_on_its_lines() -> None:
    lines = [line(quantity="1", unit_price="99999999999999999", tax_rate="0.19")] * 1000
    error = only_error(invoice(lines=lines))
    assert error.field == "lines"
    assert error.message.startswith("the document's amounts add up to 118999999999999998810 EUR")
    assert error.message.endswith(TOO_LARGE)
    # The largest total that fits is accepted.
    assert validate_documents([invoice(lines=lines[:840])])[1] == []


def test_a_functional_value_beyond_a_money_column_is_rejected_on_the_exchange_rate() -> None:
    # Like the review's ovf2: 18 digits at a rate of 10^3 make 21.
    error = only_error(payment(currency="USD", amount="9" * 18, exchange_rate="1000"))
    assert error.field == "exchange_rate"
    assert error.message == (
        f"at this rate, the document's {'9' * 18} USD are {'9' * 18}000 in the functional "
        f"currency: {TOO_LARGE}"
    )
    assert (
        validate_documents([payment(currency="USD", amount="9" * 17, exchange_rate="999")])[1] == []
    )


def test_a_payout_is_bounded_by_what_it_posts() -> None:
    ok = payout(gross="99999999999999999", fees="0", net="99999999999999999")
    assert validate_documents([ok | {"exchange_rate": "999"}])[1] == []
    assert only_error(ok | {"exchange_rate": "1001"}).field == "exchange_rate"


NOTHING = (
    "every amount of the document is zero in EUR (once rounded to its minor unit): there is "
    "nothing to post"
)


@pytest.mark.parametrize(
    "raw",
    [
        invoice(lines=[line(unit_price="0")]),
        invoice(lines=[line(quantity="0.000000000000000001", unit_price="0.000001")]),
        invoice(lines=[line(unit_price="0.004"), line(unit_price="0.001", quantity="3")]),
        invoice(type="credit_note", lines=[line(unit_price="0")]),
        subscription(lines=[line(unit_price="0")]),
    ],
)
def test_a_document_whose_amounts_all_round_to_zero_is_rejected_on_its_lines(
    raw: dict[str, Any],
) -> None:
    assert errors_of(raw) == [(raw["id"], "lines", NOTHING)]


def test_a_payout_of_nothing_is_rejected_but_one_of_fees_only_is_not() -> None:
    assert errors_of(payout(gross="0", fees="0", net="0")) == [("po-1", "gross", NOTHING)]
    assert validate_documents([payout(gross="5", fees="5", net="0")])[1] == []
    # Fees above the gross: a negative net, posted as it is.
    assert validate_documents([payout(gross="1", fees="5", net="-4")])[1] == []


def test_a_zero_line_beside_a_real_one_is_fine() -> None:
    assert validate_documents([invoice(lines=[line(unit_price="0"), line()])])[1] == []


@pytest.mark.parametrize("rate", ["0.000000000001", "0.0000000009", "1000000001", "1" + "0" * 15])
def test_an_exchange_rate_outside_the_sane_range_is_rejected(rate: str) -> None:
    error = only_error(invoice(currency="USD", exchange_rate=rate))
    assert (error.field, error.message) == (
        "exchange_rate",
        "must be between 0.000000001 and 1000000000 (functional units per unit of the "
        "document's currency)",
    )


def test_a_foreign_document_booked_as_zero_at_its_own_rate_is_rejected() -> None:
    # The review's case: 119 USD at 1e-12 came out as 0 EUR. At the lowest sane rate, too.
    raw = invoice(
        currency="USD",
        exchange_rate="0.000000001",
        lines=[line(unit_price="100.00", tax_rate="0.19")],
    )
    error = only_error(raw)
    assert error.field == "exchange_rate"
    assert error.message == (
        "at this rate, the document's 119 USD are worth 0.000000119 in the functional "
        "currency: they would be booked as zero"
    )
    # Iranian rials in Kuwaiti dinars: a large amount at a tiny rate is fine.
    rials = payment(currency="IRR", amount="5000000", exchange_rate="0.0000003")
    assert validate_documents([rials])[1] == []


# --- revisions (L8) -----------------------------------------------------------------------------


def test_a_revision_up_to_ten_to_the_fifteen_is_accepted() -> None:
    for revision in (0, 1, 1_790_000_000_000, 10**15):  # a counter, updated_at in ms
        assert validate_documents([invoice(revision=revision)])[1] == []


@pytest.mark.parametrize("revision", [10**15 + 1, 1_790_000_000_000_000, 2**63 - 1, 10**4000])
def test_a_revision_far_beyond_a_plausible_one_is_rejected_before_it_freezes_the_document(
    revision: int,
) -> None:
    error = only_error(invoice(revision=revision))
    assert error.field == "revision"
    assert error.message.startswith("must be a whole number from 0 to 10^15")
    assert len(error.message) < 200
