"""Versioned writes of any resource of the kit: validated data, a checked account and the
unit of work in; API-shaped dicts or `ApiError` out.

Every change is one conditional statement (`... WHERE id = :id AND version = :v`) plus its
history row, in the request's unit of work (committed together by the view's wrapper): a
writer holding a stale version changes nothing. After each write, with the row locked by
it, the resource's `effects.written()` may refuse it or record what follows from it (a
product's stock movement), and adds the derived fields of the answer. Nothing here commits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, CursorResult, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from ..caller import Account
from ..db import utcnow
from ..errors import ApiError
from ..webhooks import outbox
from .etags import etag
from .resource import Resource

# Without If-Match a write re-reads and retries when another writer got in between.
MAX_ATTEMPTS = 20


def _read(conn: Connection, resource: Resource, resource_id: int) -> Any:
    table = resource.table
    columns = [table.c[f.name] for f in resource.declaration.fields]
    row = conn.execute(select(*columns).where(table.c.id == bindparam("id")), {"id": resource_id})
    found = row.first()
    if found is None:
        raise resource.not_found(resource_id)
    return found


def _require(resource: Resource, version: int, if_match: set[int] | None) -> None:
    if if_match is not None and version not in if_match:
        raise ApiError(
            412,
            f"The {resource.noun} is at version {version}, not the one in If-Match; "
            "read it again and retry.",
            headers={"ETag": etag(version)},
        )


def _too_often(resource: Resource) -> ApiError:
    return ApiError(409, f"The {resource.noun} is changing too often; try again.")


def _execute(session: Session, statement: Any) -> CursorResult[Any]:
    # Core on the session's connection: these statements need none of the ORM's work.
    return session.connection().execute(statement)


def record(
    session: Session,
    resource: Resource,
    *,
    resource_id: int,
    version: int,
    action: str,
    account: Account,
    at: datetime,
    changes: Mapping[str, list[Any]],
) -> None:
    row = history_row(resource, account, at, resource_id, version, action, changes)
    _execute(session, insert(resource.history).values(row))


def history_row(
    resource: Resource,
    account: Account,
    at: datetime,
    resource_id: int,
    version: int,
    action: str,
    changes: Mapping[str, list[Any]],
) -> dict[str, Any]:
    """The history row of one change: who, when, which version, each field's [before, after]."""
    return {
        resource.history_key: resource_id,
        "version": version,
        "action": action,
        "user_id": account.id,
        "api_key_id": account.api_key_id,
        "at": at,
        "changes": json.dumps(changes, ensure_ascii=False, separators=(",", ":")),
    }


def _tell(
    session: Session,
    resource: Resource,
    what: str,
    data: Mapping[str, Any],
    followed: list[tuple[Connection, str, Mapping[str, Any]]],
) -> None:
    """The webhook event of this change, if the resource sends any, then those of what
    followed from it, in its transaction (the endpoints read once for all of them)."""
    told = []
    if resource.event_prefix is not None:
        told.append((session.connection(), f"{resource.event_prefix}.{what}", data))
    outbox.record_all([*told, *followed])


def create(
    session: Session, resource: Resource, account: Account, data: Mapping[str, Any]
) -> dict[str, Any]:
    """Insert a resource and its 'create' history row."""
    declared = resource.declaration
    now = utcnow()
    values = {name: data.get(name) for name in declared.writable_names}
    row = {**values, "version": 1, "created_at": now, "updated_at": now}
    stored = {**row, **declared.derived_values(values)}
    key = _execute(session, insert(resource.table).values(**stored)).inserted_primary_key
    if key is None:  # pragma: no cover - every supported backend reports the new id
        raise RuntimeError(f"the database did not report the new {resource.noun}'s id")
    resource_id = int(key[0])
    created = {"id": resource_id, **row}
    if resource.search is not None:
        resource.search.write(session.connection(), resource_id, values)
    changes = {name: [None, declared.api_value(name, v)] for name, v in values.items()}
    record(
        session,
        resource,
        resource_id=resource_id,
        version=1,
        action="create",
        account=account,
        at=now,
        changes=changes,
    )
    with outbox.following() as followed:
        derived = resource.effects.written(
            session.connection(), account, resource_id, None, created, now
        )
    answer = {**declared.to_api(created), **derived}
    _tell(session, resource, "created", answer, followed)
    return answer


def change(
    session: Session,
    resource: Resource,
    account: Account,
    resource_id: int,
    data: Mapping[str, Any],
    *,
    if_match: set[int] | None,
) -> dict[str, Any]:
    """Apply `data` (every field for PUT, some for PATCH) if the version still allows it."""
    declared, table = resource.declaration, resource.table
    names, api_value = declared.writable_names, declared.api_value
    for _ in range(MAX_ATTEMPTS):
        now = utcnow()
        current = _read(session.connection(), resource, resource_id)
        _require(resource, current.version, if_match)
        before = {name: getattr(current, name) for name in names}
        after = {**before, **{name: data[name] for name in names if name in data}}
        changes = {
            name: [api_value(name, before[name]), api_value(name, after[name])]
            for name in names
            if before[name] != after[name]
        }
        if not changes:  # nothing changes, so neither does the version
            row = current._mapping
            derived = resource.effects.written(
                session.connection(), account, resource_id, row, row, now
            )
            return {**declared.to_api(row), **derived}
        version = current.version + 1
        result = _execute(
            session,
            update(table)
            .where(table.c.id == resource_id, table.c.version == current.version)
            .values(**after, **declared.derived_values(after), version=version, updated_at=now),
        )
        if result.rowcount == 1:
            search = resource.search
            if search is not None and any(name in changes for name in search.written_from):
                search.write(session.connection(), resource_id, after)
            record(
                session,
                resource,
                resource_id=resource_id,
                version=version,
                action="update",
                account=account,
                at=now,
                changes=changes,
            )
            changed = {**current._mapping, **after, "version": version, "updated_at": now}
            with outbox.following() as followed:
                derived = resource.effects.written(
                    session.connection(), account, resource_id, current._mapping, changed, now
                )
            updated = {**declared.to_api(changed), **derived}
            _tell(session, resource, "updated", updated, followed)
            return updated
        # Another writer got in between; this statement changed nothing. Each read sees the
        # latest committed version (READ COMMITTED; SQLite's lock was taken after it), so
        # the next round starts from that.
    raise _too_often(resource)


def remove(
    session: Session,
    resource: Resource,
    account: Account,
    resource_id: int,
    *,
    if_match: set[int] | None,
) -> None:
    """Delete the resource if the version still allows it; its history stays."""
    table, api_value = resource.table, resource.declaration.api_value
    for _ in range(MAX_ATTEMPTS):
        current = _read(session.connection(), resource, resource_id)
        _require(resource, current.version, if_match)
        result = _execute(
            session,
            delete(table).where(table.c.id == resource_id, table.c.version == current.version),
        )
        if result.rowcount == 1:
            if resource.search is not None:
                resource.search.forget(session.connection(), resource_id)
            names = resource.declaration.writable_names
            now, version = utcnow(), current.version + 1
            record(
                session,
                resource,
                resource_id=resource_id,
                version=version,
                action="delete",
                account=account,
                at=now,
                changes={n: [api_value(n, getattr(current, n)), None] for n in names},
            )
            conn = session.connection()
            resource.effects.written(conn, account, resource_id, current._mapping, None, now)
            # As it was last, with the delete's version (as its history numbers it).
            gone = {**current._mapping, "version": version, "updated_at": now}
            _tell(session, resource, "deleted", resource.declaration.to_api(gone), [])
            return
    raise _too_often(resource)
