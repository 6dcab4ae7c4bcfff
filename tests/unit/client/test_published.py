"""What the client publishes stays true: the JSON Schema file is the models' schema, the
README's integration code is the code the examples' test runs, and the wire names are the
workers'."""

from __future__ import annotations

from pathlib import Path

import pytest

from accounting.domain.lanes import Lane
from accounting_impact_client import routing
from accounting_impact_client.schema import (
    documents_schema,
    documents_schema_text,
    published_schema_text,
)

ROOT = Path(__file__).resolve().parents[3]


def test_the_published_schema_file_is_the_models_schema() -> None:
    assert published_schema_text() == documents_schema_text(), (
        "run: accounting schema -o client/src/accounting_impact_client/documents.schema.json"
    )


def test_the_schema_names_every_document_type_and_forbids_unknown_fields() -> None:
    schema = documents_schema()
    assert set(schema["discriminator"]["mapping"]) == {
        "invoice",
        "credit_note",
        "subscription_invoice",
        "payment",
        "refund",
        "payout",
    }
    assert all(kind["additionalProperties"] is False for kind in schema["$defs"].values())


@pytest.mark.parametrize(
    "example", ["examples/flask_app/app.py", "examples/django_project/shop/booking.py"]
)
def test_the_readme_shows_the_examples_the_tests_run(example: str) -> None:
    assert (ROOT / example).read_text().strip() in (ROOT / "README.md").read_text()


def test_the_wire_names_are_the_workers() -> None:
    import tasks.documents  # noqa: F401  (registers the public tasks)
    from tasks.app import app

    assert {routing.UPSERT_DOCUMENTS, routing.RECREATE} <= set(app.tasks)
    assert (Lane.HIGH.queue, Lane.NORMAL.queue) == (routing.HIGH_QUEUE, routing.NORMAL_QUEUE)
