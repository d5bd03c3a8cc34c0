"""Strict marshmallow fields: exact prices, real JSON integers, trimmed Unicode text.

marshmallow's own Decimal and Integer fields accept `true`, `5.0` and `"5"`; these do not.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from apiflask import fields
from marshmallow import ValidationError

from ..validators import storable_text

MAX_PRICE = Decimal("99999999.99")
CENT = Decimal("0.01")
INT32_MAX = 2_147_483_647
PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")

SKU_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
SKU = re.compile(r"[A-Za-z0-9._-]{1,64}")

PRICE_MESSAGE = (
    "Must be a number or a plain decimal string from 0 to 99999999.99 "
    "with at most two (nonzero) decimals."
)


def parse_price(value: object) -> Decimal:
    """The exact price `value` stands for, as a Decimal with two places; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise ValueError(PRICE_MESSAGE)
    if isinstance(value, str):
        if not PLAIN_DECIMAL.fullmatch(value):
            raise ValueError(PRICE_MESSAGE)
        try:
            value = Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid literals
            raise ValueError(PRICE_MESSAGE) from None
    amount = Decimal(value)
    # Range before quantize(): quantize raises on huge exponents such as 1e999999.
    if not amount.is_finite() or amount < 0 or amount > MAX_PRICE:
        raise ValueError(PRICE_MESSAGE)
    exact = amount.quantize(CENT)
    if exact != amount:
        raise ValueError(PRICE_MESSAGE)
    # -0 and -0.00 compare equal to 0 but print with a sign.
    return exact.copy_abs()


def format_price(amount: Decimal) -> str:
    return f"{amount:.2f}"


class Price(fields.Field[Decimal]):
    """A price in a request: JSON number or plain decimal string, checked exactly."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 99999999.99},
                {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
            ],
            "example": "1500.99",
            "description": "0 to 99999999.99, exact in two decimals ('1.105' is refused, "
            "never rounded): a JSON number or a plain decimal string.",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        try:
            return parse_price(value)
        except ValueError as error:
            raise ValidationError(str(error)) from None

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else format_price(Decimal(value))


class StrictInteger(fields.Integer):
    """A JSON integer (not a boolean, float or string) between `minimum` and `maximum`."""

    def __init__(self, *, minimum: int = 0, maximum: int = INT32_MAX, **kwargs: Any) -> None:
        self.minimum, self.maximum = minimum, maximum
        metadata = {"minimum": minimum, "maximum": maximum, **kwargs.pop("metadata", {})}
        super().__init__(strict=True, metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if type(value) is not int or not self.minimum <= value <= self.maximum:
            raise ValidationError(f"Must be a JSON integer from {self.minimum} to {self.maximum}.")
        return value


class Text(fields.String):
    """A string of valid Unicode whose length is counted in characters (code points)."""

    def __init__(self, *, max_length: int, min_length: int = 0, trim: bool = False, **kwargs: Any):
        self.min_length, self.max_length, self.trim = min_length, max_length, trim
        metadata = {"minLength": min_length, "maxLength": max_length, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError("Must be a string.")
        storable_text(value)
        text = value.strip() if self.trim else value
        if not self.min_length <= len(text) <= self.max_length:
            where = " after trimming spaces" if self.trim else ""
            raise ValidationError(f"Must be {self.min_length}-{self.max_length} characters{where}.")
        return text


class Sku(fields.String):
    """A SKU: 1-64 of `A-Z a-z 0-9 . _ -`; unique without regard to case (the database
    keeps that, see the declaration's `sku_key`)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "pattern": SKU_PATTERN,
            "minLength": 1,
            "maxLength": 64,
            "example": "LAMP-42",
            "description": "1-64 of A-Z a-z 0-9 . _ -, unique without regard to case; "
            "or null (omitted in POST or PUT: null)",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or not SKU.fullmatch(value):
            raise ValidationError("Must be 1-64 of the characters A-Z a-z 0-9 . _ -")
        return value
