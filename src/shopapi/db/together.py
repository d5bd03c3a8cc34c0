"""Run a probe and a statement together: two reads, one round trip.

A *probe* reads at most one row by key (the caller's account, say); a *statement* reads any
rows of one table (one product, a product's history, a page of products). `together(probe,
statement)` makes one SELECT of both, in the shape that keeps each read as cheap as alone:

- a statement without LIMIT (rows by key) is LEFT JOINed to the probe on its own WHERE: each
  row carries the probe's columns, and a flag (the table's key is not null) tells whether
  the statement found anything;
- a statement with LIMIT (a range: a page) becomes the second part of a UNION ALL, each part
  padded with NULLs in the other's columns and tagged by a first column, so the range keeps
  its index walk and stops at its LIMIT (joined, the database would sort the whole range
  first). SQLite takes ORDER BY and LIMIT on a part of a UNION only inside a subquery, so
  there the range becomes one.

Nothing here knows what a probe is for. The rule it enforces instead of leaving unwritten:
the probe and the statement may not share a bind parameter name (`together` refuses them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Select,
    Table,
    literal_column,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.sql.util import ClauseAdapter

# A SELECT of any columns (SQLAlchemy types a statement by the tuple of its columns).
AnySelect = Select[*tuple[Any, ...]]
AnyCompound = CompoundSelect[*tuple[Any, ...]]
_PROBE_PART: ColumnElement[Any] = literal_column("0").label("part")
_STATEMENT_PART: ColumnElement[Any] = literal_column("1").label("part")


def _bind_names(statement: AnySelect) -> set[str]:
    return set(statement.compile().params)


def _padding(columns: Sequence[ColumnElement[Any]]) -> list[ColumnElement[Any]]:
    return [type_coerce(null(), c.type) for c in columns]


def _is_range(statement: AnySelect) -> bool:
    # SQLAlchemy has no public accessor for a statement's LIMIT; its SQL says it plainly.
    return " LIMIT " in str(statement.compile()).replace("\n", " ")


@dataclass(frozen=True, eq=False)
class Together:
    """A probe and a statement, compiled into one SELECT per SQL dialect."""

    probe: AnySelect
    statement: AnySelect
    is_range: bool
    _compiled: dict[str, AnySelect | AnyCompound] = field(default_factory=dict, repr=False)

    @property
    def probe_width(self) -> int:
        return len(self.probe.selected_columns)

    def for_dialect(self, dialect: str) -> AnySelect | AnyCompound:
        compiled = self._compiled.get(dialect)
        if compiled is None:
            compiled = self._union(dialect) if self.is_range else self._joined()
            self._compiled[dialect] = compiled
        return compiled

    def _joined(self) -> AnySelect:
        (table,) = self.statement.get_final_froms()
        if not isinstance(table, Table) or not table.primary_key.columns:
            raise ValueError("a statement joined to a probe reads one table with a key")
        (probe_from,) = self.probe.get_final_froms()
        # Under an alias of its own, so the statement may read the probe's table too.
        read = table.alias(f"{table.name}_read")
        adapt = ClauseAdapter(read).traverse
        key = read.c[table.primary_key.columns.values()[0].name]
        found = key.is_not(None).label("found")
        columns = [adapt(c) for c in self.statement.selected_columns]
        return (
            select(*self.probe.selected_columns, found, *columns)
            .select_from(probe_from.outerjoin(read, adapt(self.statement.whereclause)))
            .where(self.probe.whereclause)  # type: ignore[arg-type]
        )

    def _union(self, dialect: str) -> AnyCompound:
        probe_columns = list(self.probe.selected_columns)
        statement_columns = list(self.statement.selected_columns)
        probe = self.probe.with_only_columns(
            _PROBE_PART, *probe_columns, *_padding(statement_columns), maintain_column_froms=True
        )
        if dialect == "sqlite":
            inner = self.statement.subquery("together")
            rows = select(_STATEMENT_PART, *_padding(probe_columns), *inner.c)
        else:
            # MariaDB runs a parenthesised part with its own ORDER BY and LIMIT as it is (a
            # subquery would first be copied to a temporary table).
            rows = self.statement.with_only_columns(
                _STATEMENT_PART,
                *_padding(probe_columns),
                *statement_columns,
                maintain_column_froms=True,
            )
        return union_all(probe, rows)


def together(probe: AnySelect, statement: AnySelect) -> Together:
    """Combine `probe` (at most one row) and `statement`; see `run_together`."""
    shared = _bind_names(probe) & _bind_names(statement)
    if shared:
        raise ValueError(f"probe and statement share bind names: {sorted(shared)}")
    return Together(probe, statement, _is_range(statement))


def run_together(
    conn: Connection, combined: Together, params: Mapping[str, Any]
) -> tuple[tuple[Any, ...] | None, list[tuple[Any, ...]]]:
    """One round trip: the probe's row (None when it found none) and the statement's rows,
    in no particular order (sort them when order matters)."""
    width = combined.probe_width
    probe_row: tuple[Any, ...] | None = None
    rows: list[tuple[Any, ...]] = []
    result = conn.execute(combined.for_dialect(conn.dialect.name), dict(params))
    if combined.is_range:
        for row in result:
            if row[0] == 0:
                probe_row = tuple(row[1 : 1 + width])
            else:
                rows.append(tuple(row[1 + width :]))
        return probe_row, rows
    for row in result:
        probe_row = tuple(row[:width])
        if row[width]:
            rows.append(tuple(row[width + 1 :]))
    return probe_row, rows
