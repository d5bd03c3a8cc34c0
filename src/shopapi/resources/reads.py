"""Read models of a resource: one, cursor pages, the history of one.

Plain SQL that knows nothing of who is asking: each read takes `run`, which executes a
statement with its parameters and returns its rows in no particular order. Views pass the
account-checking runner (`checked_read`), so a read and the caller's account check are one
round trip (`db.together`).

The database writes each resource's JSON in API form (`Declaration.json_object_sql`): the
driver then decodes one text column per row instead of one typed column per field
(PyMySQL's per-column work is much of a read's cost), and a page's items need no work in
Python.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Text, bindparam, literal_column, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from .declaration import Declaration, iso, json_function
from .pages import Page, Run, keyset, keyset_page
from .resource import Resource


class resource_json(FunctionElement[str]):  # noqa: N801 - named like SQL functions
    """A resource's JSON in API form, written by the database (SQL per backend)."""

    type = Text()
    # The cache key is made of the columns, which name their table: one declaration each.
    inherit_cache = True

    def __init__(self, resource: Resource) -> None:
        self.declaration = resource.declaration
        derived = resource.effects.derived(resource.table)
        self.derived = tuple(derived)
        columns = (resource.table.c[f.name] for f in resource.declaration.fields)
        super().__init__(*columns, *derived.values())


@compiles(resource_json)
def _resource_json(element: resource_json, compiler: SQLCompiler, **kw: Any) -> str:
    sql_of = [compiler.process(clause, **kw) for clause in element.clauses]
    declaration: Declaration = element.declaration
    dialect, count = compiler.dialect.name, len(declaration.fields)
    # Through literal_column, so the dialect escapes '%' for its parameter style (the
    # derived fields' SQL is compiled already: its parameters stay as they are).
    pairs_sql = declaration.json_pairs_sql(dialect, sql_of[:count])
    pairs = compiler.process(literal_column(pairs_sql), **kw)
    derived = "".join(
        f", '{name}', {sql}" for name, sql in zip(element.derived, sql_of[count:], strict=True)
    )
    return f"{json_function(dialect)}({pairs}{derived})"


class Reads:
    """The statements reading one kind of resource, made once."""

    def __init__(self, resource: Resource) -> None:
        table, history = resource.table, resource.history
        body = resource_json(resource).label("body")
        self.resource = resource
        self._one = select(table.c.id, body).where(table.c.id == bindparam("id"))
        self._page = keyset(resource.name, select(table.c.id, body), table.c.id)
        self._history = (
            select(history.c.version, history.c.action, history.c.at, history.c.user_id)
            .add_columns(history.c.api_key_id, history.c.changes)
            .where(history.c[resource.history_key] == bindparam("id"))
            .order_by(history.c.version)
        )
        self._exists = select(table.c.id).where(table.c.id == bindparam("id"))

    def one(self, run: Run[Any], resource_id: int) -> dict[str, Any]:
        """The resource in API form; 404 if none."""
        rows = run(self._one, {"id": resource_id, **self.resource.effects.read_params()})
        if not rows:
            raise self.resource.not_found(resource_id)
        found: dict[str, Any] = json.loads(rows[0][1])
        return found

    def page(self, run: Run[Any], query: Mapping[str, Any]) -> tuple[str, Page[Any]]:
        """The JSON array of a page of resources in id order, and the page it came from.

        Keyset on the primary key: one index range scan whatever the table size or depth.
        """
        page = keyset_page(run, self._page, query, self.resource.effects.read_params())
        return "[" + ",".join(body for _, body in page.rows) + "]", page

    def history(self, run: Run[Any], resource_id: int) -> list[dict[str, Any]]:
        """Every change of the resource, oldest first; 404 if it never existed."""
        rows = sorted(run(self._history, {"id": resource_id}))
        if not rows:
            # A row inserted behind the API's back has no history, but exists.
            if not run(self._exists, {"id": resource_id}):
                raise self.resource.not_found(resource_id)
            return []
        return [
            {
                "action": action,
                "at": iso(at),
                "user_id": user_id,
                "api_key_id": api_key_id,
                "version": version,
                "changes": json.loads(changes),
            }
            for version, action, at, user_id, api_key_id, changes in rows
        ]
