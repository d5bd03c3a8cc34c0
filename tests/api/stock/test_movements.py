"""Stock movements: the contract's every answer, and the ledger's invariant, on each backend."""

from __future__ import annotations

from typing import Any

import pytest
from support import (
    AuthActions,
    assert_ledger_holds,
    assert_problem,
    create_product,
    execute_sql,
    move,
    reserve,
)

MOVEMENT_FIELDS = {
    "id",
    "product_id",
    "delta",
    "reason",
    "note",
    "quantity_after",
    "version_after",
    "at",
    "user_id",
    "api_key_id",
}


@pytest.fixture
def headers(auth: AuthActions) -> dict[str, str]:
    return auth.headers()


def _product(client: Any, headers: dict[str, str], quantity: int = 10) -> dict[str, Any]:
    body: dict[str, Any] = create_product(client, headers, quantity=quantity).get_json()
    return body


def _get(client: Any, headers: dict[str, str], product_id: int) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/api/products/{product_id}", headers=headers).get_json()
    return body


def test_a_movement_changes_the_quantity_the_version_and_the_history(
    client: Any, headers: dict[str, str]
) -> None:
    product = _product(client, headers, 10)
    r = move(client, headers, product["id"], -3, reason="damaged", note="dropped")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert set(body) == MOVEMENT_FIELDS
    assert body["product_id"] == product["id"] and body["delta"] == -3
    assert body["reason"] == "damaged" and body["note"] == "dropped"
    assert body["quantity_after"] == 7 and body["version_after"] == 2
    assert body["user_id"] is not None and body["api_key_id"] is None
    now = _get(client, headers, product["id"])
    assert now["quantity"] == 7 and now["available"] == 7 and now["version"] == 2
    history = client.get(f"/api/products/{product['id']}/history", headers=headers).get_json()
    last = history["items"][-1]
    assert last["action"] == "update" and last["version"] == 2
    assert last["changes"] == {"quantity": [10, 7]}
    assert_ledger_holds(client.application)


def test_the_list_is_newest_first_and_pages(client: Any, headers: dict[str, str]) -> None:
    product = _product(client, headers, 1)
    made = [move(client, headers, product["id"], 1).get_json() for _ in range(3)]
    url = f"/api/products/{product['id']}/stock-movements"
    first = client.get(f"{url}?limit=2", headers=headers).get_json()
    assert [m["id"] for m in first["items"]] == [made[2]["id"], made[1]["id"]]
    assert first["items"][0] == made[2]
    rest = client.get(f"{url}?limit=2&cursor={first['next_cursor']}", headers=headers).get_json()
    assert [m["reason"] for m in rest["items"]] == ["received", "initial"]
    assert rest["next_cursor"] is None
    initial = rest["items"][-1]
    assert initial["delta"] == 1 and initial["quantity_after"] == 1
    assert initial["version_after"] == 1


def test_the_list_answers_after_a_delete_and_404s_for_an_id_never_used(
    client: Any, headers: dict[str, str]
) -> None:
    product = _product(client, headers, 4)
    assert client.delete(f"/api/products/{product['id']}", headers=headers).status_code == 204
    url = f"/api/products/{product['id']}/stock-movements"
    r = client.get(url, headers=headers)
    assert r.status_code == 200 and [m["delta"] for m in r.get_json()["items"]] == [4]
    assert_problem(client.get("/api/products/999999/stock-movements", headers=headers), 404)
    assert_problem(move(client, headers, 999999, 1), 404)
    assert_problem(move(client, headers, product["id"], 1), 404)


@pytest.mark.parametrize(
    ("quantity", "delta"),
    [(3, -4), (0, -1), (2147483647, 1), (2147483000, 1000), (0, 2**31), (5, -(2**53 - 1))],
)
def test_a_movement_that_does_not_fit_is_409_with_available_and_changes_nothing(
    client: Any, headers: dict[str, str], quantity: int, delta: int
) -> None:
    product = _product(client, headers, quantity)
    problem = assert_problem(move(client, headers, product["id"], delta), 409)
    assert problem["available"] == quantity
    assert _get(client, headers, product["id"]) == product


