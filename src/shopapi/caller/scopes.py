"""What an API key may do: its scopes, each declared here once with the lowest role that
can use it, the scopes it implies and what it allows.

A key's request needs its scope and its owner's role as it is at that request; the docs'
table of scopes is checked against this module by a test.
"""

from __future__ import annotations

from collections.abc import Iterable

from .roles import EDITOR, VIEWER

# Each scope: the lowest role that can use it, the scopes it implies, and what it allows.
SCOPES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "products:read": (
        VIEWER,
        (),
        "every GET of products (one, the list, history, stock movements) and of the "
        "owner's reservations",
    ),
    "products:write": (
        EDITOR,
        ("products:read",),
        "create, replace, update and delete products (implies products:read)",
    ),
    "stock:write": (EDITOR, (), "record stock movements (implies no read)"),
    "reservations:write": (EDITOR, (), "make, commit and release reservations (no read)"),
    "events:read": (VIEWER, (), "the owner's security log (GET /auth/events)"),
}
# A view open to every key, whatever its scopes (GET /auth/me).
ANY_KEY = "*"


def expand(scopes: Iterable[str]) -> frozenset[str]:
    """The scopes a key has: those it was given and those they imply."""
    names = set(scopes)
    for name in list(names):
        names.update(SCOPES[name][1] if name in SCOPES else ())
    return frozenset(names)


def allows(granted: Iterable[str], needed: str | None) -> bool:
    """Whether a key with `granted` scopes may call a view that takes `needed` (None: no key
    ever)."""
    if needed is None:
        return False
    return needed == ANY_KEY or needed in expand(granted)


def lowest_role(scope: str) -> str:
    return SCOPES[scope][0]


def stored(scopes: Iterable[str]) -> str:
    """The scopes as the database keeps them: sorted, space-separated."""
    return " ".join(sorted(set(scopes)))


def parsed(column: str) -> list[str]:
    return column.split()
