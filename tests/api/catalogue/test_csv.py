"""The catalogue as a CSV file: the export (filters, sort, neutralised cells, every batch)
and the import (create, update, unchanged, dry run, every bad line, all or nothing)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, text
from support import AuthActions, assert_problem, conflicts_at_commit, create_product, execute_sql
from support.stock import assert_ledger_holds, reserve

from shopapi.products.models import products as product_table

HEADER = "id,sku,name,description,price,quantity,available,version,updated_at"


@pytest.fixture
def headers(auth: AuthActions) -> dict[str, str]:
    return auth.headers()


def export(client: Any, headers: dict[str, str], **query: Any) -> list[dict[str, str]]:
    r = client.get("/api/products/export.csv", query_string=query, headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    text_ = r.get_data(as_text=True)
    assert text_.splitlines()[0] == HEADER
    return list(csv.DictReader(io.StringIO(text_, newline="")))


def send(
    client: Any, headers: dict[str, str], body: str | bytes, *, dry_run: bool = False, **extra: str
) -> Any:
    data = body.encode() if isinstance(body, str) else body
    url = "/api/products/import" + ("?dry_run=true" if dry_run else "")
    return client.post(
        url, data=data, headers={**headers, **extra, "Content-Type": "text/csv; charset=utf-8"}
    )


def products(client: Any, headers: dict[str, str]) -> list[dict[str, Any]]:
    r = client.get("/api/products", query_string={"limit": 200}, headers=headers)
    return list(r.get_json()["items"])


def by_sku(client: Any, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {p["sku"]: p for p in products(client, headers)}


# --- export -----------------------------------------------------------------------------


def test_the_export_has_the_header_and_a_line_per_product(
    client: Any, headers: dict[str, str]
) -> None:
    made = create_product(client, headers, sku="A-1", name="Desk lamp", price="19.90").get_json()
    create_product(client, headers, sku=None, name="Chair", description=None)
    rows = export(client, headers)
    assert [r["name"] for r in rows] == ["Desk lamp", "Chair"]
    first = rows[0]
    assert first["id"] == str(made["id"]) and first["sku"] == "A-1"
    assert first["price"] == "19.90" and first["quantity"] == str(made["quantity"])
    assert first["available"] == str(made["quantity"]) and first["version"] == "1"
    assert first["updated_at"] == made["updated_at"]
    assert rows[1]["sku"] == "" and rows[1]["description"] == ""


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_quote(
    client: Any, headers: dict[str, str], start: str
) -> None:
    # Names are trimmed, descriptions are not: a tab or CR can only begin a description.
    name = f"{start.strip()}SUM(A1) lamp"
    create_product(client, headers, name=name, description=f"{start}cmd")
    row = export(client, headers)[0]
    assert row["name"] == (f"'{name}" if start.strip() else name)
    assert row["description"] == f"'{start}cmd"


def test_the_export_takes_the_lists_filters_and_sort(client: Any, headers: dict[str, str]) -> None:
    for name, price in [("Brass lamp", "45.00"), ("Desk lamp", "19.90"), ("Oak chair", "89.00")]:
        create_product(client, headers, name=name, price=price)
    names = [r["name"] for r in export(client, headers, sort="-price")]
    assert names == ["Oak chair", "Brass lamp", "Desk lamp"]
    names = [r["name"] for r in export(client, headers, q="lamp", sort="name")]
    assert names == ["Brass lamp", "Desk lamp"]
    assert [r["name"] for r in export(client, headers, max_price="20")] == ["Desk lamp"]


def test_an_export_of_more_products_than_a_batch_has_every_one_once(
    client: Any, headers: dict[str, str]
) -> None:
    count = 2_345
    at = datetime(2026, 1, 1)
    rows_ = [
        {"name": f"P{i:05d}", "quantity": i % 7, "price": Decimal(1), "version": 1}
        | {"created_at": at, "updated_at": at}
        for i in range(count)
    ]
    with client.application.extensions["db_engine"].begin() as conn:
        conn.execute(insert(product_table), rows_)
    rows = export(client, headers, sort="-quantity")
    assert len(rows) == count and len({r["id"] for r in rows}) == count
    keys = [(-int(r["quantity"]), -int(r["id"])) for r in rows]
    assert keys == sorted(keys)


def test_the_export_needs_a_token_and_good_parameters(client: Any, headers: dict[str, str]) -> None:
    r = client.get("/api/products/export.csv")
    assert_problem(r, 401)
    r = client.get("/api/products/export.csv", query_string={"sort": "colour"}, headers=headers)
    assert "sort" in assert_problem(r, 422)["errors"]
    r = client.get("/api/products/export.csv", query_string={"q": ""}, headers=headers)
    assert "q" in assert_problem(r, 422)["errors"]


# --- import -----------------------------------------------------------------------------


def test_an_import_creates_updates_and_leaves_unchanged(
    client: Any, headers: dict[str, str], app: Any
) -> None:
    kept = create_product(
        client, headers, sku="KEEP", name="Kept", description=None, price="1.00", quantity=3
    )
    moved = create_product(
        client, headers, sku="Move", name="Moved", description=None, price="2.00", quantity=5
    )
    body = (
        "sku,name,description,price,quantity\n"
        "KEEP,Kept,,1.00,3\n"
        "move,Moved,,2.50,9\n"
        'NEW-1,"New, fine lamp",Brass,12.5,4\n'
    )
    r = send(client, headers, body)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"created": 1, "updated": 1, "unchanged": 1, "errors": []}
    now = by_sku(client, headers)
    assert now["KEEP"]["version"] == kept.get_json()["version"]
    changed = now["Move"]  # matched without regard to case; the SKU stays as it was
    assert changed["id"] == moved.get_json()["id"] and changed["version"] == 2
    assert changed["price"] == "2.50" and changed["quantity"] == 9
    new = now["NEW-1"]
    assert new["name"] == "New, fine lamp" and new["price"] == "12.50" and new["quantity"] == 4
    history = client.get(f"/api/products/{changed['id']}/history", headers=headers).get_json()
    assert history["items"][-1]["changes"]["quantity"] == [5, 9]
    url = f"/api/products/{changed['id']}/stock-movements"
    movement = client.get(url, headers=headers).get_json()["items"][0]
    assert (movement["reason"], movement["delta"], movement["note"]) == ("correction", 4, "import")
    url = f"/api/products/{new['id']}/stock-movements"
    assert client.get(url, headers=headers).get_json()["items"][0]["reason"] == "initial"
    # Found by its words, like any product.
    assert export(client, headers, q="fine")[0]["sku"] == "NEW-1"
    assert_ledger_holds(app)


def test_columns_absent_from_the_header_stay_as_they_are(
    client: Any, headers: dict[str, str]
) -> None:
    create_product(client, headers, sku="A", name="Lamp", description="Brass", price="3.00")
    r = send(client, headers, "quantity,sku\n77,a\n")
    assert r.get_json()["updated"] == 1
    product = by_sku(client, headers)["A"]
    assert (product["name"], product["description"], product["price"]) == ("Lamp", "Brass", "3.00")
    assert product["quantity"] == 77


def test_a_dry_run_answers_what_would_happen_and_changes_nothing(
    client: Any, headers: dict[str, str]
) -> None:
    create_product(client, headers, sku="OLD", name="Old", price="1.00", quantity=1)
    body = "sku,name,price,quantity\nOLD,Renamed,1.00,1\nNEW,New,2.00,2\n"
    r = send(client, headers, body, dry_run=True)
    assert r.get_json() == {"created": 1, "updated": 1, "unchanged": 0, "errors": []}
    assert [p["name"] for p in products(client, headers)] == ["Old"]


def test_every_bad_line_is_reported_and_nothing_changes(
    client: Any, headers: dict[str, str]
) -> None:
    create_product(client, headers, sku="OLD", name="Old", price="1.00", quantity=1)
    body = (
        "sku,name,description,price,quantity\n"
        "OLD,Renamed,,1.00,1\n"  # 2: good
        "bad sku,Lamp,,1.00,1\n"  # 3
        "B,,,1.105,-1\n"  # 4: name, price, quantity
        "C,Lamp,,1.00\n"  # 5: a cell short
        "D,Lamp,,abc,1\n"  # 6
        "E,Lamp,,1.00,2147483648\n"  # 7
    )
    r = send(client, headers, body)
    problem = assert_problem(r, 422)
    found = {(e["line"], e["field"]) for e in problem["errors"]}
    assert found == {
        (3, "sku"),
        (4, "name"),
        (4, "price"),
        (4, "quantity"),
        (5, None),
        (6, "price"),
        (7, "quantity"),
    }
    assert all(e["message"] for e in problem["errors"])
    assert [p["name"] for p in products(client, headers)] == ["Old"]


def test_a_new_sku_without_the_required_columns_is_a_bad_line(
    client: Any, headers: dict[str, str]
) -> None:
    r = send(client, headers, "sku,name\nNEW,Lamp\n")
    problem = assert_problem(r, 422)
    assert {(e["line"], e["field"]) for e in problem["errors"]} == {(2, "price"), (2, "quantity")}


def test_lines_already_applied_are_undone_when_a_later_line_is_bad(
    client: Any, headers: dict[str, str], app: Any
) -> None:
    old = create_product(client, headers, sku="OLD", name="Old", quantity=1).get_json()
    # The update is judged (and written) before the new SKU is found to lack columns.
    r = send(client, headers, "sku,name,quantity\nOLD,Renamed,7\nNEW,Lamp,1\n")
    assert [(e["line"], e["field"]) for e in assert_problem(r, 422)["errors"]] == [(3, "price")]
    again = client.get(f"/api/products/{old['id']}", headers=headers).get_json()
    assert (again["name"], again["quantity"], again["version"]) == ("Old", 1, 1)
    history = client.get(f"/api/products/{old['id']}/history", headers=headers).get_json()
    assert len(history["items"]) == 1
    assert_ledger_holds(app)


def test_a_sku_on_two_lines_makes_both_bad(client: Any, headers: dict[str, str]) -> None:
    body = "sku,name,price,quantity\nAB-1,One,1,1\nfine,Two,1,1\nab-1,Three,1,1\n"
    problem = assert_problem(send(client, headers, body), 422)
    assert {(e["line"], e["field"]) for e in problem["errors"]} == {(2, "sku"), (4, "sku")}
    assert products(client, headers) == []


def test_a_file_with_a_byte_order_mark_imports(client: Any, headers: dict[str, str]) -> None:
    body = "\ufeffsku,name,price,quantity\nBOM,Lamp,1,1\n".encode()
    assert send(client, headers, body).get_json()["created"] == 1


@pytest.mark.parametrize(
    ("body", "line"),
    [
        (b"sku,name,price,quantity\nX,Caf\xe9,1,1\n", 2),  # Latin-1, not UTF-8
        (b"name,price,quantity\nLamp,1,1\n", 1),  # no sku column
        (b"", 1),
    ],
)
def test_a_file_not_utf8_or_without_a_sku_header_is_422(
    client: Any, headers: dict[str, str], body: bytes, line: int
) -> None:
    problem = assert_problem(send(client, headers, body), 422)
    assert problem["errors"][0]["line"] == line
    assert products(client, headers) == []


def test_a_file_larger_than_the_limit_is_413(make_app: Any, auth: AuthActions) -> None:
    app = make_app(import_max_bytes=2048)
    client = app.test_client()
    headers = AuthActions(client).headers()
    body = "sku,name,price,quantity\n" + "".join(f"S{i},Lamp,1,1\n" for i in range(200))
    assert_problem(send(client, headers, body), 413)
    assert products(client, headers) == []
    assert send(client, headers, "sku,name,price,quantity\nS1,Lamp,1,1\n").status_code == 200


def test_an_import_needs_an_editor_and_a_csv_body(client: Any, auth: AuthActions) -> None:
    assert_problem(send(client, {}, "sku\nA\n"), 401)
    viewer = auth.register()
    execute_sql(client.application, "UPDATE users SET role = 'viewer' WHERE id = :id", id=viewer.id)
    assert_problem(send(client, auth.headers(viewer), "sku\nA\n"), 403)
    r = client.post("/api/products/import", json={"sku": "A"}, headers=auth.headers())
    assert_problem(r, 415)


def test_a_quantity_below_what_reservations_hold_makes_the_line_bad(
    client: Any, headers: dict[str, str]
) -> None:
    product = create_product(client, headers, sku="HELD", quantity=10).get_json()
    assert reserve(client, headers, (product["id"], 6)).status_code == 201
    body = "sku,quantity\nHELD,5\n"
    problem = assert_problem(send(client, headers, body), 422)
    assert [(e["line"], e["field"]) for e in problem["errors"]] == [(2, "quantity")]
    assert by_sku(client, headers)["HELD"]["quantity"] == 10
    assert send(client, headers, "sku,quantity\nHELD,6\n").get_json()["updated"] == 1


def test_an_idempotency_key_replays_the_first_answer(client: Any, headers: dict[str, str]) -> None:
    body = "sku,name,price,quantity\nK-1,Lamp,1,1\n"
    first = send(client, headers, body, **{"Idempotency-Key": "import-1"})
    again = send(client, headers, body, **{"Idempotency-Key": "import-1"})
    assert first.status_code == again.status_code == 200
    assert (
        again.get_json()
        == first.get_json()
        == {
            "created": 1,
            "updated": 0,
            "unchanged": 0,
            "errors": [],
        }
    )
    assert len(products(client, headers)) == 1
    other = send(client, headers, body + "K-2,Lamp,1,1\n", **{"Idempotency-Key": "import-1"})
    assert "Idempotency-Key" in assert_problem(other, 422)["errors"]


def test_an_export_imports_back_unchanged(client: Any, headers: dict[str, str], app: Any) -> None:
    for i, name in enumerate(["=HYPERLINK(1)", "-5 lamp", 'Plain, "quoted"\nlamp', "Café"]):
        create_product(client, headers, sku=f"R-{i}", name=name, description="+x", price="1.10")
    exported = client.get("/api/products/export.csv", headers=headers).get_data()
    r = send(client, headers, exported)
    assert r.get_json() == {"created": 0, "updated": 0, "unchanged": 4, "errors": []}
    versions = {p["version"] for p in products(client, headers)}
    assert versions == {1}
    with app.extensions["db_engine"].connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM product_history")).scalar() == 4


def test_a_conflict_is_answered_409_and_not_run_again(
    client: Any, headers: dict[str, str], app: Any
) -> None:
    body = "sku,name,price,quantity\nC-1,Lamp,1,1\n"
    with conflicts_at_commit(app.extensions["db_engine"], times=1) as failed:
        r = send(client, headers, body)
    assert_problem(r, 409)
    assert failed == [1]  # one attempt: the service did not run it again
    assert products(client, headers) == []
    assert send(client, headers, body).get_json()["created"] == 1


def test_an_export_of_a_search_that_walks_has_every_match_once(
    client: Any, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search of common words reads the sort's index a few rows at a time and may stop
    before it has a batch's worth: the export goes on from where it stopped, to the end."""
    from shopapi.products.models import PRODUCTS
    from shopapi.resources import search as token_search

    monkeypatch.setattr(token_search, "COMMON", 1)  # every word is common: walk
    monkeypatch.setattr(token_search, "WALK", 3)  # three rows of the index a statement
    assert PRODUCTS.search is not None
    with client.application.app_context():
        PRODUCTS.search.forget_counts()
    names = ["Brass lamp", "Oak chair", "Desk lamp", "Pine shelf", "Pine chair", "Floor lamp"]
    names += ["Wall lamp", "Rug", "Table lamp"]
    for name in names:
        create_product(client, headers, name=name)
    found = [r["name"] for r in export(client, headers, q="lamp", sort="name")]
    assert found == sorted(n for n in names if "lamp" in n)
    with client.application.app_context():
        PRODUCTS.search.forget_counts()
