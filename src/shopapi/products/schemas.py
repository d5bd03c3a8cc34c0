"""Request and response shapes of products (inputs and outputs kept apart)."""

from __future__ import annotations

import re

from apiflask import Schema
from apiflask.fields import DateTime, Dict, Integer, List, Nested, Raw, String
from apiflask.validators import OneOf
from marshmallow import ValidationError

from .fields import Price, QueryInteger, StrictInteger, Text

MAX_PAGE = 200
DEFAULT_PAGE = 50
_TIME = "%Y-%m-%dT%H:%M:%SZ"
_KEY = re.compile(r"[!-~]{1,255}")


def _visible_ascii(value: str) -> None:
    if not _KEY.fullmatch(value):
        raise ValidationError("Use 1-255 visible ASCII characters (a UUID is ideal).")


class ProductIn(Schema):
    """Every writable field; PUT and POST need all but `description`, PATCH any subset."""

    name = Text(
        required=True,
        min_length=1,
        max_length=100,
        trim=True,
        metadata={"description": "1-100 characters after trimming", "example": "Desk lamp"},
    )
    description = Text(
        max_length=255,
        allow_none=True,
        load_default=None,
        metadata={"description": "Up to 255 characters, or null; omitted in POST or PUT: null"},
    )
    price = Price(required=True)
    quantity = StrictInteger(
        required=True, metadata={"description": "A JSON integer", "example": 12}
    )


class ProductOut(Schema):
    id = Integer(metadata={"minimum": 1})
    name = String()
    description = String(allow_none=True)
    price = String(
        metadata={"example": "1500.99", "description": "Exactly two decimals, as a string"}
    )
    quantity = Integer()
    version = Integer(metadata={"description": "1 at creation, +1 per change; also the ETag"})
    created_at = DateTime(format=_TIME)
    updated_at = DateTime(format=_TIME)


class PageQuery(Schema):
    limit = QueryInteger(
        minimum=1,
        maximum=MAX_PAGE,
        load_default=DEFAULT_PAGE,
        metadata={"description": f"Page size, 1-{MAX_PAGE} (default {DEFAULT_PAGE})"},
    )
    cursor = String(metadata={"description": "`next_cursor` of the previous page"})


class PageOut(Schema):
    items = List(Nested(ProductOut))
    next_cursor = String(
        allow_none=True, metadata={"description": "Pass as `cursor` for the next page; null last"}
    )


class HistoryItemOut(Schema):
    action = String(validate=OneOf(["create", "update", "delete"]))
    at = DateTime(format=_TIME)
    user_id = Integer(allow_none=True, metadata={"description": "Who made the change"})
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
