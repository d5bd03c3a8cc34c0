"""The catalogue as a CSV file: the export's lines, and the import's reading and checking.

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is written with a
leading `'`, so a spreadsheet shows it as text instead of running it as a formula; the
import takes that `'` off again, so an export imports back unchanged.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError

from ..errors import ApiError
from .fields import INT32_MAX
from .schemas import ProductIn

EXPORTED: tuple[str, ...] = ("id", "sku", "name", "description", "price", "quantity")
EXPORTED += ("available", "version", "updated_at")
IMPORTED = ("sku", "name", "description", "price", "quantity")
# What a new product needs; the others may be absent (null) or, on an update, stay as they are.
REQUIRED = ("name", "price", "quantity")
RISKY = ("=", "+", "-", "@", "\t", "\r")
MOST_ERRORS = 1000

_FIELDS = ProductIn(partial=True).fields


def neutral(cell: str) -> str:
    """`cell` as the export writes it: never a formula to a spreadsheet."""
    return "'" + cell if cell.startswith(RISKY) else cell


def restored(cell: str) -> str:
    """`cell` as it was before the export neutralised it."""
    return cell[1:] if cell.startswith("'") and cell[1:2] in RISKY else cell


def export_lines(batches: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """The CSV of products, a piece per batch of rows `(id, sort key, JSON in API form)`:
    the header first, then one line per product."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORTED)
    for rows in batches:
        for row in rows:
            product = json.loads(row[2])
            writer.writerow([_cell(product[name]) for name in EXPORTED])
        yield out.getvalue().encode("utf-8")
        out.seek(0)
        out.truncate()
    if out.tell():  # no product at all: the header alone
        yield out.getvalue().encode("utf-8")


def _cell(value: Any) -> str:
    return "" if value is None else neutral(str(value))


@dataclass(slots=True)
class Line:
    """One product line of an import: where it is in the file and what it says."""

    number: int
    data: dict[str, Any]


@dataclass
class Problems:
    """The bad lines of an import, up to MOST_ERRORS entries (all are counted)."""

    listed: list[dict[str, Any]] = field(default_factory=list)
    lines: set[int] = field(default_factory=set)

    def add(self, line: int, column: str | None, message: str) -> None:
        self.lines.add(line)
        if len(self.listed) < MOST_ERRORS:
            self.listed.append({"line": line, "field": column, "message": message})

    def refusal(self) -> ApiError:
        count = len(self.lines)
        lines = "line has" if count == 1 else "lines have"
        detail = f"{count} {lines} errors; nothing was changed."
        listed = sorted(self.listed, key=lambda e: (e["line"], e["field"] or ""))
        return ApiError(422, detail, extra={"errors": listed})


def bad_file(line: int, column: str | None, message: str) -> ApiError:
    problems = Problems()
    problems.add(line, column, message)
    error = problems.refusal()
    error.detail = message
    return error


def decoded(raw: bytes) -> str:
    """The file's text: UTF-8, a byte order mark dropped; 422 otherwise."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise bad_file(line, None, "The file is not UTF-8 text.") from None


def read(text: str, problems: Problems) -> tuple[tuple[str, ...], list[Line]]:
    """The columns the header names (of IMPORTED) and each product line, checked: a bad one
    is in `problems`, not in the lines. 422 at once for a file without a good header."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or "sku" not in [name.strip().lower() for name in header]:
            raise bad_file(1, "sku", "The first line must be a header naming the column sku.")
        names = [name.strip().lower() for name in header]
        twice = sorted({n for n in names if n in IMPORTED and names.count(n) > 1})
        if twice:
            raise bad_file(1, twice[0], f"The header names the column {twice[0]} twice.")
        at = {name: i for i, name in enumerate(names) if name in IMPORTED}
        columns = tuple(name for name in IMPORTED if name in at)
        lines: list[Line] = []
        last = reader.line_num
        for record in reader:
            number, last = last + 1, reader.line_num
            if not record:
                continue  # a blank line
            if len(record) != len(names):
                problems.add(
                    number, None, f"This line has {len(record)} cells; the header has {len(names)}."
                )
                continue
            data = _checked(number, {name: restored(record[i]) for name, i in at.items()}, problems)
            if data is not None:
                lines.append(Line(number, data))
    except csv.Error as error:
        raise bad_file(reader.line_num, None, f"The file is not valid CSV: {error}.") from None
    return columns, lines


def _checked(number: int, cells: dict[str, str], problems: Problems) -> dict[str, Any] | None:
    """A line's values as a product's fields, checked as a request's would be."""
    values: dict[str, Any] = {}
    bad = False
    for name, cell in cells.items():
        if name == "description":
            values[name] = cell or None
        elif not cell:
            problems.add(number, name, "Must not be empty.")
            bad = True
        elif name == "quantity":
            if not (cell.isascii() and cell.isdigit() and len(cell) <= 10):
                problems.add(number, name, f"Must be a whole number from 0 to {INT32_MAX}.")
                bad = True
            else:
                values[name] = int(cell)
        else:
            values[name] = cell
    # Each field checked as a request's would be (without a schema's work per line).
    loaded: dict[str, Any] = {}
    for name, value in values.items():
        try:
            loaded[name] = _FIELDS[name].deserialize(value)
        except ValidationError as error:
            for message in error.messages if isinstance(error.messages, list) else [error]:
                problems.add(number, name, str(message))
            bad = True
    return None if bad else loaded
