"""A resource: its declaration, its table, its history table and where it lives, and what
else its writes do (`Effects`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table

from ..errors import ApiError
from .declaration import Declaration
from .search import Search

if TYPE_CHECKING:
    from ..caller import Account


@dataclass(frozen=True)
class Written:
    """One write of a bulk: a create (`before` None) or a change, as `Effects` sees it."""

    resource_id: int
    before: Mapping[str, Any] | None
    after: Mapping[str, Any]


class Effects:
    """What a resource's writes do beyond its own row and history, in the same transaction,
    and the fields derived from other tables that its reads carry (not part of `version`).

    The kit calls `written()` after each create (`before` None), change and delete
    (`after` None), while the resource's row is locked by that write; it may refuse the
    write (raise `ApiError`: the whole unit of work rolls back), record what follows from
    it, and returns the derived fields of the answer. This base class does nothing.
    """

    def derived(self, table: Table) -> Mapping[str, Any]:
        """SQL expressions of the derived fields, by name, for reads of `table`'s rows."""
        return {}

    def read_params(self) -> dict[str, Any]:
        """Parameters the derived fields' SQL binds (the time of the read, say)."""
        return {}

    def written(
        self,
        conn: Connection,
        caller: Account,
        resource_id: int,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
        at: datetime,
    ) -> dict[str, Any]:
        return {}

    def written_many(
        self,
        conn: Connection,
        caller: Account,
        written: Sequence[Written],
        at: datetime,
        *,
        note: str | None = None,
    ) -> list[dict[str, Any]]:
        """`written()` of each of a bulk's creates and changes (`resources.bulk`), with the
        rows locked by them; the derived fields of each, in order. `note` says why (an
        import). A resource whose effects cost a statement a row does them in bulk here."""
        return [self.written(conn, caller, w.resource_id, w.before, w.after, at) for w in written]


@dataclass(frozen=True)
class Resource:
    """What the kit's writes and reads need to know of one kind of resource."""

    name: str  # "products": the kind of its cursors and idempotency keys
    declaration: Declaration
    table: Table
    history: Table
    history_key: str  # "product_id": the history column naming the resource
    path: str  # "/api/products": where one of them is, at `{path}/{id}`
    effects: Effects = field(default_factory=Effects)
    search: Search | None = None  # its searched words, kept with every write
    # "product": its changes are webhook events `product.created`, `.updated`, `.deleted`
    # (None: it sends none).
    event_prefix: str | None = None

    @property
    def noun(self) -> str:
        return self.declaration.noun

    def location(self, resource_id: int) -> str:
        return f"{self.path}/{resource_id}"

    def not_found(self, resource_id: int) -> ApiError:
        return ApiError(404, f"There is no {self.noun} {resource_id}.")
