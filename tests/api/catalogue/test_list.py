"""The product list: search, filters, every sort both ways, cursors that keep their query."""

from __future__ import annotations

from typing import Any

import pytest
from support import AuthActions, MovableClock, assert_problem, create_product, statements_sent

from shopapi.products.models import PRODUCTS
from shopapi.resources import search as token_search


@pytest.fixture
def headers(auth: AuthActions) -> dict[str, str]:
    return auth.headers()


def listed(client: Any, headers: dict[str, str], **query: Any) -> list[dict[str, Any]]:
    """Every product the list gives for `query`, walking its pages."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {**query, **({"cursor": cursor} if cursor else {})}
        r = client.get("/api/products", query_string=params, headers=headers)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def names(client: Any, headers: dict[str, str], **query: Any) -> list[str]:
    return [p["name"] for p in listed(client, headers, **query)]


@pytest.fixture
def shelf(client: Any, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Seven products with ties in every sort key."""
    rows = [
        ("Café table", "Round, oak", "120.00", 0, "CT-1"),
        ("desk lamp", "About the warmest light", "19.90", 5, "DL-2"),
        ("Desk lamp", None, "19.90", 5, None),
        ("Über mug", "Holds the tea", "4.50", 30, "MUG-3"),
        ("Chair", "Ergonomic seat, for the desk", "89.00", 0, None),
        ("lamp shade", "Linen", "15.00", 2, "LS"),
        ("Desk lamp", "Brass", "45.00", 5, "dl-20"),
    ]
    made = []
    for name, description, price, quantity, sku in rows:
        body = {"name": name, "description": description, "price": price, "quantity": quantity}
        made.append(create_product(client, headers, **body, sku=sku).get_json())
    return made


SORTS = ["id", "name", "price", "quantity", "updated_at"]


