"""Who is calling: the request's token gives a principal, and the account behind it (its
role included) is checked in the database in one round trip, with the view's read."""

from __future__ import annotations

from .current import Account, Principal, account, authenticated, checked_read, principal

__all__ = ["Account", "Principal", "account", "authenticated", "checked_read", "principal"]
