"""Tables operators write by hand (a spreadsheet saved as CSV): rows as dictionaries, each
with its line number, or refused naming the line and the column."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from accounting_impact_client.values import storable


class TableError(ValueError):
    """A CSV text that is not the table it should be; the message names the line."""


def read_csv(
    text: str, *, required: Sequence[str], optional: Sequence[str] = ()
) -> list[tuple[int, dict[str, str]]]:
    """``(line number, {column: stripped value})`` of each non-blank row of a CSV text whose
    header names every ``required`` column and no column outside ``required`` + ``optional``
    (in any order; a UTF-8 byte order mark is ignored). Missing trailing cells read as ""."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = [cell.strip() for cell in next(reader)]
    except StopIteration:
        raise TableError(f"empty: a header line is needed ({','.join(required)})") from None
    except csv.Error as exc:
        raise TableError(f"line 1: not CSV: {exc}") from None
    missing = [column for column in required if column not in header]
    unknown = [c for c in header if c not in required and c not in optional]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    for problem, columns in (
        ("missing column", missing),
        ("unknown column", unknown),
        ("repeated column", duplicated),
    ):
        if columns:
            expected = ",".join([*required, *optional])
            raise TableError(f"line 1: {problem} {', '.join(columns)} (columns: {expected})")
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(header):
                raise TableError(f"line {line}: {len(cells)} cells, the header has {len(header)}")
            values = [cell.strip() for cell in cells] + [""] * (len(header) - len(cells))
            for column, value in zip(header, values, strict=True):
                if not storable(value):
                    raise TableError(
                        f"line {line}, {column}: NUL characters or text that is not UTF-8"
                    )
            rows.append((line, dict(zip(header, values, strict=True))))
    except csv.Error as exc:
        raise TableError(f"line {reader.line_num}: not CSV: {exc}") from None
    return rows
