"""A resource's list: filters, a sort on any sortable field, keyset cursor pages.

A list is its resource plus the `Filter`s its declaring module names; the sorts are the
declaration's sortable fields, each ascending or (`-name`) descending, ties broken by id
in the same direction. A page is one keyset range on the sort's `(field, id)` index:

    WHERE <filters> AND field >= :after_key AND (field > :after_key OR id > :after_id)
    ORDER BY field, id LIMIT :rows

so its cost does not grow with the table or the page's depth, and a row that kept its sort
key and kept matching is neither skipped nor repeated while others change between pages.
The cursor carries the last row's key and id, and a digest of the sort and filters it was
made for: used with another query it is refused (422), never quietly reinterpreted.

A statement is made once per shape of query (sort, direction, first page or not, which
filters and how many words), kept, and run with the caller's `checked_read`: one round trip.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from apiflask import Schema
from apiflask import fields as api_fields
from itsdangerous import BadData
from marshmallow import ValidationError
from marshmallow.validate import OneOf
from sqlalchemy import (
    ColumnElement,
    Integer,
    Table,
    and_,
    bindparam,
    case,
    false,
    func,
    or_,
    select,
    true,
)

from .. import db
from ..errors import validation_error
from . import search as token_search
from .declaration import TIME_FORMAT
from .pages import Page, PageQuery, Run, cursor_signer
from .reads import resource_json
from .resource import Resource
from .search import exact_token, query_words

# A batch of list rows, where it stopped (the sort key and id; None at the end), and the
# filters' shapes and parameters it was read with.
Batch = tuple[
    Sequence[Any], "tuple[Any, int] | None", "tuple[tuple[Hashable, ...], dict[str, Any]]"
]
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_MOST_CURSOR = 2000
_NOT_OURS = "Not a cursor this service issued."
_OTHER_QUERY = "This cursor belongs to another sort or other filters; start again without it."


class QueryTime(api_fields.Field[datetime]):
    """A time in a query string, as the API writes times: `2026-11-25T18:49:23Z`."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"type": "string", "format": "date-time", "example": "2026-11-25T18:49:23Z"}
        super().__init__(metadata={**metadata, **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        message = "Must be a UTC time in whole seconds, like 2026-11-25T18:49:23Z."
        if not isinstance(value, str) or not _TIME.fullmatch(value):
            raise ValidationError(message)
        try:
            return datetime.strptime(value, TIME_FORMAT)
        except ValueError:
            raise ValidationError(message) from None


class QueryFlag(api_fields.Field[bool]):
    """`true` or `false`, spelled so: nothing else in a query string is a boolean."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"type": "string", "enum": ["true", "false"]}
        super().__init__(metadata={**metadata, **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if value not in ("true", "false"):
            raise ValidationError("Must be true or false.")
        return bool(value == "true")


@dataclass(frozen=True)
class Filter:
    """A query parameter that narrows a list.

    `shape` of its value says which statement it needs (None: none at all), `where` makes
    that statement's condition of bound parameters, `params` binds them for the value."""

    name: str
    field: Callable[[], api_fields.Field[Any]]
    where: Callable[[Table, Hashable], ColumnElement[bool]]
    params: Callable[[Any], Mapping[str, Any]]
    shape: Callable[[Any], Hashable] = lambda value: True
    # Whether the condition of a shape is a lookup per row that the sort's index should
    # drive (the database would otherwise read whatever the condition matches, whole).
    walks: Callable[[Hashable], bool] = lambda shape: False


def at_least(name: str, column: str, field: Callable[[], api_fields.Field[Any]]) -> Filter:
    """`column >= value`."""
    return Filter(
        name,
        field,
        lambda table, _: table.c[column] >= bindparam(name, type_=table.c[column].type),
        lambda value: {name: value},
    )


def at_most(name: str, column: str, field: Callable[[], api_fields.Field[Any]]) -> Filter:
    """`column <= value`."""
    return Filter(
        name,
        field,
        lambda table, _: table.c[column] <= bindparam(name, type_=table.c[column].type),
        lambda value: {name: value},
    )


def flag(
    name: str,
    when_true: Callable[[Table], ColumnElement[bool]],
    when_false: Callable[[Table], ColumnElement[bool]],
    description: str,
) -> Filter:
    """`true` or `false`, each a condition of its own (no bound value)."""
    return Filter(
        name,
        lambda: QueryFlag(metadata={"description": description}),
        lambda table, shape: when_true(table) if shape else when_false(table),
        lambda value: {},
        shape=lambda value: bool(value),
    )


def words(
    name: str,
    resource: Resource,
    *,
    exact: str,
    exact_key: Callable[[str], str | None],
    description: str,
) -> Filter:
    """Search: the derived column `exact` equals `exact_key(q)`, or every word of `q` (see
    `search.query_words`) begins a word of the resource's searched fields.

    How a page is read depends on the words' counts (`Search.counts`): when one is rare the
    page is driven from its token range, the rarest word first, and the other words are
    probed per row; when every word is common the page walks the sort's index and probes
    each row (`Filter.walks`), which stops once the page is full. The words are bound
    rarest first, so both the shape and the parameters follow the counts."""
    search = resource.search
    if search is None:
        raise ValueError(f"{resource.name} has no searched fields")

    def ordered(q: str) -> tuple[list[str], bool]:
        found = query_words(q)
        if not found:
            return found, False
        counts = search.counts(db.reader(), found)
        by_count = sorted(zip(counts, found, strict=True))
        return [word for _, word in by_count], by_count[0][0] >= token_search.COMMON

    def shape(q: str) -> Hashable:
        found, common = ordered(q)
        return (exact_key(q) is not None, len(found), common)

    def where(table: Table, shape: Hashable) -> ColumnElement[bool]:
        has_exact, count, common = cast(tuple[bool, int, bool], shape)
        if not count:
            # No word: the exact key alone, one lookup in its unique index.
            return table.c[exact] == bindparam("q_exact") if has_exact else false()
        probes = [search.probe(table, n, exact=has_exact) for n in range(count)]
        if common:
            return and_(*probes)
        # The rarest word as a semi-join (its range read, also taking the exact key's
        # token: no OR outside it), the others probed per row it yields.
        rarest = table.c.id.in_(search.matching(0, exact=has_exact))
        return and_(rarest, *probes[1:])

    def params(q: str) -> Mapping[str, Any]:
        found, _ = ordered(q)
        key = exact_key(q)
        if key is None:
            return search.bind(found)
        # As the exact column holds it, or as the token table does.
        exact_value = key if not found else exact_token(key)
        return {"q_exact": exact_value, **search.bind(found)}

    return Filter(
        name,
        lambda: api_fields.String(
            validate=_between(1, 100), metadata={"description": description, "maxLength": 100}
        ),
        where,
        params,
        shape=shape,
        walks=lambda shape: bool(cast(tuple[bool, int, bool], shape)[2]),
    )


def _between(least: int, most: int) -> Callable[[str], None]:
    def check(value: str) -> None:
        if not least <= len(value) <= most:
            raise ValidationError(f"Must be {least}-{most} characters.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("Must be valid Unicode text.") from None

    return check


def _to_json(value: Any) -> list[Any]:
    if isinstance(value, Decimal):
        return ["d", str(value)]
    if isinstance(value, datetime):
        return ["t", value.strftime(TIME_FORMAT)]
    if isinstance(value, int):
        return ["i", value]
    return ["s", str(value)]


def _from_json(tagged: Any) -> Any:
    tag, value = tagged
    if tag == "d":
        return Decimal(value)
    if tag == "t":
        return datetime.strptime(value, TIME_FORMAT)
    if tag in ("i", "s"):
        return value
    raise ValueError(tag)


def _digest(sort: str, query: Mapping[str, Any], names: Sequence[str]) -> str:
    chosen = {name: query[name] for name in names if name in query}
    text = json.dumps([sort, chosen], sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:22]


class Listing:
    """The list of one kind of resource with its filters and sorts."""

    def __init__(self, resource: Resource, filters: Sequence[Filter]) -> None:
        self.resource = resource
        self.filters = tuple(filters)
        sortable = resource.declaration.sortable_names
        self.sorts = tuple(s for name in sortable for s in (name, f"-{name}"))
        self._statements: dict[Hashable, Any] = {}

    def query_schema(self, name: str, *, paged: bool = True) -> type[Schema]:
        """The list's query string: `limit`, `cursor` (unless not `paged`: the whole list at
        once, as an export reads it), `sort` and every filter."""
        choices = ", ".join(self.sorts)
        sort = api_fields.String(
            load_default="id",
            validate=OneOf(self.sorts, error="Must be one of: " + choices + "."),
            metadata={
                "enum": list(self.sorts),
                "description": f"One of {choices} ('-': descending); ties by id. Default id",
            },
        )
        fields: dict[str, Any] = {"sort": sort}
        fields.update({f.name: f.field() for f in self.filters})
        return type(name, (PageQuery if paged else Schema,), fields)

    def _statement(self, sort: str, continued: bool, shapes: tuple[Hashable, ...]) -> Any:
        key = (sort, continued, shapes)
        found = self._statements.get(key)
        if found is not None:
            return found
        resource, table = self.resource, self.resource.table
        descending, name = sort.startswith("-"), sort.removeprefix("-")
        column, ident = table.c[name], table.c.id
        body = resource_json(resource).label("body")
        conditions: list[ColumnElement[bool]] = []
        walks = False
        for listed, shape in zip(self.filters, shapes, strict=True):
            if shape is not None:
                conditions.append(listed.where(table, shape))
                walks = walks or listed.walks(shape)
        past: list[ColumnElement[bool]] = []
        if continued:
            past.append(self._past(table, name, descending))
        if walks:
            statement = self._walk(table, name, descending, continued, past, conditions, body)
        else:
            statement = select(ident, column.label("sort_key"), body).where(*conditions, *past)
        if descending:
            ordered = (
                statement.order_by(column.desc(), ident.desc())
                if name != "id"
                else (statement.order_by(ident.desc()))
            )
        else:
            ordered = (
                statement.order_by(column, ident) if name != "id" else (statement.order_by(ident))
            )
        made = ordered.limit(bindparam("rows"))
        self._statements[key] = made
        return made

    @staticmethod
    def _past(table: Any, name: str, descending: bool) -> ColumnElement[bool]:
        """The rows of `table` after the cursor's row (`after_key`, `after_id`) in the
        sort's order."""
        column, ident = table.c[name], table.c.id
        after_id = bindparam("after_id", type_=ident.type)
        past: ColumnElement[bool]
        if name == "id":
            past = ident < after_id if descending else ident > after_id
        else:
            after = bindparam("after_key", type_=column.type)
            if descending:
                past = and_(column <= after, or_(column < after, ident < after_id))
            else:
                past = and_(column >= after, or_(column > after, ident > after_id))
        return past

    def _walk(
        self,
        table: Table,
        name: str,
        descending: bool,
        continued: bool,
        past: list[ColumnElement[bool]],
        conditions: list[ColumnElement[bool]],
        body: Any,
    ) -> Any:
        """A page that walks the sort's index with a lookup per row, examining at most
        `walk_rows` rows of the index (bound at the read): the page ends at the `walk_rows`th
        row after the cursor, the *bound*, or at the last row when fewer remain.

        The bound row is read whatever it holds, so a page that found fewer than `rows`
        matches still says where it stopped: each row carries `matched` and the bound's id
        (null when the walk reached the end of the list), and `page` makes the next cursor
        from the bound. So a page costs at most `walk_rows` lookups however rarely the
        words meet; a page may then hold fewer rows than asked for, even none, and still
        have a next cursor."""
        column, ident = table.c[name], table.c.id
        index = "PRIMARY" if name == "id" else f"ix_{table.name}_{name}"

        def walked(which: str, *, offset: Any = None) -> Any:
            """The `which` column of the row `offset` rows after the cursor (or, without
            `offset`, of the last row), read from the sort's index alone."""
            rows = table.alias(f"{table.name}_walked")
            key, row_id = rows.c[name], rows.c.id
            backwards = descending if offset is not None else not descending
            order = [key.desc(), row_id.desc()] if backwards else [key, row_id]
            read = select(rows.c[which])
            if continued and offset is not None:
                read = read.where(self._past(rows, name, descending))
            read = read.order_by(*(order[1:] if name == "id" else order)).limit(1)
            if offset is not None:
                read = read.offset(offset)
            for dialect in ("mysql", "mariadb"):
                read = read.with_hint(rows, f"FORCE INDEX ({index})", dialect)
            return read.scalar_subquery()

        def at(which: Any, offset: Any) -> Any:
            return walked(which.name, offset=offset)

        def last(which: Any) -> Any:
            return walked(which.name)

        offset = bindparam("walk_last", type_=Integer())
        # The bound: the walk_rows-th row after the cursor, or the last row. Constant
        # subqueries, each one walk of the index read once, that bound the page's range.
        bound_id = func.coalesce(at(ident, offset), last(ident))
        bound_key = func.coalesce(at(column, offset), last(column)) if name != "id" else None
        if name == "id":
            within = ident >= bound_id if descending else ident <= bound_id
            is_bound = ident == bound_id
        else:
            within = (
                and_(column >= bound_key, or_(column > bound_key, ident >= bound_id))
                if descending
                else and_(column <= bound_key, or_(column < bound_key, ident <= bound_id))
            )
            is_bound = and_(column == bound_key, ident == bound_id)
        matched = and_(*conditions) if conditions else true()
        statement = select(
            ident,
            column.label("sort_key"),
            body,
            case((matched, true()), else_=false()).label("matched"),
            at(ident, offset).label("bound_id"),
        ).where(*past, within, or_(matched, is_bound))
        # MariaDB cannot tell that the page ends after `rows` matches: told to, it walks
        # the sort's index. (SQLite's planner walks it by itself.)
        for dialect in ("mysql", "mariadb"):
            statement = statement.with_hint(table, f"FORCE INDEX ({index})", dialect)
        return statement

    def _cursor(self, digest: str, key: Any, after_id: int) -> str:
        payload = [digest, _to_json(key), after_id]
        return cursor_signer(f"{self.resource.name}.list").dumps(payload)

    def cursor(self, query: Mapping[str, Any], key: Any, after_id: int) -> str:
        """The cursor of the page after the row `(key, after_id)` of the list for `query`
        (its sort and filters), as a page would have issued it."""
        names = [f.name for f in self.filters]
        return self._cursor(_digest(query["sort"], query, names), key, after_id)

    def _read_cursor(self, cursor: str, digest: str) -> tuple[Any, int]:
        invalid = validation_error({"cursor": [_NOT_OURS]})
        if not cursor.isascii() or len(cursor) > _MOST_CURSOR:
            raise invalid
        try:
            loaded = cursor_signer(f"{self.resource.name}.list").loads(cursor)
            made_for, tagged, after_id = loaded
            after = _from_json(tagged)
        except (BadData, ValueError, TypeError, UnicodeError):
            raise invalid from None
        if made_for != digest:
            raise validation_error({"cursor": [_OTHER_QUERY]})
        return after, int(after_id)

    def _filtered(self, query: Mapping[str, Any]) -> tuple[tuple[Hashable, ...], dict[str, Any]]:
        """The shapes of `query`'s filters (None for each one absent) and their parameters."""
        shapes: list[Hashable] = []
        params: dict[str, Any] = {}
        for listed in self.filters:
            if listed.name in query:
                shapes.append(listed.shape(query[listed.name]))
                params.update(listed.params(query[listed.name]))
            else:
                shapes.append(None)
        return tuple(shapes), params

    def prepare(self, query: Mapping[str, Any]) -> tuple[Any, dict[str, Any], str]:
        """The statement and parameters of one page for `query` (as the view's schema loaded
        it), and the digest its cursors carry; 422 for a cursor not of this query."""
        sort, limit = query["sort"], query["limit"]
        digest = _digest(sort, query, [f.name for f in self.filters])
        # The resource's derived fields (a product's `available`) bind the time of the read.
        shapes, params = self._filtered(query)
        params.update({"rows": limit + 1, **self.resource.effects.read_params()})
        continued = "cursor" in query
        if continued:
            params["after_key"], params["after_id"] = self._read_cursor(query["cursor"], digest)
            if sort.removeprefix("-") == "id":
                del params["after_key"]
        if self._walks(tuple(shapes)):
            params["walk_last"] = token_search.WALK - 1
        return self._statement(sort, continued, tuple(shapes)), params, digest

    def batches(
        self, run: Run[Any], query: Mapping[str, Any], size: int, first: Batch | None = None
    ) -> Iterator[Sequence[Any]]:
        """Every row `(id, sort key, JSON, ...)` of the list for `query` (its sort and
        filters; no limit or cursor), up to `size` rows a statement, each statement one
        keyset range after where the one before stopped: what a client following every
        cursor would read, with no statement held open between batches. A search that walks
        (see `_walk`) may read a batch of fewer rows, even none, before the end. `first`, if
        given, is the first batch already read (by `first_batch`): then nothing here needs
        the request any more (a streamed answer runs after its view has returned)."""
        rows, after, filtered = first if first is not None else self.first_batch(run, query, size)
        while True:
            if rows:
                yield rows
            if after is None:
                return
            rows, after, filtered = self._batch(run, query, size, after, filtered)

    def first_batch(self, run: Run[Any], query: Mapping[str, Any], size: int) -> Batch:
        """The first batch of the list for `query` (see `batches`), where it stopped, and
        the filters' shapes and parameters (judged once, in the request)."""
        return self._batch(run, query, size, None, self._filtered(query))

    def _batch(
        self,
        run: Run[Any],
        query: Mapping[str, Any],
        size: int,
        after: tuple[Any, int] | None,
        filtered: tuple[tuple[Hashable, ...], dict[str, Any]],
    ) -> Batch:
        """Up to `size` rows after `after` (the sort key and id of where the last batch
        stopped; None: from the start), and where this one stopped (None: at the end)."""
        sort = query["sort"]
        shapes, params = filtered[0], dict(filtered[1])
        params.update({"rows": size + 1, **self.resource.effects.read_params()})
        if after is not None:
            params["after_key"], params["after_id"] = after
            if sort.removeprefix("-") == "id":
                del params["after_key"]
        walks = self._walks(shapes)
        if walks:
            params["walk_last"] = token_search.WALK - 1
        found = run(self._statement(sort, after is not None, shapes), params)
        rows = sorted(found, key=lambda row: (row[1], row[0]), reverse=sort.startswith("-"))
        if walks:
            matched = [row for row in rows if row[3]]
            bound = [row for row in rows if row[0] == row[4]]
            if len(matched) > size:
                return matched[:size], (matched[size - 1][1], matched[size - 1][0]), filtered
            return matched, ((bound[0][1], bound[0][0]) if bound else None), filtered
        if len(rows) > size:
            return rows[:size], (rows[size - 1][1], rows[size - 1][0]), filtered
        return rows, None, filtered

    def _walks(self, shapes: tuple[Hashable, ...]) -> bool:
        return any(
            shape is not None and listed.walks(shape)
            for listed, shape in zip(self.filters, shapes, strict=True)
        )

    def page(self, run: Run[Any], query: Mapping[str, Any]) -> tuple[str, Page[Any]]:
        """The JSON array of one page of the list for a request's `query`, and the page."""
        sort, limit = query["sort"], query["limit"]
        statement, params, digest = self.prepare(query)
        found = run(statement, params)
        rows = sorted(found, key=lambda row: (row[1], row[0]), reverse=sort.startswith("-"))
        next_cursor = None
        if "walk_last" in params:
            # A walk (see `_walk`): the rows it matched, then perhaps its bound.
            matched = [row for row in rows if row[3]]
            bound = [row for row in rows if row[0] == row[4]]
            if len(matched) > limit:
                last = matched[limit - 1]
                next_cursor = self._cursor(digest, last[1], last[0])
            elif bound:
                next_cursor = self._cursor(digest, bound[0][1], bound[0][0])
            rows = matched
        elif len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = self._cursor(digest, last[1], last[0])
        page = Page(rows[:limit], next_cursor)
        return "[" + ",".join(row[2] for row in page.rows) + "]", page
