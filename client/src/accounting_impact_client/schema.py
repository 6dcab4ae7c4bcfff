"""The documents' JSON Schema, for producers in other languages: what one item of
``accounting.upsert_documents``'s ``documents`` may be. ``documents.schema.json`` next to this
module is this schema as published (a test keeps it current; ``accounting schema`` prints it)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from pydantic import TypeAdapter

from accounting_impact_client.documents import Document
from accounting_impact_client.routing import PAYLOAD_SCHEMA

SCHEMA_FILE = "documents.schema.json"


def documents_schema() -> dict[str, Any]:
    """The JSON Schema of one document, generated from the models the workers validate with."""
    schema = TypeAdapter(Document).json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://accounting-impact.dev/schema/documents/v{PAYLOAD_SCHEMA}.json",
        "title": f"accounting-impact document (payload schema {PAYLOAD_SCHEMA})",
        **schema,
    }


def documents_schema_text() -> str:
    return json.dumps(documents_schema(), indent=2, sort_keys=True) + "\n"


def published_schema_text() -> str:
    """The schema file shipped with the client."""
    return resources.files("accounting_impact_client").joinpath(SCHEMA_FILE).read_text()
