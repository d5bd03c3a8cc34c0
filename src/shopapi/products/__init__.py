"""Products: exact money, optimistic concurrency, idempotent creates, full history."""

from __future__ import annotations

from apiflask import APIFlask


def register(app: APIFlask) -> None:
    """Products are wired in by the products package (see its routes)."""
