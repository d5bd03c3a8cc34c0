"""No oversell over real HTTP, under concurrency: movements and reservations racing on the
same products, on two instances sharing one MariaDB database, and on one instance (the
production server) on SQLite. What is held is sampled from the database during the run,
on a connection of its own, not only at the end."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text
from support import (
    HttpAuth,
    LiveServer,
    create_product,
    loopback_address,
    migrated_sqlite,
    scratch_mariadb,
    server_env,
    settings_for,
    start_production,
    start_server,
    stop_production,
    stop_server,
)

pytestmark = pytest.mark.e2e
CLIENTS = 16
# Each product: its quantity, and what live reservations hold of it, as committed now.
LEDGER = text(
    "SELECT p.id, p.quantity,"
    " (SELECT COALESCE(SUM(i.quantity), 0) FROM reservation_items i"
    "  WHERE i.product_id = p.id AND i.held_until IS NOT NULL),"
    " (SELECT COALESCE(SUM(m.delta), 0) FROM stock_movements m WHERE m.product_id = p.id)"
    " FROM products p ORDER BY p.id"
)


@dataclass
class Shop:
    urls: list[str]
    headers: dict[str, str]
    database_url: str

    def url(self, n: int) -> str:
        """The instances in turn: request `n` goes to one, `n + 1` to the next."""
        return self.urls[n % len(self.urls)]


@pytest.fixture(scope="module", params=["mariadb", "sqlite"])
def shop(
    request: pytest.FixtureRequest,
    secrets_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Shop]:
    tmp = tmp_path_factory.mktemp(f"stock-{request.param}")
    if request.param == "mariadb":
        with scratch_mariadb() as url:
            env = server_env(settings_for(url, tmp / "instance", secrets_env), secrets_env)
            a = start_server(env, tmp / "a.log")
            try:
                b = start_production(env, tmp / "b.log")
            except BaseException:
                stop_server(a)
                raise
            try:
                yield _shop([a, b], url)
            finally:
                stop_server(a)
                stop_production(b)
                _no_traceback(a, b)
        return
    url = migrated_sqlite(tmp / "shop.db")
    env = server_env(settings_for(url, tmp / "instance", secrets_env), secrets_env)
    one = start_production(env, tmp / "one.log")
    try:
        yield _shop([one], url)
    finally:
        stop_production(one)
        _no_traceback(one)


def _shop(servers: list[LiveServer], database_url: str) -> Shop:
    # The database's first account: its admin, who may do everything here.
    headers = HttpAuth(servers[0].url, loopback_address()).headers()
    return Shop([s.url for s in servers], headers, database_url)


def _no_traceback(*servers: LiveServer) -> None:
    for server in servers:
        assert "Traceback" not in server.log(), server.log()[-3000:]


def _ledger(database_url: str) -> list[tuple[int, int, int, int]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [tuple(int(v) for v in row) for row in conn.execute(LEDGER)]  # type: ignore[misc]
    finally:
        engine.dispose()


def _products(shop: Shop, quantities: list[int]) -> list[int]:
    http = requests.Session()
    return [
        create_product(http, shop.headers, shop.url(0), quantity=q).json()["id"] for q in quantities
    ]


def _all(calls: list[Any]) -> list[requests.Response]:
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_64_concurrent_movements_of_minus_one_on_ten_give_ten_201_and_54_409(
    shop: Shop,
) -> None:
    (product_id,) = _products(shop, [10])
    http = requests.Session()

    def movement(n: int) -> Any:
        url = f"{shop.url(n)}/api/products/{product_id}/stock-movements"
        body = {"delta": -1, "reason": "sold"}
        return lambda: http.post(url, json=body, headers=shop.headers, timeout=60)

    answers = _all([movement(n) for n in range(64)])
    assert Counter(r.status_code for r in answers) == {201: 10, 409: 54}
    assert all(r.json()["available"] == 0 for r in answers if r.status_code == 409)
    assert sorted(r.json()["quantity_after"] for r in answers if r.status_code == 201) == list(
        range(10)
    )
    product = http.get(f"{shop.url(0)}/api/products/{product_id}", headers=shop.headers)
    assert product.json()["quantity"] == 0 and product.json()["version"] == 11
    ((_, quantity, _, moved),) = [row for row in _ledger(shop.database_url) if row[0] == product_id]
    assert quantity == moved == 0


class Sampler:
    """Reads quantities and holds from the database, on its own connection, until stopped;
    keeps every moment when a product held more than it had."""

    def __init__(self, database_url: str, products: list[int]) -> None:
        self.engine = create_engine(database_url)
        self.products = set(products)
        self.samples = 0
        self.oversold: list[tuple[int, int, int]] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def __enter__(self) -> Sampler:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.thread.join()
        self.engine.dispose()

    def _run(self) -> None:
        with self.engine.connect() as conn:
            while not self.done.is_set():
                for product_id, quantity, held, _ in conn.execute(LEDGER):
                    if product_id in self.products and held > quantity:
                        self.oversold.append((product_id, quantity, held))
                conn.rollback()  # the next sample reads what is committed by then
                self.samples += 1
                self.done.wait(0.005)


def test_concurrent_reservations_never_hold_more_than_a_product_has(shop: Shop) -> None:
    rng = random.Random(7)
    quantities = [rng.randrange(5, 25) for _ in range(10)]
    products = _products(shop, quantities)
    http = requests.Session()

    def basket(n: int) -> Any:
        chosen = rng.sample(products, rng.randrange(1, 5))
        if n % 2:  # the same products named in the opposite order
            chosen.sort(reverse=True)
        else:
            chosen.sort()
        items = [{"product_id": p, "quantity": rng.randrange(1, 4)} for p in chosen]
        url = f"{shop.url(n)}/api/reservations"
        return lambda: http.post(url, json={"items": items}, headers=shop.headers, timeout=60)

    with Sampler(shop.database_url, products) as sampler:
        answers = _all([basket(n) for n in range(200)])
    codes = Counter(r.status_code for r in answers)
    assert set(codes) <= {201, 409}, [r.text for r in answers if r.status_code >= 500][:3]
    assert codes[201] > 0 and codes[409] > 0  # both happened: the stock ran short
    assert sampler.samples > 1 and sampler.oversold == []
    for r in answers:
        if r.status_code == 409:
            assert r.json()["shortages"], r.json()
    ledger = {row[0]: row for row in _ledger(shop.database_url)}
    for product_id in products:
        _, quantity, held, _ = ledger[product_id]
        assert held <= quantity

    # Then every held reservation is committed or released, concurrently.
    made = [r.json()["id"] for r in answers if r.status_code == 201]

    def end(n: int, reservation_id: int) -> Any:
        url = f"{shop.url(n)}/api/reservations/{reservation_id}"
        if n % 2:
            return lambda: http.post(f"{url}/commit", headers=shop.headers, timeout=60)
        return lambda: http.delete(url, headers=shop.headers, timeout=60)

    with Sampler(shop.database_url, products) as sampler:
        ended = _all([end(n, reservation_id) for n, reservation_id in enumerate(made)])
    assert Counter(r.status_code for r in ended) == {
        200: len(made) // 2,
        204: len(made) - len(made) // 2,
    }
    assert sampler.oversold == []
    sold = Counter[int]()
    for r in ended:
        if r.status_code == 200:
            for item in r.json()["items"]:
                sold[item["product_id"]] += item["quantity"]
    ledger = {row[0]: row for row in _ledger(shop.database_url)}
    for product_id, quantity in zip(products, quantities, strict=True):
        _, now, held, moved = ledger[product_id]
        assert (now, held, moved) == (quantity - sold[product_id], 0, now)
        read = http.get(f"{shop.url(0)}/api/products/{product_id}", headers=shop.headers)
        assert read.json()["available"] == now


def test_patches_of_other_fields_never_conflict_with_movements_nor_undo_them(
    shop: Shop,
) -> None:
    (product_id,) = _products(shop, [10])
    http = requests.Session()
    url = f"/api/products/{product_id}"

    def call(n: int) -> Any:
        base = shop.url(n) + url
        if n % 3 == 0:
            body = {"name": f"Lamp {n}"}
            return lambda: http.patch(base, json=body, headers=shop.headers, timeout=60)
        move = {"delta": 1, "reason": "received"}
        return lambda: http.post(
            f"{base}/stock-movements", json=move, headers=shop.headers, timeout=60
        )

    answers = _all([call(n) for n in range(30)])
    assert Counter(r.status_code for r in answers) == {200: 10, 201: 20}
    final = http.get(shop.url(0) + url, headers=shop.headers).json()
    assert final["quantity"] == 30 and final["version"] == 31
    ((_, quantity, _, moved),) = [row for row in _ledger(shop.database_url) if row[0] == product_id]
    assert quantity == moved == 30
