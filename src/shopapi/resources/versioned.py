"""Versioned writes of any resource of the kit: validated data, a checked account and the
unit of work in; API-shaped dicts or `ApiError` out.

Every change is one conditional statement (`... WHERE id = :id AND version = :v`) plus its
history row, in the request's unit of work (committed together by the view's wrapper): a
writer holding a stale version changes nothing. Nothing here commits.
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
    row = conn.execute(select(table).where(table.c.id == bindparam("id")), {"id": resource_id})
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


def _record(
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
    row = {
        resource.history_key: resource_id,
        "version": version,
        "action": action,
        "user_id": account.id,
        "api_key_id": account.api_key_id,
        "at": at,
        "changes": json.dumps(changes, ensure_ascii=False, separators=(",", ":")),
    }
    _execute(session, insert(resource.history).values(row))


def _tell(session: Session, resource: Resource, what: str, data: Mapping[str, Any]) -> None:
    """The webhook event of this change, in its transaction, if the resource sends any."""
    if resource.event_prefix is not None:
        outbox.record(session, f"{resource.event_prefix}.{what}", data)


def create(
    session: Session, resource: Resource, account: Account, data: Mapping[str, Any]
) -> dict[str, Any]:
    """Insert a resource and its 'create' history row."""
    declared = resource.declaration
    now = utcnow()
    values = {name: data.get(name) for name in declared.writable_names}
    row = {**values, "version": 1, "created_at": now, "updated_at": now}
    key = _execute(session, insert(resource.table).values(**row)).inserted_primary_key
    if key is None:  # pragma: no cover - every supported backend reports the new id
        raise RuntimeError(f"the database did not report the new {resource.noun}'s id")
    resource_id = int(key[0])
    changes = {name: [None, declared.api_value(name, v)] for name, v in values.items()}
    _record(
        session,
        resource,
        resource_id=resource_id,
        version=1,
        action="create",
        account=account,
        at=now,
        changes=changes,
    )
    created = declared.to_api({"id": resource_id, **row})
    _tell(session, resource, "created", created)
    return created


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
        current = _read(session.connection(), resource, resource_id)
        _require(resource, current.version, if_match)
        before = {name: getattr(current, name) for name in names}
        after = {**before, **{name: data[name] for name in names if name in data}}
        changes = {
            name: [api_value(name, before[name]), api_value(name, after[name])]
            for name in names
            if before[name] != after[name]
        }
        if not changes:
            return declared.to_api(current)  # nothing changes, so neither does the version
        now, version = utcnow(), current.version + 1
        result = _execute(
            session,
            update(table)
            .where(table.c.id == resource_id, table.c.version == current.version)
            .values(**after, version=version, updated_at=now),
        )
        if result.rowcount == 1:
            _record(
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
            updated = declared.to_api(changed)
            _tell(session, resource, "updated", updated)
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
            names = resource.declaration.writable_names
            now, version = utcnow(), current.version + 1
            _record(
                session,
                resource,
                resource_id=resource_id,
                version=version,
                action="delete",
                account=account,
                at=now,
                changes={n: [api_value(n, getattr(current, n)), None] for n in names},
            )
            # As it was last, with the delete's version (as its history numbers it).
            gone = {**current._mapping, "version": version, "updated_at": now}
            _tell(session, resource, "deleted", resource.declaration.to_api(gone))
            return
    raise _too_often(resource)
