"""Cursor pages, the same for every list: `limit` and an opaque, signed `cursor`.

A page is keyset on a key (`WHERE id > :start ORDER BY id LIMIT :rows`, or `<` and
descending for newest first), so its cost does not grow with the table or the page's depth.
`keyset()` makes such a statement of any SELECT, `keyset_page()` runs it for a request's
query. The cursor carries the key to continue after, signed with itsdangerous under a salt
per kind of list, so a cursor of one list (or anything else the service signs) is refused
by another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from apiflask import Schema, fields
from apiflask.fields import String
from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from marshmallow import ValidationError
from sqlalchemy import ColumnElement, bindparam
from sqlalchemy.orm import QueryableAttribute

from ..db.together import AnySelect
from ..errors import validation_error

MAX_PAGE = 200
DEFAULT_PAGE = 50
MAX_CURSOR_ID = 2**63 - 1
_MOST_DIGITS = len(str(MAX_CURSOR_ID))


class QueryInteger(fields.Integer):
    """A query-string integer in plain digits (no sign, spaces, underscores or decimals)."""

    def __init__(self, *, minimum: int, maximum: int, **kwargs: Any) -> None:
        self.minimum, self.maximum = minimum, maximum
        metadata = {"minimum": minimum, "maximum": maximum, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        text = value if isinstance(value, str) else ""
        if not (text.isascii() and text.isdigit() and len(text) <= _MOST_DIGITS):
            raise ValidationError(f"Must be a whole number from {self.minimum} to {self.maximum}.")
        number = int(text)
        if not self.minimum <= number <= self.maximum:
            raise ValidationError(f"Must be a whole number from {self.minimum} to {self.maximum}.")
        return number


class PageQuery(Schema):
    limit = QueryInteger(
        minimum=1,
        maximum=MAX_PAGE,
        load_default=DEFAULT_PAGE,
        metadata={"description": f"Page size, 1-{MAX_PAGE} (default {DEFAULT_PAGE})"},
    )
    cursor = String(metadata={"description": "`next_cursor` of the previous page"})


def _serializer(secret: str, kind: str) -> URLSafeSerializer:
    return URLSafeSerializer(
        secret, salt=f"shopapi.{kind}.cursor.v2", signer_kwargs={"digest_method": hashlib.sha256}
    )


def make_cursor(after_id: int, secret: str, kind: str) -> str:
    return _serializer(secret, kind).dumps(after_id)


def read_cursor(cursor: str, secret: str, kind: str) -> int:
    """The id a cursor continues after; 422 for anything this service did not issue."""
    invalid = validation_error({"cursor": ["Not a cursor this service issued."]})
    if not cursor.isascii() or len(cursor) > 100:
        raise invalid
    try:
        after = _serializer(secret, kind).loads(cursor)
    except (BadData, ValueError, UnicodeError):
        raise invalid from None
    if type(after) is not int or not 0 <= after <= MAX_CURSOR_ID:
        raise invalid
    return after


Row = TypeVar("Row", bound=Sequence[Any])
# Runs a statement with its parameters: rows in no particular order (`checked_read`, say).
Run = Callable[[AnySelect, Mapping[str, Any]], Sequence[Row]]


@dataclass(frozen=True)
class Keyset:
    """A list read a page at a time: `statement` (its first column the key) in key order."""

    kind: str  # the cursor's salt: a cursor of one kind of list is refused by another
    statement: AnySelect
    newest_first: bool = False


def keyset(
    kind: str,
    statement: AnySelect,
    key: ColumnElement[int] | QueryableAttribute[int],
    *,
    newest_first: bool = False,
) -> Keyset:
    """`statement`, filtered past the bound `start` in `key` order and limited to `rows`.

    Made once per list (a module constant), so a read joined to the caller's probe is
    compiled once."""
    if newest_first:
        statement = statement.where(key < bindparam("start")).order_by(key.desc())
    else:
        statement = statement.where(key > bindparam("start")).order_by(key)
    return Keyset(kind, statement.limit(bindparam("rows")), newest_first)


@dataclass(frozen=True)
class Page(Generic[Row]):
    rows: Sequence[Row]
    next_cursor: str | None


def _secret() -> str:
    secret: str = current_app.extensions["settings"].jwt_secret_key
    return secret


def cursor_signer(kind: str) -> URLSafeSerializer:
    """What signs and reads the cursors of lists of `kind`, with the app's secret: a list
    with cursors of its own (sort keys, say) signs them as every list does."""
    return _serializer(_secret(), kind)


def keyset_page(
    run: Run[Row],
    keyset: Keyset,
    query: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
) -> Page[Row]:
    """One page of `keyset` for a request's `query` (`PageQuery`): up to `limit` rows in key
    order after the query's `cursor` (422 if it is not one of this list's), and the cursor
    of the next page (None on the last)."""
    limit, secret = query["limit"], _secret()
    first = MAX_CURSOR_ID if keyset.newest_first else 0
    start = read_cursor(query["cursor"], secret, keyset.kind) if "cursor" in query else first
    found = run(keyset.statement, {**(params or {}), "start": start, "rows": limit + 1})
    rows = sorted(found, key=lambda row: row[0], reverse=keyset.newest_first)
    more = len(rows) > limit
    next_cursor = make_cursor(rows[limit - 1][0], secret, keyset.kind) if more else None
    return Page(rows[:limit], next_cursor)
