"""Strict JSON request bodies: exact decimals, no NaN/Infinity, objects only.

Flask's `get_json()` turns `12.10` into a binary float; here every JSON number with a
fraction or exponent becomes a `Decimal`, so money never passes through a float.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, NoReturn

from flask import Request, g, request
from marshmallow import RAISE

from .errors import MAX_LISTED_FIELDS, ApiError, unlisted_fields


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def loads(raw: bytes | str) -> Any:
    """Parse JSON with numbers as `Decimal`/`int`; raise ValueError on anything invalid."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    return json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)


def body(req: Request | None = None) -> dict[str, Any]:
    """The request body as a JSON object, parsed once per request (415 / 400 otherwise)."""
    req = req or request
    if "json_body" in g:
        cached: dict[str, Any] = g.json_body
        return cached
    if not req.is_json:
        raise ApiError(415, "The request body must be sent as Content-Type: application/json.")
    raw = req.get_data(cache=True)
    if _past_the_limit(req, raw):
        raise ApiError(413, "The request body is larger than 1 MiB.")
    try:
        data = loads(raw)
    except (ValueError, RecursionError):
        # ValueError covers bad JSON, bad UTF-8, NaN/Infinity and over-long integers.
        raise ApiError(400, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    g.json_body = data
    return data


def _past_the_limit(req: Request, raw: bytes) -> bool:
    """A body sent without Content-Length (chunked) is read up to the limit and no further:
    one byte more in the stream means it was larger."""
    limit = req.max_content_length
    if req.content_length is not None or limit is None or len(raw) < limit:
        return False
    return bool(req.environ["wsgi.input"].read(1))


def register_json_loader() -> None:
    """Make APIFlask's `@input(..., location="json")` read bodies through `body()`."""
    from apiflask.schema_adapters.marshmallow import parser

    @parser.location_loader("json")
    def load_json(req: Request, schema: Any) -> dict[str, Any]:
        return _beyond_the_listed_dropped(body(req), schema)


def _beyond_the_listed_dropped(data: dict[str, Any], schema: Any) -> dict[str, Any]:
    """The body as the schema sees it: every declared field, and the first unknown ones
    that a 422 lists. The rest are counted, not validated: each is an error the answer
    would not list, and 75,000 of them cost marshmallow a second."""
    if len(data) <= MAX_LISTED_FIELDS or schema.unknown != RAISE:
        return data
    declared = {field.data_key or name for name, field in schema.load_fields.items()}
    kept: dict[str, Any] = {}
    unknown = 0
    for key, value in data.items():
        if key in declared:
            kept[key] = value
        else:
            unknown += 1
            if unknown <= MAX_LISTED_FIELDS:
                kept[key] = value
    if unknown > MAX_LISTED_FIELDS:
        unlisted_fields(unknown - MAX_LISTED_FIELDS)
    return kept
