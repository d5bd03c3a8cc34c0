"""SKUs: optional, a fixed alphabet, unique without regard to case, even under a race."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from support import AuthActions, HttpAuth, LiveServer, assert_problem, create_product, product_body


@pytest.fixture
def headers(auth: AuthActions) -> dict[str, str]:
    return auth.headers()


def test_a_sku_is_kept_as_written_and_shown_everywhere(
    client: Any, headers: dict[str, str]
) -> None:
    created = create_product(client, headers, sku="Lamp-42.b_1").get_json()
    assert created["sku"] == "Lamp-42.b_1"
    url = f"/api/products/{created['id']}"
    assert client.get(url, headers=headers).get_json()["sku"] == "Lamp-42.b_1"
    items = client.get("/api/products", headers=headers).get_json()["items"]
    assert items[0]["sku"] == "Lamp-42.b_1"


def test_products_without_a_sku_are_many(client: Any, headers: dict[str, str]) -> None:
    for _ in range(3):
        assert create_product(client, headers, sku=None).get_json()["sku"] is None
    assert create_product(client, headers, without=["sku"]).get_json()["sku"] is None


@pytest.mark.parametrize("taken", ["ab-1", "AB-1", "Ab-1"])
def test_a_sku_differing_only_in_case_is_409_naming_sku(
    client: Any, headers: dict[str, str], taken: str
) -> None:
    first = create_product(client, headers, sku="aB-1").get_json()
    r = client.post("/api/products", json=product_body(sku=taken), headers=headers)
    assert list(assert_problem(r, 409)["errors"]) == ["sku"]
    other = create_product(client, headers, sku="other").get_json()
    r = client.patch(f"/api/products/{other['id']}", json={"sku": taken}, headers=headers)
    assert list(assert_problem(r, 409)["errors"]) == ["sku"]
    body = product_body(sku=taken)
    r = client.put(f"/api/products/{other['id']}", json=body, headers=headers)
    assert list(assert_problem(r, 409)["errors"]) == ["sku"]
    # Nothing changed: the other product keeps its SKU and version.
    again = client.get(f"/api/products/{other['id']}", headers=headers).get_json()
    assert again["sku"] == "other" and again["version"] == 1
    # Its own SKU in another case is no conflict.
    r = client.patch(f"/api/products/{first['id']}", json={"sku": "AB-1"}, headers=headers)
    assert r.status_code == 200 and r.get_json()["sku"] == "AB-1"


def test_a_freed_sku_can_be_taken(client: Any, headers: dict[str, str]) -> None:
    first = create_product(client, headers, sku="X-1").get_json()
    client.patch(f"/api/products/{first['id']}", json={"sku": None}, headers=headers)
    assert create_product(client, headers, sku="x-1").status_code == 201


def test_put_without_a_sku_clears_it_and_history_records_it(
    client: Any, headers: dict[str, str]
) -> None:
    created = create_product(client, headers, sku="K-1").get_json()
    url = f"/api/products/{created['id']}"
    replaced = client.put(url, json=product_body(without=["sku"]), headers=headers).get_json()
    assert replaced["sku"] is None
    patched = client.patch(url, json={"name": "Other"}, headers=headers).get_json()
    assert patched["sku"] is None
    items = client.get(url + "/history", headers=headers).get_json()["items"]
    assert items[0]["changes"]["sku"] == [None, "K-1"]
    assert items[1]["changes"] == {"sku": ["K-1", None]}


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "sku", ["", "a b", "a/b", "é", "a" * 65, 12, True, ["a"], "ab\n", "ab\u0000", "Ａ1"]
)
def test_bad_skus_are_422(client: Any, headers: dict[str, str], sku: Any) -> None:
    r = client.post("/api/products", json=product_body(sku=sku), headers=headers)
    assert list(assert_problem(r, 422)["errors"]) == ["sku"]


@pytest.mark.sqlite_only
def test_openapi_carries_the_sku_pattern(client: Any) -> None:
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    sku = schemas["ProductIn"]["properties"]["sku"]
    assert sku["pattern"] == "^[A-Za-z0-9._-]{1,64}$"
    assert sku["maxLength"] == 64


@pytest.mark.e2e
def test_twenty_racing_creates_of_one_sku_make_one_product(
    live_server: LiveServer, http_auth: HttpAuth
) -> None:
    headers = http_auth.headers()
    spellings = [
        "".join(c.upper() if (n >> i) & 1 else c for i, c in enumerate("race-sku"))
        for n in range(20)
    ]

    def send(sku: str) -> requests.Response:
        url = f"{live_server.url}/api/products"
        return requests.post(url, json=product_body(sku=sku), headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(send, spellings))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19
    for r in responses:
        if r.status_code == 409:
            assert r.headers["Content-Type"] == "application/problem+json"
            assert list(r.json()["errors"]) == ["sku"]
    listing = requests.get(f"{live_server.url}/api/products", headers=headers, timeout=30)
    assert len(listing.json()["items"]) == 1
