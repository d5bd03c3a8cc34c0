"""Cursor pages stay exact while another client writes between (and during) them."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest
import requests
from support import HttpAuth, LiveServer, product_body


@pytest.mark.e2e
@pytest.mark.parametrize("sort", ["-price", "name", "quantity"])
def test_a_walk_sees_each_steady_product_once_while_others_change(
    live_server: LiveServer, http_auth: HttpAuth, sort: str
) -> None:
    base = f"{live_server.url}/api/products"
    headers = http_auth.headers()
    reader, writer = requests.Session(), requests.Session()
    steady = set()
    for n in range(90):
        # Ties in every sort key, so the walk must get ties right too.
        body = product_body(name=f"Steady item {n % 7}", price=f"{n % 5}.50", quantity=1 + n % 3)
        steady.add(reader.post(base, json=body, headers=headers, timeout=30).json()["id"])
    churn = [
        reader.post(
            base, json=product_body(name=f"Steady item {n}"), headers=headers, timeout=30
        ).json()["id"]
        for n in range(20)
    ]
    done = threading.Event()
    writes: list[int] = []

    def write() -> None:
        for n in itertools.count():
            if done.is_set():
                return
            victim = churn[n % len(churn)]
            if n % 4 == 0:  # a new product that matches, anywhere in the order
                body = product_body(name=f"Steady item {n % 9}", price=f"{n % 6}.50")
                churn.append(writer.post(base, json=body, headers=headers, timeout=30).json()["id"])
            elif n % 4 == 1:  # a changing product moves in the order
                body = {"price": f"{n % 6}.25", "quantity": n % 4, "name": f"Steady item {n}"}
                writer.patch(f"{base}/{victim}", json=body, headers=headers, timeout=30)
            elif n % 4 == 2:  # a steady product changes a field that is not its sort key
                product = sorted(steady)[n % len(steady)]
                body = {"description": f"note {n}"}
                writer.patch(f"{base}/{product}", json=body, headers=headers, timeout=30)
            else:
                writer.delete(f"{base}/{churn.pop(0)}", headers=headers, timeout=30)
            writes.append(n)

    thread = threading.Thread(target=write)
    thread.start()
    seen: list[int] = []
    try:
        for _ in range(3):  # three whole walks while the writer runs
            seen = []
            query: dict[str, Any] = {"q": "steady", "in_stock": "true", "sort": sort, "limit": 7}
            while True:
                r = reader.get(base, params=query, headers=headers, timeout=30)
                assert r.status_code == 200, r.text
                page = r.json()
                seen += [p["id"] for p in page["items"]]
                if page["next_cursor"] is None:
                    break
                query["cursor"] = page["next_cursor"]
            found = [i for i in seen if i in steady]
            assert sorted(found) == sorted(steady)  # every steady product, each once
    finally:
        done.set()
        thread.join()
    assert writes, "the writer made no change during the walks"
