"""``accounting schema``: the documents' JSON Schema, for producers in other languages."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from accounting_impact_client.schema import documents_schema_text
from tasks.cli.common import notices


def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write it to this file, not stdout")
    ] = None,
) -> None:
    """Print the JSON Schema of one document of ``accounting.upsert_documents``, generated from
    the models the workers validate with (also in the repository:
    client/src/accounting_impact_client/documents.schema.json)."""
    text = documents_schema_text()
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text)
    notices.print(f"wrote {output}")
