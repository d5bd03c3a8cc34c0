"""Bulk writes of any resource of the kit: many creates and changes in the request's unit of
work, a few statements per thousand rows instead of several per row (a file import).

Each write is what `versioned.create` or `versioned.change` would make of it, row for row:
the resource's row, its version, its history row, its searched words, its `effects` (in
bulk, `Effects.written_many`) and its webhook events. Changes take the rows' locks first,
in id order (`lock`), so two bulk writers over the same rows wait for each other instead
of deadlocking. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, RowMapping, bindparam, case, delete, insert, select, update
from sqlalchemy.orm import Session

from ..caller import Account
from ..db import utcnow
from ..errors import ApiError
from ..webhooks import outbox
from .resource import Resource, Written
from .versioned import history_row

# Rows a statement: well under every backend's limit of parameters per statement.
CHUNK = 500
T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def lock(session: Session, resource: Resource, ids: Iterable[int]) -> dict[int, Row[Any]]:
    """The current rows of `ids` (those that exist), locked for this transaction in id order
    (`SELECT ... FOR UPDATE`; SQLite's one writer needs no row locks)."""
    table = resource.table
    columns = [table.c[f.name] for f in resource.declaration.fields]
    statement = (
        select(*columns)
        .where(table.c.id.in_(bindparam("ids", expanding=True)))
        .order_by(table.c.id)
        .with_for_update()
    )
    conn = session.connection()
    found: dict[int, Row[Any]] = {}
    for part in chunks(sorted(set(ids))):
        for row in conn.execute(statement, {"ids": list(part)}):
            found[int(row.id)] = row
    return found


def changes_of(
    resource: Resource, current: Mapping[str, Any] | RowMapping, data: Mapping[str, Any]
) -> dict[str, list[Any]]:
    """History's `changes` of applying `data` (some writable fields) to `current`: each
    field that would change, `[before, after]` in API form; empty when nothing would."""
    declared = resource.declaration
    return {
        name: [declared.api_value(name, current[name]), declared.api_value(name, data[name])]
        for name in declared.writable_names
        if name in data and current[name] != data[name]
    }


def _insert_all(conn: Connection, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    for part in chunks(rows):
        conn.execute(insert(table), list(part))


def _finish(
    session: Session,
    resource: Resource,
    account: Account,
    written: Sequence[Written],
    at: datetime,
    note: str | None,
    what: str,
) -> None:
    """The effects of `written` and the webhook events: the resource's own first, then what
    its effects record (a product's `product.created` before its `stock.moved`)."""
    conn = session.connection()
    with outbox.following() as followed:
        derived = resource.effects.written_many(conn, account, written, at, note=note)
    if resource.event_prefix is not None:
        declared = resource.declaration
        outbox.record_many(
            conn,
            f"{resource.event_prefix}.{what}",
            (
                {**declared.to_api(w.after), **extra}
                for w, extra in zip(written, derived, strict=True)
                if w.after is not None
            ),
        )
    outbox.record_all(followed)


def create_many(
    session: Session,
    resource: Resource,
    account: Account,
    items: Sequence[Mapping[str, Any]],
    *,
    note: str | None = None,
) -> list[int]:
    """Insert a resource for each of `items` (validated writable fields) with its 'create'
    history row; their ids, in the order of `items`. `note` says to the effects why
    (a stock movement's note)."""
    if not items:
        return []
    declared, table = resource.declaration, resource.table
    conn, now = session.connection(), utcnow()
    values = [{name: item.get(name) for name in declared.writable_names} for item in items]
    rows = [
        {**v, "version": 1, "created_at": now, "updated_at": now, **declared.derived_values(v)}
        for v in values
    ]
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids: list[int] = []
    for part in chunks(rows):
        ids += [int(found[0]) for found in conn.execute(statement, list(part))]
    history = [
        history_row(
            resource,
            account,
            now,
            resource_id,
            1,
            "create",
            {name: [None, declared.api_value(name, value)] for name, value in v.items()},
        )
        for resource_id, v in zip(ids, values, strict=True)
    ]
    _insert_all(conn, resource.history, history)
    if resource.search is not None:
        search = resource.search
        tokens = [t for i, v in zip(ids, values, strict=True) for t in search.rows(i, v)]
        _insert_all(conn, search.table, tokens)
    written = [
        Written(
            resource_id,
            None,
            {"id": resource_id, **v, "version": 1, "created_at": now, "updated_at": now},
        )
        for resource_id, v in zip(ids, values, strict=True)
    ]
    _finish(session, resource, account, written, now, note, "created")
    return ids


_updates: dict[tuple[str, int], Any] = {}


def _update_statement(resource: Resource, size: int) -> Any:
    """One UPDATE of `size` rows, made once per resource and size: each column set by a
    CASE on the id (`b_id_<n>` the n-th row's id, `b_<column>_<n>` its value), the version
    one up where it is still `b_version_<n>`, the one read (a row changed since is missed)."""
    found = _updates.get((resource.name, size))
    if found is not None:
        return found
    table, declared = resource.table, resource.declaration
    ident = table.c.id

    def each(name: str) -> Any:
        # Bound as the column's type (a price in cents on SQLite), not as Python guesses.
        kind = table.c[name].type
        whens: list[Any] = [
            (bindparam(f"b_id_{n}"), bindparam(f"b_{name}_{n}", type_=kind)) for n in range(size)
        ]
        return case(*whens, value=ident)

    names = [*declared.writable_names, *(d.name for d in declared.derived)]
    made = (
        update(table)
        .where(ident.in_([bindparam(f"b_id_{n}") for n in range(size)]))
        .where(table.c.version == each("version"))
        .values(
            {
                **{name: each(name) for name in names},
                "version": table.c.version + 1,
                "updated_at": bindparam("b_at", type_=table.c.updated_at.type),
            }
        )
    )
    _updates[(resource.name, size)] = made
    return made


def _update_params(
    resource: Resource, rows: Sequence[Mapping[str, Any]], at: datetime
) -> dict[str, Any]:
    declared = resource.declaration
    params: dict[str, Any] = {"b_at": at}
    for n, row in enumerate(rows):
        params[f"b_id_{n}"] = row["id"]
        for name, value in (*row.items(), *declared.derived_values(row).items()):
            params[f"b_{name}_{n}"] = value
    return params


def change_many(
    session: Session,
    resource: Resource,
    account: Account,
    items: Sequence[tuple[Row[Any], Mapping[str, Any]]],
    *,
    note: str | None = None,
) -> int:
    """Apply each `(current, data)` of `items`: `current` a row `lock()` returned (locked by
    this transaction), `data` some writable fields. An item that changes nothing is left
    as it is (no version, no history), as `versioned.change` leaves it; how many changed."""
    declared = resource.declaration
    conn, now = session.connection(), utcnow()
    names = declared.writable_names
    rows, history, written = [], [], []
    rewritten: list[tuple[int, Mapping[str, Any]]] = []
    search = resource.search
    for current, data in items:
        before: Mapping[str, Any] = dict(current._mapping)
        changes = changes_of(resource, before, data)
        if not changes:
            continue
        after = {name: data.get(name, before[name]) for name in names}
        version = current.version + 1
        rows.append({"id": current.id, "version": current.version, **after})
        history.append(history_row(resource, account, now, current.id, version, "update", changes))
        written.append(
            Written(current.id, before, {**before, **after, "version": version, "updated_at": now})
        )
        if search is not None and any(name in changes for name in search.written_from):
            rewritten.append((current.id, after))
    if not rows:
        return 0
    for part in chunks(rows):
        statement = _update_statement(resource, len(part))
        result = conn.execute(statement, _update_params(resource, part, now))
        if result.rowcount != len(part):
            # Not under this transaction's locks after all: another writer got in between.
            raise ApiError(409, f"Some of these {resource.name} changed meanwhile; try again.")
    _insert_all(conn, resource.history, history)
    if search is not None and rewritten:
        key = search.table.c[search.key]
        for step in chunks(rewritten):
            gone = delete(search.table).where(key.in_([resource_id for resource_id, _ in step]))
            conn.execute(gone)
            _insert_all(conn, search.table, [t for i, v in step for t in search.rows(i, v)])
    _finish(session, resource, account, written, now, note, "updated")
    return len(rows)
