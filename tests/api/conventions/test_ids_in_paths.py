"""Ids in paths are what the service hands out: ASCII digits, no leading zero, 64 bits.

Any other spelling of a number (Unicode digits, leading zeros, a sign, beyond 64 bits)
names nothing: 404, and nothing is read or changed through it.
"""

from __future__ import annotations

import random
import re
from typing import Any
from urllib.parse import quote

import pytest
from support import AuthActions, assert_problem, create_product, product_body

from shopapi.routing import at_most

BEYOND_64_BITS = ["9223372036854775808", "91870881404392374272", "1" + "0" * 40]


def odd_spellings(number: int) -> list[str]:
    """Other ways to write `number`: Arabic-Indic and fullwidth digits (as UTF-8 in the
    URL), leading zeros, a sign, a fraction, spaces."""
    digits = str(number)
    arabic = "".join(chr(0x0660 + int(d)) for d in digits)
    fullwidth = "".join(chr(0xFF10 + int(d)) for d in digits)
    return [
        quote(arabic),
        quote(fullwidth),
        f"0{digits}",
        f"000{digits}",
        f"+{digits}",
        f"{digits}.0",
        f"%20{digits}",
        f"{digits}%20",
    ]


@pytest.fixture
def editor(auth: AuthActions) -> dict[str, str]:
    return auth.headers()  # the first account is the admin: every route is open to it


@pytest.fixture
def product(client: Any, editor: dict[str, str]) -> dict[str, Any]:
    created: dict[str, Any] = create_product(client, editor).get_json()
    return created


@pytest.mark.parametrize("spelling", ["odd", "beyond"])
def test_other_spellings_of_a_product_id_are_404_and_change_nothing(
    client: Any, editor: dict[str, str], product: dict[str, Any], spelling: str
) -> None:
    ids = odd_spellings(product["id"]) if spelling == "odd" else BEYOND_64_BITS
    for raw in ids:
        path = f"/api/products/{raw}"
        assert_problem(client.get(path, headers=editor), 404)
        assert_problem(client.get(f"{path}/history", headers=editor), 404)
        assert_problem(client.put(path, json=product_body(name="Renamed"), headers=editor), 404)
        assert_problem(client.patch(path, json={"name": "Renamed"}, headers=editor), 404)
        assert_problem(client.delete(path, headers=editor), 404)
    after = client.get(f"/api/products/{product['id']}", headers=editor)
    assert after.status_code == 200 and after.get_json() == product


def test_the_largest_id_is_a_plain_not_found(client: Any, editor: dict[str, str]) -> None:
    path = "/api/products/9223372036854775807"
    assert "9223372036854775807" in assert_problem(client.get(path, headers=editor), 404)["detail"]
    assert_problem(client.delete(path, headers=editor), 404)


def test_session_and_user_ids_follow_the_same_rule(client: Any, editor: dict[str, str]) -> None:
    (mine,) = client.get("/auth/sessions", headers=editor).get_json()["items"]
    me = client.get("/auth/me", headers=editor).get_json()["id"]
    for raw in odd_spellings(mine["id"]) + BEYOND_64_BITS:
        assert_problem(client.delete(f"/auth/sessions/{raw}", headers=editor), 404)
    for raw in odd_spellings(me) + BEYOND_64_BITS:
        assert_problem(client.get(f"/admin/users/{raw}", headers=editor), 404)
        assert_problem(
            client.patch(f"/admin/users/{raw}", json={"role": "viewer"}, headers=editor), 404
        )
        assert_problem(client.post(f"/admin/users/{raw}/reset-totp", headers=editor), 404)
    # Nothing happened to the caller's session or account through those paths.
    assert client.get("/auth/sessions", headers=editor).get_json()["items"] == [mine]
    assert client.get("/auth/me", headers=editor).get_json()["role"] == "admin"


def test_the_openapi_document_says_ids_are_64_bit_positive_integers(client: Any) -> None:
    spec = client.get("/openapi.json").get_json()
    found = 0
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"].endswith("_id"):
                    found += 1
                    assert parameter["schema"] == {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 2**63 - 1,
                    }, path
    assert found >= 10


@pytest.mark.parametrize("limit", [1, 9, 10, 57, 100, 2**63 - 1])
def test_the_id_pattern_matches_exactly_one_to_the_limit(limit: int) -> None:
    pattern = re.compile(f"(?:{at_most(limit)})")
    near = [*range(0, 250), limit - 1, limit, limit + 1, limit * 10]
    for number in near + [random.randrange(limit * 3 + 10) for _ in range(2000)]:
        assert bool(pattern.fullmatch(str(number))) == (1 <= number <= limit), number
    assert not pattern.fullmatch(f"0{limit}")
