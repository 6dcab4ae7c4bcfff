"""The checks the public tasks apply to their arguments: ids read as documents' ids are, a
recreate's size, and arguments a task does not take (refused by name, never ignored)."""

from __future__ import annotations

from typing import Any

import pytest

from accounting.errors import PERMANENT_ERRORS, PermanentError
from tasks.payloads import (
    UnsupportedPayload,
    refuse_unknown_arguments,
    require_document_ids,
    require_id,
)


def test_a_document_id_argument_is_read_in_nfc_like_a_documents_id() -> None:
    assert require_id("document_ids[]", "cafe\u0301") == "caf\u00e9"
    assert require_id("document_ids[]", "inv-1") == "inv-1"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("inv\u2028-1", "control, invisible, private-use or unassigned"),
        ("inv\ue000", "control, invisible, private-use or unassigned"),
        ("\ufb01le", "compatibility characters"),
        ("x" * 129, "at most 128 characters"),
        (7, "non-empty string"),
    ],
)
def test_a_document_id_argument_is_refused_as_a_documents_id_would_be(
    value: Any, message: str
) -> None:
    with pytest.raises(PermanentError, match=message) as refused:
        require_id("document_ids[]", value)
    assert str(refused.value).startswith("document_ids[]: ")


def test_a_recreate_takes_at_most_as_many_ids_as_the_http_api() -> None:
    assert require_document_ids(["cafe\u0301", "inv-1"]) == ["caf\u00e9", "inv-1"]
    assert len(require_document_ids(["inv-1"] * 5000)) == 5000
    with pytest.raises(PERMANENT_ERRORS, match=r"^document_ids: 70,000 ids in one recreate"):
        require_document_ids(["inv-1"] * 70_000)
    with pytest.raises(PermanentError, match="document_ids: must be a list"):
        require_document_ids("inv-1")


def test_a_call_with_only_the_arguments_a_task_takes_passes() -> None:
    refuse_unknown_arguments("accounting.recreate", 2, (), {})


def test_an_unknown_keyword_is_refused_naming_it_the_task_and_what_the_worker_takes() -> None:
    with pytest.raises(UnsupportedPayload) as refused:
        refuse_unknown_arguments("accounting.upsert_documents", 2, (), {"source": "shopify"})
    assert str(refused.value) == (
        "accounting.upsert_documents (schema 2): unknown keyword arguments 'source'. This "
        "worker takes org_id, documents, schema (payload schemas 1 to 2): deploy workers that "
        "take an argument before producers send it"
    )


def test_extra_positional_arguments_and_many_keywords_are_named_shortly() -> None:
    unknown = {f"k{n}" + "x" * 1000: n for n in range(50)}
    with pytest.raises(UnsupportedPayload) as refused:
        refuse_unknown_arguments("accounting.recreate", 1, ("a", "b"), unknown)
    message = str(refused.value)
    assert message.startswith("accounting.recreate (schema 1): 2 positional arguments too many;")
    assert "and 45 more" in message and len(message) < 1000
