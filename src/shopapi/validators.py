"""Checks of request values that every resource shares."""

from __future__ import annotations

from marshmallow import ValidationError


def storable_text(value: str) -> None:
    """Refuse a lone surrogate ("\\ud800"): JSON lets it through, but it is not text, and no
    database can store it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("Must be valid Unicode text.") from None
