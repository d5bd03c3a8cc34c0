"""A resource: its declaration, its table, its history table and where it lives."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table

from ..errors import ApiError
from .declaration import Declaration


@dataclass(frozen=True)
class Resource:
    """What the kit's writes and reads need to know of one kind of resource."""

    name: str  # "products": the kind of its cursors and idempotency keys
    declaration: Declaration
    table: Table
    history: Table
    history_key: str  # "product_id": the history column naming the resource
    path: str  # "/api/products": where one of them is, at `{path}/{id}`
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
