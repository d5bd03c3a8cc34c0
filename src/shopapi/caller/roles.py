"""Who may do what: three roles, each with the rights of the ones below it."""

from __future__ import annotations

from ..config import ROLES

VIEWER, EDITOR, ADMIN = ROLES
_RANK = {role: rank for rank, role in enumerate(ROLES)}


def allows(role: str, needed: str) -> bool:
    """Whether an account of `role` may do what needs `needed`."""
    return _RANK.get(role, -1) >= _RANK[needed]
