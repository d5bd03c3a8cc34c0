"""The list of products: what it filters on and how (its sorts are the declaration's)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from apiflask import fields as api_fields
from marshmallow import ValidationError
from sqlalchemy import ColumnElement, Table

from ..resources.listing import Listing, QueryTime, at_least, at_most, flag, words
from .fields import _SKU, PRICE_MESSAGE, parse_price
from .models import PRODUCTS


def available_sql(table: Table) -> ColumnElement[int]:
    """How many of a product can still be had: for now its quantity.

    Once reservations hold quantities, this becomes the quantity less what unexpired held
    reservations hold of it; `in_stock` is written against this one expression."""
    return table.c.quantity


class QueryPrice(api_fields.Field[Decimal]):
    """A price in a query string: plain decimal notation, as prices are in bodies."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$", "example": "19.99"}
        super().__init__(metadata={**metadata, **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        try:
            return parse_price(value)
        except ValueError:
            raise ValidationError(PRICE_MESSAGE) from None


def _sku_key(q: str) -> str | None:
    return q.lower() if _SKU.fullmatch(q) else None


LISTING = Listing(
    PRODUCTS,
    (
        words(
            "q",
            PRODUCTS,
            exact="sku_key",
            exact_key=_sku_key,
            description="Search, 1-100 characters, without regard to case or accents: the "
            "SKU, or words (3+ letters or digits) that each begin a word of the name or "
            "description",
        ),
        at_least(
            "min_price",
            "price",
            lambda: QueryPrice(metadata={"description": "Only products at this price or more"}),
        ),
        at_most(
            "max_price",
            "price",
            lambda: QueryPrice(metadata={"description": "Only products at this price or less"}),
        ),
        flag(
            "in_stock",
            lambda table: available_sql(table) > 0,
            lambda table: available_sql(table) == 0,
            "true: only products available now (available > 0); false: only those that are not",
        ),
        at_least(
            "updated_since",
            "updated_at",
            lambda: QueryTime(metadata={"description": "Only products changed at or after this"}),
        ),
    ),
)
ListQuery = LISTING.query_schema("ProductListQuery")
