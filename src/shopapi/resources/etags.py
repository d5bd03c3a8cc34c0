"""The ETag / If-Match headers of a versioned resource."""

from __future__ import annotations

import re

from ..errors import validation_error

_ENTITY_TAG = re.compile(r'(?:W/)?"([0-9]{1,10})"')


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
