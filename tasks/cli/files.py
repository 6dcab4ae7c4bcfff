"""Files operators hand to commands: read as UTF-8 text or JSON, or refused with the reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from accounting.domain.chart import AccountSpec, chart_from_csv, chart_from_json
from accounting.domain.matrix import PostingMatrix, matrix_from_csv, matrix_from_json
from accounting.errors import UnreadableFile

#: Larger than any matrix, document or rate table an operator writes by hand.
MAX_FILE_BYTES = 50_000_000


def read_text(file: Path) -> str:
    """The file's text; UnreadableFile when it is too large or not UTF-8."""
    size = file.stat().st_size
    if size > MAX_FILE_BYTES:
        raise UnreadableFile(f"{file}: {size:,} bytes; at most {MAX_FILE_BYTES:,}")
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{file}: not UTF-8 text (byte {exc.start})") from None


def read_json(file: Path) -> Any:
    """The file's JSON value; UnreadableFile when it is not JSON (or nested too deeply)."""
    return parse_json(read_text(file), str(file))


def parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableFile(f"{where}: not JSON: {exc}") from None
    except RecursionError:
        raise UnreadableFile(f"{where}: not JSON: nested too deeply") from None


def is_csv(file: Path) -> bool:
    """Tables are CSV when their name says so (``.csv``), JSON otherwise."""
    return file.suffix.lower() == ".csv"


def read_chart(file: Path) -> list[AccountSpec]:
    """A chart of accounts from a CSV (code,name,kind) or JSON file; InvalidChart names
    each bad row and field."""
    if is_csv(file):
        return chart_from_csv(read_text(file))
    return chart_from_json(read_json(file))


def read_matrix(org_id: str, file: Path) -> PostingMatrix:
    """A posting matrix from a CSV (document_type,component,group,debit,credit) or JSON file;
    InvalidMatrix names each bad rule and field."""
    if is_csv(file):
        return matrix_from_csv(org_id, read_text(file))
    return matrix_from_json(org_id, read_json(file))
