"""Opaque page cursors (HMAC-signed) and the ETag / If-Match headers of one product."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

from ..errors import validation_error

_CURSOR_LABEL = b"shopapi/products/cursor/v1"
_ENTITY_TAG = re.compile(r'(?:W/)?"([0-9]{1,10})"')


def _cursor_key(secret: str) -> bytes:
    # A key of its own, so a cursor signature can never double as a token signature.
    return hmac.new(secret.encode(), _CURSOR_LABEL, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_cursor(after_id: int, secret: str) -> str:
    payload = str(after_id).encode()
    signature = hmac.new(_cursor_key(secret), payload, hashlib.sha256).digest()[:16]
    return f"{_b64(payload)}.{_b64(signature)}"


def read_cursor(cursor: str, secret: str) -> int:
    """The id a cursor continues after; 422 for anything this service did not issue."""
    invalid = validation_error({"cursor": ["Not a cursor this service issued."]})
    payload_text, _, signature_text = cursor.partition(".")
    if not cursor.isascii() or len(cursor) > 100:
        raise invalid
    try:
        payload, signature = _unb64(payload_text), _unb64(signature_text)
    except (binascii.Error, ValueError):
        raise invalid from None
    expected = hmac.new(_cursor_key(secret), payload, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(signature, expected) or not payload.isdigit():
        raise invalid
    return int(payload)


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
