"""A product's fields, declared once.

Everything else that names a product's fields is derived from `FIELDS` here: the table's
columns (`models.products`), the request and response schemas (`schemas.ProductIn`,
`ProductOut`), the API form of a row (`to_api`), the JSON the database writes for reads
(`json_object_sql`), the idempotency fingerprint (`writable_values`), the history's
`changes` and the seeder's rows. To add a field, add it here (and a migration).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from apiflask import fields as api_fields
from sqlalchemy import BigInteger, DateTime, Integer, String
from sqlalchemy.types import TypeEngine

from .fields import Price, StrictInteger, Text, format_price
from .types import Money

_WORDS = ("desk", "lamp", "chair", "mug", "cable", "shelf", "pen", "clock", "rug", "fan")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def iso(moment: datetime) -> str:
    # Stored times are naive UTC in whole seconds, so isoformat() has no fraction or offset.
    return moment.isoformat() + "Z"


def _same(value: Any) -> Any:
    return value


def _price_to_api(value: Decimal | None) -> str | None:
    return None if value is None else format_price(value)


# How each backend writes a column's value in API form, `{c}` standing for the column.
_TIME_SQL = {
    "mysql": "DATE_FORMAT({c}, '%Y-%m-%dT%H:%i:%sZ')",
    "sqlite": "strftime('%Y-%m-%dT%H:%M:%SZ', {c})",
}
# SQLite keeps prices as whole cents (see types.Money).
_PRICE_SQL = {"mysql": "CAST({c} AS CHAR)", "sqlite": "printf('%d.%02d', {c} / 100, {c} % 100)"}


@dataclass(frozen=True)
class Field:
    """One field of a product: its column, its API forms, and how to make test data."""

    name: str
    type: TypeEngine[Any]
    out: Callable[[], api_fields.Field[Any]]
    # The request field; None for the fields the service keeps (id, version, times).
    into: Callable[[], api_fields.Field[Any]] | None = None
    nullable: bool = False
    to_api: Callable[[Any], Any] = _same
    sql: Mapping[str, str] = field(default_factory=dict)
    seed: Callable[[random.Random, int], Any] | None = None

    @property
    def writable(self) -> bool:
        return self.into is not None

    def sql_for(self, dialect: str, column: str) -> str:
        return self.sql.get(dialect, "{c}").format(c=column)


def _time(name: str, description: str) -> Field:
    return Field(
        name,
        DateTime(),
        out=lambda: api_fields.DateTime(format=_TIME_FORMAT, metadata={"description": description}),
        to_api=iso,
        sql=_TIME_SQL,
    )


FIELDS: Sequence[Field] = (
    Field(
        "id",
        BigInteger().with_variant(Integer(), "sqlite"),
        out=lambda: api_fields.Integer(metadata={"minimum": 1}),
    ),
    Field(
        "name",
        String(100),
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
            metadata={"description": "Up to 255 characters, or null; omitted in POST or PUT: null"},
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
        seed=lambda rng, i: Decimal(rng.randrange(0, 10_000_000)).scaleb(-2),
    ),
    Field(
        "quantity",
        Integer(),
        into=lambda: StrictInteger(
            required=True, metadata={"description": "A JSON integer", "example": 12}
        ),
        out=api_fields.Integer,
        seed=lambda rng, i: rng.randrange(0, 1000),
    ),
    Field(
        "version",
        Integer(),
        out=lambda: api_fields.Integer(
            metadata={"description": "1 at creation, +1 per change; also the ETag"}
        ),
    ),
    _time("created_at", "When the product was created"),
    _time("updated_at", "When the product last changed"),
)
WRITABLE: Sequence[Field] = tuple(f for f in FIELDS if f.writable)
WRITABLE_NAMES = tuple(f.name for f in WRITABLE)


def to_api(row: Sequence[Any] | Mapping[str, Any]) -> dict[str, Any]:
    """A product in API form, from a row of the table's columns (in order) or a mapping."""
    if isinstance(row, Mapping):
        return {f.name: f.to_api(row[f.name]) for f in FIELDS}
    return {f.name: f.to_api(value) for f, value in zip(FIELDS, row, strict=True)}


def api_value(name: str, value: Any) -> Any:
    """One field's value in API form (as history's `changes` shows it)."""
    return _BY_NAME[name].to_api(value)


def writable_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """The writable fields of validated request data in API form (absent ones as null):
    what makes two create requests the same request."""
    return {f.name: f.to_api(data.get(f.name)) for f in WRITABLE}


def json_object_sql(dialect: str, columns: Sequence[str]) -> str:
    """SQL that makes the database write a product's JSON in API form, for `dialect`, from
    the SQL of its columns in `FIELDS` order.

    Made of this declaration and column names only: no input is ever formatted into it.
    """
    function = "JSON_OBJECT" if dialect == "mysql" else "json_object"
    pairs = ", ".join(
        f"'{f.name}', {f.sql_for(dialect, column)}"
        for f, column in zip(FIELDS, columns, strict=True)
    )
    return f"{function}({pairs})"


def seed_values(rng: random.Random, product_id: int) -> dict[str, Any]:
    """Made-up values of every writable field, for test data."""
    return {f.name: f.seed(rng, product_id) for f in WRITABLE if f.seed is not None}


_BY_NAME = {f.name: f for f in FIELDS}