def test_expected_quantity_is_compare_and_set(client: Any, headers: dict[str, str]) -> None:
    product = _product(client, headers, 5)
    r = move(client, headers, product["id"], 2, expected_quantity=4)
    assert_problem(r, 412)
    assert _get(client, headers, product["id"]) == product
    r = move(client, headers, product["id"], 2, expected_quantity=5)
    assert r.status_code == 201 and r.get_json()["quantity_after"] == 7
    # 412 before 409: the quantity is not the expected one, and the delta would not fit.
    assert_problem(move(client, headers, product["id"], -100, expected_quantity=1), 412)


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"delta": 0, "reason": "lost"}, ["delta"]),
        ({"delta": 1.0, "reason": "lost"}, ["delta"]),
        ({"delta": True, "reason": "lost"}, ["delta"]),
        ({"delta": "1", "reason": "lost"}, ["delta"]),
        ({"delta": 2**53, "reason": "lost"}, ["delta"]),
        ({"delta": 1, "reason": "initial"}, ["reason"]),
        ({"delta": 1}, ["reason"]),
        ({"reason": "lost"}, ["delta"]),
        ({"delta": 1, "reason": "lost", "note": "x" * 256}, ["note"]),
        ({"delta": 1, "reason": "lost", "expected_quantity": -1}, ["expected_quantity"]),
        ({"delta": 1, "reason": "lost", "quantity_after": 3}, ["quantity_after"]),
    ],
)
def test_bad_movements_are_422_naming_each_field(
    client: Any, headers: dict[str, str], body: dict[str, Any], fields: list[str]
) -> None:
    product = _product(client, headers, 5)
    url = f"/api/products/{product['id']}/stock-movements"
    problem = assert_problem(client.post(url, json=body, headers=headers), 422)
    assert sorted(problem["errors"]) == fields
    # 422 comes before 412 and 409.
    assert _get(client, headers, product["id"]) == product


def test_an_idempotency_key_applies_a_movement_once(client: Any, headers: dict[str, str]) -> None:
    product = _product(client, headers, 5)
    keyed = {**headers, "Idempotency-Key": "feed-42"}
    first = move(client, keyed, product["id"], -2)
    again = move(client, keyed, product["id"], -2)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert _get(client, headers, product["id"])["quantity"] == 3
    assert list(assert_problem(move(client, keyed, product["id"], -1), 422)["errors"]) == [
        "Idempotency-Key"
    ]


def test_a_movement_cannot_take_what_reservations_hold(
    client: Any, headers: dict[str, str]
) -> None:
    product = _product(client, headers, 10)
    assert reserve(client, headers, (product["id"], 6)).status_code == 201
    assert _get(client, headers, product["id"])["available"] == 4
    problem = assert_problem(move(client, headers, product["id"], -5, reason="lost"), 409)
    assert problem["available"] == 4
    assert move(client, headers, product["id"], -4, reason="lost").status_code == 201
    after = _get(client, headers, product["id"])
    assert after["quantity"] == 6 and after["available"] == 0
    assert_ledger_holds(client.application)


def test_put_and_patch_record_corrections_and_keep_the_ledger(
    client: Any, headers: dict[str, str]
) -> None:
    product = _product(client, headers, 10)
    url = f"/api/products/{product['id']}"
    client.patch(url, json={"quantity": 4}, headers=headers)
    body = {"name": "Lamp", "price": "1.00", "quantity": 9}
    assert client.put(url, json=body, headers=headers).get_json()["available"] == 9
    client.patch(url, json={"name": "Other"}, headers=headers)  # no movement
    listed = client.get(f"{url}/stock-movements", headers=headers).get_json()["items"]
    assert [(m["reason"], m["delta"], m["quantity_after"]) for m in listed] == [
        ("correction", 5, 9),
        ("correction", -6, 4),
        ("initial", 10, 10),
    ]
    assert [m["version_after"] for m in listed] == [3, 2, 1]
    assert_ledger_holds(client.application)


def test_quantity_below_what_is_held_and_deleting_a_held_product_are_409(
    client: Any, headers: dict[str, str]
) -> None:
    product = _product(client, headers, 10)
    url = f"/api/products/{product['id']}"
    assert reserve(client, headers, (product["id"], 6)).status_code == 201
    assert_problem(client.patch(url, json={"quantity": 5}, headers=headers), 409)
    body = {"name": "Lamp", "price": "1.00", "quantity": 5}
    assert_problem(client.put(url, json=body, headers=headers), 409)
    assert_problem(client.delete(url, headers=headers), 409)
    # 412 comes first.
    stale = {**headers, "If-Match": '"7"'}
    assert_problem(client.patch(url, json={"quantity": 5}, headers=stale), 412)
    assert_problem(client.delete(url, headers=stale), 412)
    after = _get(client, headers, product["id"])
    assert after["quantity"] == 10 and after["version"] == 1 and after["available"] == 4
    assert client.patch(url, json={"quantity": 6}, headers=headers).status_code == 200
    assert_ledger_holds(client.application)


def test_a_viewer_and_a_key_without_stock_write_are_403(
    client: Any, auth: AuthActions, headers: dict[str, str]
) -> None:
    product = _product(client, headers, 3)
    viewer = auth.register()
    execute_sql(client.application, "UPDATE users SET role = 'viewer' WHERE id = :id", id=viewer.id)
    assert_problem(move(client, auth.headers(viewer), product["id"], 1), 403)
    # A viewer reads movements.
    url = f"/api/products/{product['id']}/stock-movements"
    assert client.get(url, headers=auth.headers(viewer)).status_code == 200
