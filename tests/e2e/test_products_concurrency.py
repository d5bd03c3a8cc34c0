"""Concurrent writers over real HTTP: with If-Match exactly one wins; no update is lost."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from support import HttpAuth, LiveServer, create_product, product_body

pytestmark = pytest.mark.e2e
WRITERS = 10


def new_product(url: str, headers: dict[str, str]) -> str:
    """A lamp with none in stock (every writer below changes the quantity); its URL."""
    created = create_product(requests.Session(), headers, url, name="Lamp", quantity=0)
    return url + created.headers["Location"]


def at_once(calls: list[Any]) -> list[requests.Response]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


@pytest.mark.parametrize("method", ["put", "patch"])
def test_of_writers_holding_the_same_version_exactly_one_wins(
    live_server: LiveServer, http_auth: HttpAuth, method: str
) -> None:
    headers = {**http_auth.headers(), "If-Match": '"1"'}
    url = new_product(live_server.url, headers)

    def writer(n: int) -> Any:
        body = product_body(name=f"Lamp {n}", price=f"{n}.50", quantity=n)
        return lambda: requests.request(method, url, json=body, headers=headers, timeout=60)

    responses = at_once([writer(n) for n in range(WRITERS)])
    assert Counter(r.status_code for r in responses) == {200: 1, 412: WRITERS - 1}
    (winner,) = [r.json() for r in responses if r.status_code == 200]
    assert all(r.headers["ETag"] == '"2"' for r in responses)
    final = requests.get(url, headers=headers, timeout=30).json()
    assert final == winner and final["version"] == 2
    history = requests.get(f"{url}/history", headers=headers, timeout=30).json()["items"]
    assert [i["version"] for i in history] == [1, 2]
    assert history[1]["changes"]["name"] == ["Lamp", winner["name"]]


def test_of_deleters_holding_the_same_version_exactly_one_wins(
    live_server: LiveServer, http_auth: HttpAuth
) -> None:
    headers = {**http_auth.headers(), "If-Match": '"1"'}
    url = new_product(live_server.url, headers)
    responses = at_once([lambda: requests.delete(url, headers=headers, timeout=60)] * WRITERS)
    codes = Counter(r.status_code for r in responses)
    assert codes[204] == 1 and codes[204] + codes[404] == WRITERS
    history = requests.get(f"{url}/history", headers=headers, timeout=30).json()["items"]
    assert [(i["action"], i["version"]) for i in history] == [("create", 1), ("delete", 2)]


def test_writers_without_if_match_never_lose_an_update(
    live_server: LiveServer, http_auth: HttpAuth
) -> None:
    headers = http_auth.headers()
    url = new_product(live_server.url, headers)

    def writer(n: int) -> Any:
        body = {"quantity": n + 1}
        return lambda: requests.patch(url, json=body, headers=headers, timeout=60)

    responses = at_once([writer(n) for n in range(WRITERS)])
    assert [r.status_code for r in responses] == [200] * WRITERS
    assert sorted(r.json()["version"] for r in responses) == list(range(2, WRITERS + 2))
    final = requests.get(url, headers=headers, timeout=30).json()
    assert final["version"] == WRITERS + 1
    history = requests.get(f"{url}/history", headers=headers, timeout=30).json()["items"]
    assert [i["version"] for i in history] == list(range(1, WRITERS + 2))
    # Each change starts from the value the previous one left: a chain, nothing lost.
    chain = [i["changes"]["quantity"] for i in history[1:]]
    assert all(before == prev[1] for (before, _), prev in zip(chain[1:], chain, strict=False))
    assert chain[-1][1] == final["quantity"]
