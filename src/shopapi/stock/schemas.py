"""Request and response shapes of stock movements and reservations."""

from __future__ import annotations

from typing import Any

from apiflask import Schema
from apiflask.fields import DateTime, Integer, List, Nested, String
from apiflask.validators import Length, OneOf
from marshmallow import ValidationError, validates, validates_schema

from ..products.fields import INT32_MAX, StrictInteger, Text
from ..resources.pages import PageQuery
from .models import COMMITTED, EXPIRED, HELD, INITIAL, REASONS, RELEASED

_TIME = "%Y-%m-%dT%H:%M:%SZ"
# The largest integer every JSON reader holds exactly (IEEE 754 doubles).
MAX_EXACT = 2**53 - 1


def _note() -> Text:
    return Text(
        max_length=255, allow_none=True, load_default=None, metadata={"description": "Up to 255"}
    )


class MovementIn(Schema):
    """A change of a product's quantity by `delta`, for a reason."""

    # Any exact JSON integer: one that cannot fit the quantity is 409 (with `available`),
    # as the contract says, not a validation failure.
    delta = StrictInteger(
        required=True,
        minimum=-MAX_EXACT,
        maximum=MAX_EXACT,
        metadata={"description": "A JSON integer, not 0", "example": -1},
    )
    reason = String(required=True, validate=OneOf(REASONS), metadata={"enum": list(REASONS)})
    note = _note()
    expected_quantity = StrictInteger(
        metadata={"description": "Apply only if the quantity is this now (else 412)"}
    )

    @validates("delta")
    def _not_zero(self, value: int, **_: Any) -> None:
        if value == 0:
            raise ValidationError("Must not be 0: a movement changes the quantity.")


class MovementOut(Schema):
    id = Integer()
    product_id = Integer()
    delta = Integer()
    reason = String(metadata={"enum": [INITIAL, *REASONS]})
    note = String(allow_none=True)
    quantity_after = Integer(metadata={"description": "The product's quantity after it"})
    version_after = Integer(metadata={"description": "The product's version after it"})
    at = DateTime(format=_TIME)
    user_id = Integer(allow_none=True, metadata={"description": "Who made it (null: the service)"})
    api_key_id = Integer(
        allow_none=True,
        metadata={"description": "The API key it was made with (null for a person signed in)"},
    )


class MovementPageOut(Schema):
    items = List(Nested(MovementOut))
    next_cursor = String(allow_none=True)


class ItemIn(Schema):
    product_id = StrictInteger(required=True, minimum=1, maximum=2**63 - 1)
    quantity = StrictInteger(required=True, minimum=1, maximum=INT32_MAX)


class ReservationIn(Schema):
    """Items to hold, all or none, for `expires_in` seconds."""

    items = List(
        Nested(ItemIn),
        required=True,
        validate=Length(min=1, max=100),
        metadata={"description": "1 to 100 items, each product at most once"},
    )
    expires_in = StrictInteger(
        minimum=60, maximum=3600, load_default=900, metadata={"description": "Seconds"}
    )
    note = _note()

    @validates_schema
    def _each_product_once(self, data: dict[str, Any], **_: Any) -> None:
        seen: set[int] = set()
        errors: dict[str, list[str]] = {}
        for index, item in enumerate(data.get("items") or []):
            if item["product_id"] in seen:
                errors[f"items[{index}].product_id"] = ["Each product may appear once."]
            seen.add(item["product_id"])
        if errors:
            raise ValidationError(errors)


class ItemOut(Schema):
    product_id = Integer()
    quantity = Integer()


class ReservationOut(Schema):
    id = Integer()
    status = String(metadata={"enum": [HELD, COMMITTED, RELEASED, EXPIRED]})
    items = List(Nested(ItemOut))
    expires_at = DateTime(format=_TIME)
    created_at = DateTime(format=_TIME)
    user_id = Integer()
    api_key_id = Integer(allow_none=True)
    note = String(allow_none=True)


class ReservationPageOut(Schema):
    items = List(Nested(ReservationOut))
    next_cursor = String(allow_none=True)


class ReservationQuery(PageQuery):
    status = String(validate=OneOf([HELD, COMMITTED, RELEASED, EXPIRED]))
