"""Cursor pages, the same for every list: `limit` and an opaque, signed `cursor`.

A page is keyset on the primary key (`WHERE id > :after ORDER BY id LIMIT :n`), so its cost
does not grow with the table or the page's depth. The cursor carries the id to continue
after, signed with itsdangerous under a salt per kind of list, so a cursor of one list (or
anything else the service signs) is refused by another.
"""

from __future__ import annotations

import hashlib
from typing import Any

from apiflask import Schema, fields
from apiflask.fields import String
from itsdangerous import BadData, URLSafeSerializer
from marshmallow import ValidationError

from .errors import validation_error

MAX_PAGE = 200
DEFAULT_PAGE = 50
MAX_CURSOR_ID = 2**63 - 1
_MOST_DIGITS = len(str(MAX_CURSOR_ID))


class QueryInteger(fields.Integer):
    """A query-string integer in plain digits (no sign, spaces, underscores or decimals).

    Any id the service hands out (up to 2**63 - 1, 19 digits) is accepted; longer text is
    refused before it is turned into a number, so no digit string costs more than that."""

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


def make_cursor(after_id: int, secret: str, kind: str = "products") -> str:
    return _serializer(secret, kind).dumps(after_id)


def read_cursor(cursor: str, secret: str, kind: str = "products") -> int:
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
