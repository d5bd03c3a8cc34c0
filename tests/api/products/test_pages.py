"""Cursor pages of products: keyset on id, signed cursors, strict limits; and the seeder."""

from __future__ import annotations

from typing import Any

import pytest
from support import AuthActions, assert_problem, create_product, statements_sent

from shopapi.products.listing import LISTING
from shopapi.resources.pages import make_cursor


@pytest.fixture
def headers(auth: AuthActions) -> dict[str, str]:
    return auth.headers()


def seed(app: Any, count: int) -> None:
    result = app.test_cli_runner().invoke(args=["seed-products", str(count), "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert f"seeded {count} products" in result.output


def walk(client: Any, headers: dict[str, str], limit: int) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    while True:
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = client.get("/api/products" + query, headers=headers)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert set(body) == {"items", "next_cursor"}
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_empty_table_is_one_empty_page(client: Any, headers: dict[str, str]) -> None:
    assert client.get("/api/products", headers=headers).get_json() == {
        "items": [],
        "next_cursor": None,
    }


def test_pages_cover_every_product_once_in_id_order(
    app: Any, client: Any, headers: dict[str, str]
) -> None:
    seed(app, 7)
    pages = walk(client, headers, 3)
    assert [len(p) for p in pages] == [3, 3, 1]
    ids = [item["id"] for page in pages for item in page]
    assert ids == sorted(ids) and len(set(ids)) == 7
    one = client.get(f"/api/products/{ids[4]}", headers=headers).get_json()
    assert pages[1][1] == one  # a listed product is exactly what GET returns


def test_an_exact_last_page_has_no_next_cursor(
    app: Any, client: Any, headers: dict[str, str]
) -> None:
    seed(app, 4)
    assert [len(p) for p in walk(client, headers, 2)] == [2, 2]


def test_default_limit_is_50_and_200_is_allowed(
    app: Any, client: Any, headers: dict[str, str]
) -> None:
    seed(app, 201)
    first = client.get("/api/products", headers=headers).get_json()
    assert len(first["items"]) == 50 and first["next_cursor"]
    assert [len(p) for p in walk(client, headers, 200)] == [200, 1]


def test_a_cursor_survives_deletion_of_its_product(client: Any, headers: dict[str, str]) -> None:
    ids = []
    for n in range(4):
        ids.append(create_product(client, headers, name=f"p{n}").get_json()["id"])
    page = client.get("/api/products?limit=2", headers=headers).get_json()
    assert client.delete(f"/api/products/{ids[1]}", headers=headers).status_code == 204
    rest = client.get(f"/api/products?limit=2&cursor={page['next_cursor']}", headers=headers)
    assert [item["id"] for item in rest.get_json()["items"]] == ids[2:]


@pytest.mark.parametrize(
    "limit", ["0", "201", "-1", "abc", "1.5", "", " 5", "+5", "1_0", "1e2", "٥", "99999999999"]
)
@pytest.mark.sqlite_only
def test_bad_limits_are_422_never_clamped(client: Any, headers: dict[str, str], limit: str) -> None:
    r = client.get("/api/products", query_string={"limit": limit}, headers=headers)
    assert list(assert_problem(r, 422)["errors"]) == ["limit"]


def test_bad_cursors_are_422(app: Any, client: Any, headers: dict[str, str]) -> None:
    seed(app, 3)
    issued = client.get("/api/products?limit=1", headers=headers).get_json()["next_cursor"]
    payload, _, signature = issued.partition(".")
    forged_payload = make_cursor(0, "x" * 64, "products").partition(".")[0]
    bad = [
        "",
        "abc",
        "...",
        "%%%",
        issued + "x",
        issued[:-2],
        f"{forged_payload}.{signature}",  # another position, the old signature
        make_cursor(1, "another-secret-that-is-long-enough-0123456789", "products"),
        f"{payload}.",
        payload,
        "é" * 10,
    ]
    for cursor in bad:
        r = client.get("/api/products", query_string={"cursor": cursor}, headers=headers)
        assert list(assert_problem(r, 422)["errors"]) == ["cursor"], cursor


def test_seeded_products_have_a_create_history(
    app: Any, client: Any, headers: dict[str, str]
) -> None:
    seed(app, 3)
    product = client.get("/api/products?limit=1", headers=headers).get_json()["items"][0]
    items = client.get(f"/api/products/{product['id']}/history", headers=headers).get_json()
    (entry,) = items["items"]
    assert entry["action"] == "create" and entry["version"] == 1 and entry["user_id"] is None
    assert product["sku"] == f"SEED-{product['id']}"
    assert entry["changes"] == {
        "sku": [None, product["sku"]],
        "name": [None, product["name"]],
        "description": [None, None],
        "price": [None, product["price"]],
        "quantity": [None, product["quantity"]],
    }


TRICKY = [
    {"name": 'Quote " and \\ backslash', "description": None, "price": "0.05", "quantity": 0},
    {
        "name": "Émoji 🎉 tab\tnew\nline",
        "description": "ünïcödé \u0001",
        "price": 99999999.99,
        "quantity": 2147483647,
    },
    {"name": "Plain", "description": "</script><b>", "price": "1.100", "quantity": 1},
    {"name": "  Trimmed  ", "description": "", "price": 0, "quantity": 5},
]


def test_page_items_are_the_products_as_their_own_reads_give_them(
    client: Any, headers: dict[str, str]
) -> None:
    """Pages are rendered by the database; every value matches the single-product reads."""
    for product in TRICKY:
        r = client.post("/api/products", json=product, headers=headers)
        assert r.status_code == 201, r.get_json()
    items = client.get("/api/products?limit=200", headers=headers).get_json()["items"]
    assert len(items) == len(TRICKY)
    for item in items:
        one = client.get(f"/api/products/{item['id']}", headers=headers).get_json()
        assert item == one
    assert [i["price"] for i in items] == ["0.05", "99999999.99", "1.10", "0.00"]
    assert items[1]["name"] == "Émoji 🎉 tab\tnew\nline"


def _rows_read(app: Any, sql: str, params: Any) -> int:
    """How many rows the database touched to run `sql` (MariaDB's handler counters)."""
    with app.extensions["db_engine"].connect() as conn:
        conn.exec_driver_sql("FLUSH STATUS")
        conn.exec_driver_sql(sql, params).all()
        status = conn.exec_driver_sql("SHOW SESSION STATUS LIKE 'Handler_read%%'").all()
        return sum(int(value) for _, value in status)


@pytest.mark.parametrize("depth", ["first", "middle", "last"])
def test_a_page_reads_only_its_own_rows_whatever_the_table_size(
    app: Any, client: Any, auth: AuthActions, backend: str, depth: str
) -> None:
    """A page (which also checks the account, in the same statement) walks the primary key
    from the cursor and stops after limit+1 rows: it never sorts or scans the rest."""
    account = auth.register()
    seed(app, 3000)
    headers = auth.headers(account)
    first = client.get("/api/products?limit=1", headers=headers).get_json()
    after = {"first": 0, "middle": 1500, "last": 2940}[depth] + first["items"][0]["id"] - 1
    with app.app_context():
        cursor = LISTING.cursor({"sort": "id"}, after, after)
    with statements_sent(app) as sent:
        r = client.get(f"/api/products?limit=50&cursor={cursor}", headers=headers)
    assert r.status_code == 200 and len(r.get_json()["items"]) == 50
    ((sql, params),) = sent  # the page and the account check: one statement
    if backend == "mysql":
        # 51 rows of the page, the account, the revocation probe and the index dives,
        # and for each row's `available` one dive into the reservations' index (two
        # handler reads each, whatever the size of any table).
        assert _rows_read(app, sql, params) <= 60 + 2 * 51
    else:
        with app.extensions["db_engine"].connect() as conn:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
        details = " | ".join(str(row[-1]) for row in plan)
        assert "TEMP B-TREE" not in details, details
        assert "SCAN products" not in details, details
