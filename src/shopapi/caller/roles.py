"""Who may do what: three roles, each with the rights of the ones below it.

The roles and what each may do are declared here once: `/auth/me` serves the caller's
`permissions` to clients (the console keeps no ranking of its own), and tests hold the
docs' tables against this module.
"""

from __future__ import annotations

from ..config import ROLES

VIEWER, EDITOR, ADMIN = ROLES
_RANK = {role: rank for rank, role in enumerate(ROLES)}

# Each permission, the lowest role that has it, and what it allows.
PERMISSIONS: dict[str, tuple[str, str]] = {
    "products:read": (VIEWER, "read products and their history"),
    "products:write": (EDITOR, "create, replace, update and delete products"),
    "admin": (ADMIN, "everything under /admin/: accounts, invites, every account's log"),
}


def allows(role: str, needed: str) -> bool:
    """Whether an account of `role` may do what needs `needed`."""
    return _RANK.get(role, -1) >= _RANK[needed]


def permissions(role: str) -> list[str]:
    """What an account of `role` may do, in the names of `PERMISSIONS`."""
    return [name for name, (lowest, _) in PERMISSIONS.items() if allows(role, lowest)]
