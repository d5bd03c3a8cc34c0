"""A product's fields, declared once (see `resources.declaration` for what derives from them).

To add a field, add it here (and a migration).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from apiflask import fields as api_fields
from sqlalchemy import Integer, String

from ..resources.declaration import (
    Declaration,
    Derived,
    Field,
    id_field,
    time_field,
    version_field,
)
from .fields import SKU_PATTERN, Price, Sku, StrictInteger, Text, format_price
from .types import Money

_WORDS = ("desk", "lamp", "chair", "mug", "cable", "shelf", "pen", "clock", "rug", "fan")
# SQLite keeps prices as whole cents (see types.Money).
# Names sort by code point on both backends (MariaDB's default collation would fold case
# and accents, and differ from SQLite's order).
_NAME_TYPE = String(100).with_variant(
    String(100, collation="utf8mb4_nopad_bin"), "mysql", "mariadb"
)
_PRICE_SQL = {"mysql": "CAST({c} AS CHAR)", "sqlite": "printf('%d.%02d', {c} / 100, {c} % 100)"}


def _price_to_api(value: Decimal | None) -> str | None:
    return None if value is None else format_price(value)


def _sortable(field: Field) -> Field:
    return replace(field, sortable=True)


PRODUCT = Declaration(
    "product",
    (
        _sortable(id_field()),
        Field(
            "sku",
            String(64),
            nullable=True,
            into=lambda: Sku(allow_none=True, load_default=None),
            out=lambda: api_fields.String(
                allow_none=True,
                metadata={"pattern": SKU_PATTERN, "example": "LAMP-42"},
            ),
            seed=lambda rng, i: f"SEED-{i}",
        ),
        Field(
            "name",
            _NAME_TYPE,
            sortable=True,
            into=lambda: Text(
                required=True,
                min_length=1,
                max_length=100,
                trim=True,
                metadata={"description": "1-100 characters after trimming", "example": "Desk lamp"},
            ),
            out=api_fields.String,
            seed=lambda rng, i: f"{rng.choice(_WORDS).title()} {rng.choice(_WORDS)} #{i}",
        ),
        Field(
            "description",
            String(255),
            nullable=True,
            into=lambda: Text(
                max_length=255,
                allow_none=True,
                load_default=None,
                metadata={
                    "description": "Up to 255 characters, or null; omitted in POST or PUT: null"
                },
            ),
            out=lambda: api_fields.String(allow_none=True),
            seed=lambda rng, i: None,
        ),
        Field(
            "price",
            Money(),
            into=lambda: Price(required=True),
            out=lambda: api_fields.String(
                metadata={"example": "1500.99", "description": "Exactly two decimals, as a string"}
            ),
            to_api=_price_to_api,
            sql=_PRICE_SQL,
            sortable=True,
            seed=lambda rng, i: Decimal(rng.randrange(0, 10_000_000)).scaleb(-2),
        ),
        Field(
            "quantity",
            Integer(),
            into=lambda: StrictInteger(
                required=True, metadata={"description": "A JSON integer", "example": 12}
            ),
            out=api_fields.Integer,
            sortable=True,
            seed=lambda rng, i: rng.randrange(0, 1000),
        ),
        version_field(),
        time_field("created_at", "When the product was created"),
        _sortable(time_field("updated_at", "When the product last changed")),
    ),
    # SKUs are ASCII, so lower() is exactly "without regard to case".
    derived=(Derived("sku_key", String(64), "sku", str.lower, unique=True),),
)
