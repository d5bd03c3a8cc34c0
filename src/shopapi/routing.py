"""The one converter for ids in paths: `/api/products/<id:product_id>`.

Werkzeug's `int` converter accepts any Unicode digit (`/api/products/١` is product 1) and
numbers no column can hold (a 500 from the driver). An id here is what the service hands
out: ASCII digits, no leading zero, at most a signed 64-bit integer. Anything else is a
path that names nothing, a 404, like any other unknown path.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import BaseConverter, Map

LARGEST_ID = 2**63 - 1  # BIGINT and SQLite's INTEGER
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": LARGEST_ID}


def at_most(limit: int) -> str:
    """A regular expression for the decimal numbers 1..limit, with no leading zero.

    The bound lives in the pattern, not in `to_python`: Werkzeug checks a rule's methods
    before converting, so a conversion refused late would answer 405 to a PUT, not 404.
    """
    digits = str(limit)
    shorter = f"[1-9][0-9]{{0,{len(digits) - 2}}}" if len(digits) > 1 else ""
    same_length = [digits]
    for i, d in enumerate(digits):
        low = "1" if i == 0 else "0"
        if int(d) > int(low):
            rest = len(digits) - i - 1
            same_length.append(f"{digits[:i]}[{low}-{int(d) - 1}][0-9]{{{rest}}}")
    return "|".join(p for p in [shorter, *same_length] if p)


class IdConverter(BaseConverter):
    regex = f"(?:{at_most(LARGEST_ID)})"
    part_isolating = True
    weight = 50

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: Any) -> str:
        return str(int(value))


def register(url_map: Map) -> None:
    url_map.converters["id"] = IdConverter
