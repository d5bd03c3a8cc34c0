"""Request and response shapes of products (inputs and outputs kept apart)."""

from __future__ import annotations

import re

from apiflask import Schema
from apiflask.fields import DateTime, Dict, Integer, List, Nested, Raw, String
from apiflask.validators import OneOf
from marshmallow import ValidationError

from ..resources.listing import QueryFlag
from .declaration import PRODUCT

_TIME = "%Y-%m-%dT%H:%M:%SZ"
_KEY = re.compile(r"[!-~]{1,255}")


def _visible_ascii(value: str) -> None:
    if not _KEY.fullmatch(value):
        raise ValidationError("Use 1-255 visible ASCII characters (a UUID is ideal).")


# Both derived from the one declaration of a product's fields.
ProductIn = PRODUCT.in_schema(
    "Writable fields: POST and PUT need all but `description`; PATCH any."
)


class ProductOut(PRODUCT.out_schema()):  # type: ignore[misc]
    """A product, with what of its quantity reservations leave."""

    available = Integer(
        metadata={
            "description": "quantity less what unexpired, uncommitted reservations hold; "
            "never below 0 (exact when read; not part of version or ETag)"
        }
    )


class PageOut(Schema):
    items = List(Nested(ProductOut))
    next_cursor = String(
        allow_none=True, metadata={"description": "Pass as `cursor` for the next page; null last"}
    )


class HistoryItemOut(Schema):
    action = String(validate=OneOf(["create", "update", "delete"]))
    at = DateTime(format=_TIME)
    user_id = Integer(allow_none=True, metadata={"description": "Who made the change"})
    api_key_id = Integer(
        allow_none=True,
        metadata={"description": "The API key it was made with (null for a person signed in)"},
    )
    version = Integer(metadata={"description": "The version this change produced"})
    changes = Dict(
        keys=String(),
        values=List(Raw(), metadata={"minItems": 2, "maxItems": 2}),
        metadata={"description": "field: [before, after] in API form (prices as strings)"},
    )


class HistoryOut(Schema):
    items = List(Nested(HistoryItemOut))


class IfMatchHeaders(Schema):
    if_match = String(
        data_key="If-Match",
        metadata={
            "description": 'Only act on this version: "3", W/"3" or *; otherwise 412',
            "pattern": r'^(\*|(W/)?"[0-9]{1,10}"( *, *(W/)?"[0-9]{1,10}")*)$',
            "example": '"3"',
        },
    )


class CreateHeaders(Schema):
    idempotency_key = String(
        data_key="Idempotency-Key",
        validate=_visible_ascii,
        metadata={
            "pattern": "^[!-~]{1,255}$",
            "example": "3f1c9a52-8d0e-4c4e-9b7a-2f0d6c1e5a77",
            "description": "A retry with the same key and body within 24 hours replays the "
            "first response and creates nothing; the same key with another body is 422",
        },
    )


class LocationHeader(Schema):
    location = String(data_key="Location", metadata={"description": "/api/products/<id>"})
    etag = String(data_key="ETag", metadata={"description": 'The version, quoted: "1"'})


class ETagHeader(Schema):
    etag = String(data_key="ETag", metadata={"description": 'The version, quoted: "3"'})


class ImportQuery(Schema):
    dry_run = QueryFlag(
        load_default=False,
        metadata={"description": "true: change nothing, answer what the import would do"},
    )


class ImportErrorOut(Schema):
    line = Integer(metadata={"description": "The line of the file (the header is line 1)"})
    field = String(allow_none=True, metadata={"description": "The column, if one is at fault"})
    message = String()


class ImportOut(Schema):
    created = Integer(metadata={"description": "Products created (or, dry run, to be created)"})
    updated = Integer(metadata={"description": "Products changed"})
    unchanged = Integer(metadata={"description": "Lines that matched their product already"})
    errors = List(Nested(ImportErrorOut), metadata={"description": "Empty: a bad line is 422"})
