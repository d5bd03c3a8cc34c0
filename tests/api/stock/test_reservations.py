"""Reservations: hold, commit, release, expiry and who sees them, on each backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from support import (
    AuthActions,
    MovableClock,
    assert_ledger_holds,
    assert_problem,
    create_product,
    execute_sql,
    reserve,
)

from shopapi import purge

FIELDS = {"id", "status", "items", "expires_at", "created_at", "user_id", "api_key_id", "note"}


@pytest.fixture
def headers(auth: AuthActions) -> dict[str, str]:
    return auth.headers()


def _products(client: Any, headers: dict[str, str], *quantities: int) -> list[int]:
    return [create_product(client, headers, quantity=q).get_json()["id"] for q in quantities]


def _available(client: Any, headers: dict[str, str], product_id: int) -> int:
    value: int = client.get(f"/api/products/{product_id}", headers=headers).get_json()["available"]
    return value


def test_a_reservation_holds_every_item_and_reads_back_as_made(
    client: Any, headers: dict[str, str]
) -> None:
    a, b = _products(client, headers, 5, 3)
    r = reserve(client, headers, (b, 3), (a, 2), note="cart 7", expires_in=120)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert set(body) == FIELDS
    assert body["status"] == "held" and body["note"] == "cart 7"
    assert body["items"] == [{"product_id": a, "quantity": 2}, {"product_id": b, "quantity": 3}]
    assert body["api_key_id"] is None and body["user_id"] > 0
    assert r.headers["Location"] == f"/api/reservations/{body['id']}"
    assert client.get(r.headers["Location"], headers=headers).get_json() == body
    assert _available(client, headers, a) == 3 and _available(client, headers, b) == 0
    page = client.get("/api/products", headers=headers).get_json()["items"]
    assert [p["available"] for p in page] == [3, 0]


def test_a_shortage_names_every_short_item_and_holds_nothing(
    client: Any, headers: dict[str, str]
) -> None:
    a, b, c = _products(client, headers, 5, 3, 10)
    assert reserve(client, headers, (a, 4)).status_code == 201
    problem = assert_problem(reserve(client, headers, (a, 2), (b, 4), (c, 1)), 409)
    assert problem["shortages"] == [
        {"product_id": a, "requested": 2, "available": 1},
        {"product_id": b, "requested": 4, "available": 3},
    ]
    assert _available(client, headers, c) == 10


def test_an_unknown_or_deleted_product_is_422_naming_the_item(
    client: Any, headers: dict[str, str]
) -> None:
    (a, gone) = _products(client, headers, 5, 5)
    client.delete(f"/api/products/{gone}", headers=headers)
    problem = assert_problem(reserve(client, headers, (a, 1), (gone, 1), (99999, 1)), 422)
    assert sorted(problem["errors"]) == ["items[1].product_id", "items[2].product_id"]
    assert _available(client, headers, a) == 5


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"items": []}, ["items"]),
        ({}, ["items"]),
        ({"items": [{"product_id": 1, "quantity": 0}]}, ["items[0].quantity"]),
        ({"items": [{"product_id": 1, "quantity": 1.5}]}, ["items[0].quantity"]),
        ({"items": [{"product_id": "1", "quantity": 1}]}, ["items[0].product_id"]),
        ({"items": [{"product_id": 1}]}, ["items[0].quantity"]),
        (
            {"items": [{"product_id": 1, "quantity": 1}, {"product_id": 1, "quantity": 2}]},
            ["items[1].product_id"],
        ),
        ({"items": [{"product_id": 1, "quantity": 1}], "expires_in": 59}, ["expires_in"]),
        ({"items": [{"product_id": 1, "quantity": 1}], "expires_in": 3601}, ["expires_in"]),
        ({"items": [{"product_id": 1, "quantity": 1}], "note": "x" * 256}, ["note"]),
        ({"items": [{"product_id": 1, "quantity": 1}], "status": "held"}, ["status"]),
        ({"items": [{"product_id": p, "quantity": 1} for p in range(1, 102)]}, ["items"]),
    ],
)
def test_bad_reservations_are_422_naming_each_field(
    client: Any, headers: dict[str, str], body: dict[str, Any], fields: list[str]
) -> None:
    problem = assert_problem(client.post("/api/reservations", json=body, headers=headers), 422)
    assert sorted(problem["errors"]) == fields


def test_commit_sells_each_item_once(client: Any, headers: dict[str, str]) -> None:
    a, b = _products(client, headers, 5, 3)
    made = reserve(client, headers, (a, 2), (b, 3)).get_json()
    url = f"/api/reservations/{made['id']}"
    r = client.post(f"{url}/commit", headers=headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {**made, "status": "committed"}
    again = client.post(f"{url}/commit", headers=headers)
    assert again.status_code == 200 and again.get_json() == r.get_json()
    product = client.get(f"/api/products/{a}", headers=headers).get_json()
    assert product["quantity"] == 3 and product["available"] == 3 and product["version"] == 2
    sold = client.get(f"/api/products/{a}/stock-movements", headers=headers).get_json()["items"][0]
    assert sold["reason"] == "sold" and sold["delta"] == -2
    assert str(made["id"]) in sold["note"]
    assert sold["quantity_after"] == 3 and sold["version_after"] == 2
    history = client.get(f"/api/products/{b}/history", headers=headers).get_json()["items"]
    assert history[-1]["changes"] == {"quantity": [3, 0]}
    assert client.get(url, headers=headers).get_json()["status"] == "committed"
    assert_problem(client.delete(url, headers=headers), 409)
    assert_ledger_holds(client.application)


def test_release_ends_the_hold_and_then_commit_is_409(client: Any, headers: dict[str, str]) -> None:
    (a,) = _products(client, headers, 5)
    made = reserve(client, headers, (a, 5)).get_json()
    url = f"/api/reservations/{made['id']}"
    assert client.delete(url, headers=headers).status_code == 204
    assert client.delete(url, headers=headers).status_code == 204
    assert client.get(url, headers=headers).get_json()["status"] == "released"
    assert _available(client, headers, a) == 5
    assert_problem(client.post(f"{url}/commit", headers=headers), 409)
    assert client.get(f"/api/products/{a}", headers=headers).get_json()["quantity"] == 5


def test_a_hold_ends_at_expires_at_exactly(
    client: Any, headers: dict[str, str], clock: MovableClock
) -> None:
    (a,) = _products(client, headers, 5)
    made = reserve(client, headers, (a, 4), expires_in=60).get_json()
    url = f"/api/reservations/{made['id']}"
    expires_at = datetime.strptime(made["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    clock.advance_to(expires_at.timestamp() - 1)
    assert client.get(url, headers=headers).get_json()["status"] == "held"
    assert _available(client, headers, a) == 1
    clock.advance_to(expires_at.timestamp())
    assert client.get(url, headers=headers).get_json()["status"] == "expired"
    assert _available(client, headers, a) == 5
    assert_problem(client.post(f"{url}/commit", headers=headers), 409)
    assert client.delete(url, headers=headers).status_code == 204
    assert client.get(url, headers=headers).get_json()["status"] == "expired"
    # What it held is free again: another reservation takes it all.
    assert reserve(client, headers, (a, 5)).status_code == 201


def test_the_list_is_newest_first_filters_by_status_and_shows_only_ones_own(
    client: Any, auth: AuthActions, headers: dict[str, str], clock: MovableClock
) -> None:
    (a,) = _products(client, headers, 100)
    ids = [reserve(client, headers, (a, 1), expires_in=60).get_json()["id"] for _ in range(3)]
    client.delete(f"/api/reservations/{ids[0]}", headers=headers)
    client.post(f"/api/reservations/{ids[1]}/commit", headers=headers)
    other = auth.headers(auth.register())
    theirs = reserve(client, other, (a, 1)).get_json()["id"]
    listed = client.get("/api/reservations?limit=2", headers=headers).get_json()
    assert [r["id"] for r in listed["items"]] == [ids[2], ids[1]]
    cursor = listed["next_cursor"]
    rest = client.get(f"/api/reservations?limit=2&cursor={cursor}", headers=headers).get_json()
    assert [r["id"] for r in rest["items"]] == [ids[0]] and rest["next_cursor"] is None

    def only(status: str) -> list[int]:
        page = client.get(f"/api/reservations?status={status}", headers=headers).get_json()
        return [r["id"] for r in page["items"]]

    assert (only("released"), only("committed"), only("held")) == ([ids[0]], [ids[1]], [ids[2]])
    clock.advance(60)
    assert (only("held"), only("expired")) == ([], [ids[2]])
    assert [
        r["id"] for r in client.get("/api/reservations", headers=other).get_json()["items"]
    ] == [theirs]
    assert_problem(client.get("/api/reservations?status=gone", headers=headers), 422)


def test_others_get_404_and_admins_see_and_act_on_every_reservation(
    client: Any, auth: AuthActions, headers: dict[str, str]
) -> None:
    (a,) = _products(client, headers, 10)  # made by the first account: the admin
    owner = auth.headers(auth.register())
    stranger = auth.headers(auth.register())
    made = reserve(client, owner, (a, 2)).get_json()
    url = f"/api/reservations/{made['id']}"
    assert_problem(client.get(url, headers=stranger), 404)
    assert_problem(client.post(f"{url}/commit", headers=stranger), 404)
    assert_problem(client.delete(url, headers=stranger), 404)
    assert client.get(url, headers=headers).get_json() == made
    assert client.post(f"{url}/commit", headers=headers).get_json()["status"] == "committed"
    assert_problem(client.get("/api/reservations/99999", headers=owner), 404)


def test_a_viewer_cannot_reserve(client: Any, auth: AuthActions, headers: dict[str, str]) -> None:
    (a,) = _products(client, headers, 10)
    viewer = auth.register()
    execute_sql(client.application, "UPDATE users SET role = 'viewer' WHERE id = :id", id=viewer.id)
    assert_problem(reserve(client, auth.headers(viewer), (a, 1)), 403)
    assert client.get("/api/reservations", headers=auth.headers(viewer)).status_code == 200


def test_an_idempotency_key_makes_one_reservation(client: Any, headers: dict[str, str]) -> None:
    (a,) = _products(client, headers, 10)
    keyed = {**headers, "Idempotency-Key": "checkout-1"}
    first = reserve(client, keyed, (a, 4))
    again = reserve(client, keyed, (a, 4))
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert _available(client, headers, a) == 6
    assert_problem(reserve(client, keyed, (a, 5)), 422)


def test_purge_forgets_released_and_expired_reservations_after_the_keep_days(
    app: Any, client: Any, auth: AuthActions, clock: MovableClock
) -> None:
    account, _ = auth.sign_in()
    headers = auth.headers(account)
    (a,) = _products(client, headers, 10)
    made = [reserve(client, headers, (a, 1), expires_in=60).get_json()["id"] for _ in range(3)]
    client.delete(f"/api/reservations/{made[0]}", headers=headers)
    client.post(f"/api/reservations/{made[1]}/commit", headers=headers)
    clock.advance(29 * 86400)
    with app.app_context():
        assert (
            purge.run(app.extensions["db_engine"], app.extensions["settings"])["reservations"] == 0
        )
    clock.advance(2 * 86400)
    with app.app_context():
        counts = purge.run(app.extensions["db_engine"], app.extensions["settings"])
    assert counts["reservations"] == 2
    headers = auth.headers(account)
    assert_problem(client.get(f"/api/reservations/{made[0]}", headers=headers), 404)
    assert_problem(client.get(f"/api/reservations/{made[2]}", headers=headers), 404)
    assert client.get(f"/api/reservations/{made[1]}", headers=headers).status_code == 200