@pytest.fixture(params=["rare", "mixed", "common"])
def plan(request: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Each way a search page is read: driven from the rarest word's tokens (every word
    rare), the same with the common words probed per row (a word is common from 3
    products up: "lamp", "desk", "the"), and the sort's index walked with every word probed
    (every word common), two rows a page at most. The answers must not differ."""
    common = {"rare": 10**9, "mixed": 3, "common": 1}[request.param]
    monkeypatch.setattr(token_search, "COMMON", common)
    # A walk of common words stops after this many rows: pages may end early.
    monkeypatch.setattr(token_search, "WALK", 2)
    assert PRODUCTS.search is not None
    PRODUCTS.search.forget_counts()
    yield request.param
    PRODUCTS.search.forget_counts()


@pytest.mark.parametrize("sort", SORTS)
def test_each_sort_both_ways_orders_ties_by_id(
    client: Any, headers: dict[str, str], shelf: list[dict[str, Any]], sort: str
) -> None:
    def key(p: dict[str, Any]) -> Any:
        value = p[sort]
        return float(value) if sort == "price" else value

    ascending = sorted(shelf, key=lambda p: (key(p), p["id"]))
    descending = sorted(shelf, key=lambda p: (key(p), p["id"]), reverse=True)
    for limit in (1, 2, 50):
        got = listed(client, headers, sort=sort, limit=limit)
        assert [p["id"] for p in got] == [p["id"] for p in ascending], limit
        got = listed(client, headers, sort=f"-{sort}", limit=limit)
        assert [p["id"] for p in got] == [p["id"] for p in descending], limit


def test_names_sort_by_code_point(
    client: Any, headers: dict[str, str], shelf: list[dict[str, Any]]
) -> None:
    assert names(client, headers, sort="name") == sorted(p["name"] for p in shelf)


def test_updated_at_sort_follows_changes(
    client: Any, headers: dict[str, str], shelf: list[dict[str, Any]], clock: MovableClock
) -> None:
    clock.advance(300)
    client.patch(f"/api/products/{shelf[0]['id']}", json={"quantity": 9}, headers=headers)
    got = listed(client, headers, sort="-updated_at")
    assert got[0]["id"] == shelf[0]["id"]
    assert [p["id"] for p in got[1:]] == sorted((p["id"] for p in shelf[1:]), reverse=True)


def test_price_range_is_inclusive(
    client: Any, headers: dict[str, str], shelf: list[dict[str, Any]]
) -> None:
    got = listed(client, headers, min_price="15", max_price="45.00", sort="price")
    assert [p["price"] for p in got] == ["15.00", "19.90", "19.90", "45.00"]
    assert len(listed(client, headers, min_price="100")) == 1
    assert len(listed(client, headers, max_price="4.50")) == 1
    assert listed(client, headers, min_price="50", max_price="40") == []


def test_in_stock_splits_the_list(
    client: Any, headers: dict[str, str], shelf: list[dict[str, Any]]
) -> None:
    stocked = listed(client, headers, in_stock="true")
    empty = listed(client, headers, in_stock="false")
    assert {p["name"] for p in empty} == {"Café table", "Chair"}
    assert all(p["quantity"] > 0 for p in stocked) and len(stocked) == 5


def test_updated_since_is_inclusive(
    client: Any, headers: dict[str, str], shelf: list[dict[str, Any]], clock: MovableClock
) -> None:
    clock.advance(120)
    changed = client.patch(
        f"/api/products/{shelf[3]['id']}", json={"price": "5"}, headers=headers
    ).get_json()
    got = listed(client, headers, updated_since=changed["updated_at"])
    assert [p["id"] for p in got] == [shelf[3]["id"]]
    assert len(listed(client, headers, updated_since=shelf[0]["updated_at"])) == 7


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("lamp", {"desk lamp", "Desk lamp", "lamp shade"}),
        ("LAM", {"desk lamp", "Desk lamp", "lamp shade"}),
        ("desk lamp", {"desk lamp", "Desk lamp", "Chair"} - {"Chair"}),
        ("desk", {"desk lamp", "Desk lamp", "Chair"}),
        ("cafe", {"Café table"}),
        ("CAFÉ", {"Café table"}),
        ("uber", {"Über mug"}),
        ("the", {"desk lamp", "Über mug", "Chair"}),
        ("about", {"desk lamp"}),
        ("a lamp", {"desk lamp", "Desk lamp", "lamp shade"}),  # "a" is too short to count
        ("amp", set()),  # a word must begin a word
        ("lamp tea", set()),  # every word must match
        ("ct-1", {"Café table"}),  # the SKU, without regard to case
        ("DL-20", {"Desk lamp"}),
        ("dl", set()),  # SKUs match whole, and "dl" is too short for a word
        ("ls", {"lamp shade"}),
        ("mug-3", {"Über mug"}),
        ("ox", set()),
        ("round, oak!", {"Café table"}),
        ("seat-desk", {"Chair"}),
    ],
)
def test_search(
    client: Any,
    headers: dict[str, str],
    shelf: list[dict[str, Any]],
    plan: str,
    q: str,
    expected: set[str],
) -> None:
    assert set(names(client, headers, q=q)) == expected
    for sort in ("name", "-price"):
        assert {p["name"] for p in listed(client, headers, q=q, sort=sort, limit=1)} == expected


def test_search_follows_changes_and_deletes(
    client: Any, headers: dict[str, str], shelf: list[dict[str, Any]], plan: str
) -> None:
    url = f"/api/products/{shelf[5]['id']}"
    client.patch(url, json={"name": "Linen curtain"}, headers=headers)
    assert set(names(client, headers, q="lamp")) == {"desk lamp", "Desk lamp"}
    assert names(client, headers, q="curtain") == ["Linen curtain"]
    client.patch(url, json={"sku": "Desk.Lamp"}, headers=headers)
    assert names(client, headers, q="ls") == []
    # A SKU made of words: the SKU finds it, and so do its words where they match.
    assert set(names(client, headers, q="DESK.LAMP")) == {"Linen curtain", "desk lamp", "Desk lamp"}
    client.delete(url, headers=headers)
    assert names(client, headers, q="curtain") == []


def test_filters_combine_with_search_and_sort(
    client: Any, headers: dict[str, str], shelf: list[dict[str, Any]], plan: str
) -> None:
    got = listed(client, headers, q="lamp", min_price="16", sort="-price", limit=1)
    assert [(p["name"], p["price"]) for p in got] == [
        ("Desk lamp", "45.00"),
        ("Desk lamp", "19.90"),
        ("desk lamp", "19.90"),
    ]


def test_a_cursor_carries_its_query(
    client: Any, headers: dict[str, str], shelf: list[dict[str, Any]]
) -> None:
    query = {"q": "lamp", "sort": "-price", "limit": 1}
    cursor = client.get("/api/products", query_string=query, headers=headers).get_json()[
        "next_cursor"
    ]
    same = client.get(
        "/api/products", query_string={**query, "cursor": cursor, "limit": 2}, headers=headers
    )
    assert same.status_code == 200  # another page size is the same query
    for other in (
        {"q": "desk"},
        {"sort": "price"},
        {"sort": "-name"},
        {"q": None},
        {"min_price": "1"},
        {"in_stock": "true"},
        {"updated_since": "2020-01-01T00:00:00Z"},
    ):
        params = {k: v for k, v in {**query, **other, "cursor": cursor}.items() if v is not None}
        r = client.get("/api/products", query_string=params, headers=headers)
        assert list(assert_problem(r, 422)["errors"]) == ["cursor"], other


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("sort", "colour"),
        ("sort", "--id"),
        ("sort", "+id"),
        ("sort", "created_at"),
        ("sort", "description"),
        ("sort", ""),
        ("q", ""),
        ("q", "x" * 101),
        ("min_price", "-1"),
        ("min_price", "1.005"),
        ("min_price", "abc"),
        ("min_price", "1e3"),
        ("max_price", "100000000"),
        ("max_price", " 5"),
        ("in_stock", "yes"),
        ("in_stock", "1"),
        ("in_stock", "True"),
        ("updated_since", "2026-11-25"),
        ("updated_since", "2026-11-25T18:49:23.5Z"),
        ("updated_since", "2026-11-25T18:49:23+00:00"),
        ("updated_since", "2026-13-25T18:49:23Z"),
        ("updated_since", "yesterday"),
    ],
)
def test_bad_parameters_are_422_naming_them(
    client: Any, headers: dict[str, str], name: str, value: str
) -> None:
    r = client.get("/api/products", query_string={name: value}, headers=headers)
    assert list(assert_problem(r, 422)["errors"]) == [name]


@pytest.mark.sqlite_only
def test_every_parameter_is_in_openapi(client: Any) -> None:
    spec = client.get("/openapi.json").get_json()
    parameters = {p["name"] for p in spec["paths"]["/api/products"]["get"]["parameters"]}
    assert parameters >= {
        "limit",
        "cursor",
        "sort",
        "q",
        "min_price",
        "max_price",
        "in_stock",
        "updated_since",
    }


def test_a_filtered_sorted_search_page_is_one_statement(
    app: Any, client: Any, headers: dict[str, str], shelf: list[dict[str, Any]], plan: str
) -> None:
    query = {"q": "desk lamp", "min_price": "1", "in_stock": "true", "sort": "-name", "limit": 1}
    first = client.get("/api/products", query_string=query, headers=headers).get_json()
    with statements_sent(app) as sent:
        r = client.get(
            "/api/products",
            query_string={**query, "cursor": first["next_cursor"]},
            headers=headers,
        )
    assert r.status_code == 200 and len(r.get_json()["items"]) == 1
    assert len(sent) == 1  # the page and the caller's account check, together


@pytest.mark.parametrize("sort", ["id", "-name", "price"])
def test_a_page_of_common_words_that_seldom_meet_stops_early_and_says_where(
    client: Any,
    headers: dict[str, str],
    shelf: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    sort: str,
) -> None:
    monkeypatch.setattr(token_search, "COMMON", 1)  # every word is common
    monkeypatch.setattr(token_search, "WALK", 3)  # a page looks at 3 products at most
    assert PRODUCTS.search is not None
    PRODUCTS.search.forget_counts()
    query = {"q": "lamp tea", "sort": sort, "limit": 50}
    first = client.get("/api/products", query_string=query, headers=headers).get_json()
    # No product has both words; the page looked at 3 of 7 and says where to go on.
    assert first["items"] == [] and first["next_cursor"] is not None
    pages = 0
    items: list[dict[str, Any]] = []
    cursor = first["next_cursor"]
    while cursor is not None:
        pages += 1
        r = client.get("/api/products", query_string={**query, "cursor": cursor}, headers=headers)
        items += r.get_json()["items"]
        cursor = r.get_json()["next_cursor"]
    assert items == [] and pages == 2  # products 4-6, then 7 (the end)
    # Where the words meet, a page gives what it found and goes on after the products
    # it looked at: every desk lamp once, in order.
    found = listed(client, headers, q="desk lamp", sort=sort, limit=50)
    assert sorted(p["id"] for p in found) == sorted(
        p["id"] for p in shelf if p["name"].lower() == "desk lamp"
    )
    PRODUCTS.search.forget_counts()
