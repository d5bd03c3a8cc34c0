"""Which constraint a write violated, by name, on every backend.

MariaDB names the unique key in its message; SQLite names the columns, which the tables'
metadata turns back into the constraint's name. Answers are chosen by that name in one
place (`errors.CONFLICTS`), so a new unique column cannot pass for another one.
"""

from __future__ import annotations

import re

from sqlalchemy import Index, UniqueConstraint
from sqlalchemy.exc import IntegrityError

from ..models import Base

_MARIADB_KEY = re.compile(r"for key '(?:[^'.]+\.)?([^']+)'\Z")
_MARIADB_FOREIGN_KEY = re.compile(r"CONSTRAINT `([^`]+)` FOREIGN KEY")
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)\Z")


def violated(error: IntegrityError) -> str | None:
    """The name of the constraint `error` reports, or None when it names none we know."""
    args = getattr(error.orig, "args", ())
    message = str(args[-1]) if args else str(error.orig)
    for pattern in (_MARIADB_KEY, _MARIADB_FOREIGN_KEY):
        found = pattern.search(message)
        if found:
            return found.group(1)
    found = _SQLITE_UNIQUE.search(message)
    if found:
        qualified = [part.strip() for part in found.group(1).split(",")]
        table = qualified[0].partition(".")[0]
        columns = tuple(part.partition(".")[2] for part in qualified)
        return _unique_by_columns(table, columns)
    return None


def _unique_by_columns(table_name: str, columns: tuple[str, ...]) -> str | None:
    table = Base.metadata.tables.get(table_name)
    if table is None:
        return None
    candidates: list[UniqueConstraint | Index] = [
        c for c in table.constraints if isinstance(c, UniqueConstraint)
    ]
    candidates += [i for i in table.indexes if i.unique]
    for constraint in candidates:
        if tuple(c.name for c in constraint.columns) == columns and constraint.name:
            return str(constraint.name)
    return None
