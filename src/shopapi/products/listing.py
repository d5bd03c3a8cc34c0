"""The list of products: what it filters on and how (its sorts are the declaration's)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from apiflask import fields as api_fields
from marshmallow import ValidationError
from sqlalchemy import ColumnElement, Table, and_, or_, select

from ..resources.listing import Listing, QueryTime, at_least, at_most, flag, words
from ..resources.search import WALK
from ..stock.held import NOW, held
from ..stock.models import reservation_items
from .fields import PRICE_MESSAGE, SKU, parse_price
from .models import PRODUCTS


def in_stock(table: Table) -> ColumnElement[bool]:
    """Some of the product is available: more of it than reservations hold (a lookup of
    its holds per row, each one index range, and most rows match)."""
    more: ColumnElement[bool] = table.c.quantity > held(table.c.id)
    return more


def none_available(table: Table) -> ColumnElement[bool]:
    """None of the product is available: none in stock, or all of it held. The second is
    asked only of the few products with live holds (one index range, read once), so the
    filter does not compute holds for every product it passes over."""
    holding = select(reservation_items.c.product_id).where(reservation_items.c.held_until > NOW)
    return or_(
        table.c.quantity == 0,
        and_(table.c.id.in_(holding), table.c.quantity <= held(table.c.id)),
    )


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
    return q.lower() if SKU.fullmatch(q) else None


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
            "description. When every word is common but they seldom meet, a page looks at "
            f"{WALK:,} products at most and may hold fewer than limit, even none, with a "
            "next_cursor: follow it until it is null",
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
            in_stock,
            none_available,
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
# The export: the same filters and sort, every row at once (no limit or cursor).
ExportQuery = LISTING.query_schema("ProductExportQuery", paged=False)
