"""Opaque page cursors (signed with itsdangerous) and the ETag / If-Match headers of one product."""

from __future__ import annotations

import hashlib
import re

from itsdangerous import BadData, URLSafeSerializer

from ..errors import validation_error

# A salt of its own, so a cursor signature can never double as any other signature.
_CURSOR_SALT = "shopapi.products.cursor.v2"
_ENTITY_TAG = re.compile(r'(?:W/)?"([0-9]{1,10})"')
MAX_CURSOR_ID = 2**63 - 1


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(
        secret, salt=_CURSOR_SALT, signer_kwargs={"digest_method": hashlib.sha256}
    )


def make_cursor(after_id: int, secret: str) -> str:
    return _serializer(secret).dumps(after_id)


def read_cursor(cursor: str, secret: str) -> int:
    """The id a cursor continues after; 422 for anything this service did not issue."""
    invalid = validation_error({"cursor": ["Not a cursor this service issued."]})
    if not cursor.isascii() or len(cursor) > 100:
        raise invalid
    try:
        after = _serializer(secret).loads(cursor)
    except (BadData, ValueError, UnicodeError):
        raise invalid from None
    if type(after) is not int or not 0 <= after <= MAX_CURSOR_ID:
        raise invalid
    return after


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(header: str | None) -> set[int] | None:
    """Versions an If-Match header allows: None for absent or `*` (any), else a set."""
    if header is None or header.strip() == "*":
        return None
    versions: set[int] = set()
    for part in header.split(","):
        match = _ENTITY_TAG.fullmatch(part.strip())
        if not match:
            raise validation_error(
                {"If-Match": ['Use an ETag of this API: "3", W/"3" or *, comma-separated.']}
            )
        versions.add(int(match.group(1)))
    return versions
