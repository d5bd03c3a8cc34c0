"""A resource's fields, declared once, and everything derived from them.

A resource module lists its `Field`s in a `Declaration`; from it come the table's columns
(`table`), the request and response schemas (`in_schema`, `out_schema`), the API form of a
row (`to_api`), the JSON the database writes for reads (`json_object_sql`), the idempotency
fingerprint (`writable_values`), the history's `changes` and the seeder's rows.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from apiflask import Schema
from apiflask import fields as api_fields
from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, MetaData, Table
from sqlalchemy.types import TypeEngine

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# How each backend writes a time column in API form, `{c}` standing for the column.
_TIME_SQL = {
    "mysql": "DATE_FORMAT({c}, '%Y-%m-%dT%H:%i:%sZ')",
    "sqlite": "strftime('%Y-%m-%dT%H:%M:%SZ', {c})",
}


def json_function(dialect: str) -> str:
    """The SQL function that makes a JSON object of name-value pairs."""
    return "JSON_OBJECT" if dialect == "mysql" else "json_object"


def iso(moment: datetime) -> str:
    # Stored times are naive UTC in whole seconds, so isoformat() has no fraction or offset.
    return moment.isoformat() + "Z"


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Field:
    """One field of a resource: its column, its API forms, and how to make test data."""

    name: str
    type: TypeEngine[Any]
    out: Callable[[], api_fields.Field[Any]]
    # The request field; None for the fields the service keeps (id, version, times).
    into: Callable[[], api_fields.Field[Any]] | None = None
    nullable: bool = False
    to_api: Callable[[Any], Any] = _same
    sql: Mapping[str, str] = field(default_factory=dict)
    seed: Callable[[random.Random, int], Any] | None = None
    # A list may be sorted by it (then the table has an index on `(field, id)`).
    sortable: bool = False

    @property
    def writable(self) -> bool:
        return self.into is not None

    def sql_for(self, dialect: str, column: str) -> str:
        return self.sql.get(dialect, "{c}").format(c=column)


def id_field() -> Field:
    return Field(
        "id",
        BigInteger().with_variant(Integer(), "sqlite"),
        out=lambda: api_fields.Integer(metadata={"minimum": 1}),
    )


def version_field() -> Field:
    return Field(
        "version",
        Integer(),
        out=lambda: api_fields.Integer(
            metadata={"description": "1 at creation, +1 per change; also the ETag"}
        ),
    )


def time_field(name: str, description: str) -> Field:
    return Field(
        name,
        DateTime(),
        out=lambda: api_fields.DateTime(format=TIME_FORMAT, metadata={"description": description}),
        to_api=iso,
        sql=_TIME_SQL,
    )


@dataclass(frozen=True)
class Derived:
    """A column the service keeps from a writable field, never shown: `sku_key`, the
    lower-cased SKU, unique, so the database refuses two SKUs that differ only in case."""

    name: str
    type: TypeEngine[Any]
    source: str
    make: Callable[[Any], Any]
    unique: bool = False

    def of(self, value: Any) -> Any:
        return None if value is None else self.make(value)


@dataclass(frozen=True)
class Declaration:
    """The fields of one kind of resource, in column order; the first is its key `id`."""

    noun: str  # "product": in messages and schema names
    fields: Sequence[Field]
    derived: Sequence[Derived] = ()

    def __post_init__(self) -> None:
        if self.fields[0].name != "id":
            raise ValueError("a resource's first field is its key, `id`")

    @cached_property
    def writable(self) -> Sequence[Field]:
        return tuple(f for f in self.fields if f.writable)

    @cached_property
    def by_name(self) -> Mapping[str, Field]:
        return {f.name: f for f in self.fields}

    @cached_property
    def writable_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.writable)

    @cached_property
    def sortable_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.sortable)

    def table(self, metadata: MetaData, name: str, **options: Any) -> Table:
        """The resource's table: one column per field, `id` its auto-incremented key, then
        the derived columns (a unique index on each unique one), and an index on
        `(field, id)` for each sortable field but `id`."""
        return Table(
            name,
            metadata,
            *(
                Column(f.name, f.type, primary_key=True, autoincrement=True)
                if f.name == "id"
                else Column(f.name, f.type, nullable=f.nullable)
                for f in self.fields
            ),
            *(Column(d.name, d.type, nullable=True) for d in self.derived),
            *(Index(f"uq_{name}_{d.name}", d.name, unique=True) for d in self.derived if d.unique),
            *(Index(f"ix_{name}_{n}", n, "id") for n in self.sortable_names if n != "id"),
            **options,
        )

    def derived_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The derived columns' values for the writable fields' `values`."""
        return {d.name: d.of(values.get(d.source)) for d in self.derived}

    def in_schema(self, doc: str) -> type[Schema]:
        """The request schema of the writable fields (use it `partial=True` for PATCH)."""
        fields = {f.name: f.into() for f in self.writable if f.into is not None}
        return type(f"{self.noun.title()}In", (Schema,), {"__doc__": doc, **fields})

    def out_schema(self) -> type[Schema]:
        fields = {f.name: f.out() for f in self.fields}
        return type(f"{self.noun.title()}Out", (Schema,), {"__doc__": f"A {self.noun}.", **fields})

    def to_api(self, row: Sequence[Any] | Mapping[str, Any]) -> dict[str, Any]:
        """A resource in API form, from a row of the table's columns (in order) or a mapping."""
        if isinstance(row, Mapping):
            return {f.name: f.to_api(row[f.name]) for f in self.fields}
        return {f.name: f.to_api(value) for f, value in zip(self.fields, row, strict=True)}

    def api_value(self, name: str, value: Any) -> Any:
        """One field's value in API form (as history's `changes` shows it)."""
        return self.by_name[name].to_api(value)

    def writable_values(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The writable fields of validated request data in API form (absent ones as null):
        what makes two create requests the same request."""
        return {f.name: f.to_api(data.get(f.name)) for f in self.writable}

    def json_object_sql(self, dialect: str, columns: Sequence[str]) -> str:
        """SQL that makes the database write the resource's JSON in API form, for `dialect`,
        from the SQL of its columns in field order.

        Made of this declaration and column names only: no input is ever formatted into it.
        """
        return f"{json_function(dialect)}({self.json_pairs_sql(dialect, columns)})"

    def json_pairs_sql(self, dialect: str, columns: Sequence[str]) -> str:
        """The `'name', value` pairs of `json_object_sql`, for more to be added to them."""
        return ", ".join(
            f"'{f.name}', {f.sql_for(dialect, column)}"
            for f, column in zip(self.fields, columns, strict=True)
        )

    def seed_values(self, rng: random.Random, resource_id: int) -> dict[str, Any]:
        """Made-up values of every writable field, for test data."""
        return {f.name: f.seed(rng, resource_id) for f in self.writable if f.seed is not None}
