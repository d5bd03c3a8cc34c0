"""The audit trail of a product: every change, who made it, in API form, also after delete."""

from __future__ import annotations

import re
from typing import Any

import pytest
from support import AuthActions, assert_problem, create_product

ISO_SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def test_history_records_create_update_and_delete(client: Any, auth: AuthActions) -> None:
    alice, alice_token = auth.sign_in()
    bob, bob_token = auth.sign_in()
    as_alice = {"Authorization": f"Bearer {alice_token}"}
    as_bob = {"Authorization": f"Bearer {bob_token}"}
    body = {"name": "Kettle", "price": 24.5, "quantity": 2}
    created = client.post("/api/products", json=body, headers=as_alice).get_json()
    url = f"/api/products/{created['id']}"
    client.patch(url, json={"price": "25", "quantity": 2}, headers=as_bob)
    client.put(
        url,
        json={"name": "Kettle 2", "description": "Steel", "price": 25, "quantity": 1},
        headers=as_alice,
    )
    assert client.delete(url, headers=as_bob).status_code == 204

    r = client.get(url + "/history", headers=as_alice)
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert [(i["action"], i["version"], i["user_id"]) for i in items] == [
        ("create", 1, alice.id),
        ("update", 2, bob.id),
        ("update", 3, alice.id),
        ("delete", 4, bob.id),
    ]
    assert [i["changes"] for i in items] == [
        {
            "sku": [None, None],
            "name": [None, "Kettle"],
            "description": [None, None],
            "price": [None, "24.50"],
            "quantity": [None, 2],
        },
        {"price": ["24.50", "25.00"]},
        {"name": ["Kettle", "Kettle 2"], "description": [None, "Steel"], "quantity": [2, 1]},
        {
            "sku": [None, None],
            "name": ["Kettle 2", None],
            "description": ["Steel", None],
            "price": ["25.00", None],
            "quantity": [1, None],
        },
    ]
    assert all(ISO_SECONDS.fullmatch(i["at"]) for i in items)
    assert items[0]["at"] == created["created_at"]
    assert set(items[0]) == {"action", "at", "user_id", "api_key_id", "version", "changes"}


def test_history_at_matches_the_product_times(client: Any, auth: AuthActions) -> None:
    headers = auth.headers()
    created = create_product(client, headers, name="a").get_json()
    url = f"/api/products/{created['id']}"
    updated = client.patch(url, json={"name": "b"}, headers=headers).get_json()
    items = client.get(url + "/history", headers=headers).get_json()["items"]
    assert [i["at"] for i in items] == [created["created_at"], updated["updated_at"]]


@pytest.mark.parametrize(
    ("method", "body", "extra"),
    [
        ("patch", {"price": "-1"}, {}),
        ("patch", {"quantity": 3}, {"If-Match": '"5"'}),
        ("put", {"name": "x"}, {}),
        ("delete", None, {"If-Match": '"2"'}),
        ("patch", {}, {}),
        ("patch", {"name": "a"}, {}),
    ],
)
def test_refused_or_empty_changes_leave_no_trace(
    client: Any, auth: AuthActions, method: str, body: Any, extra: dict[str, str]
) -> None:
    headers = auth.headers()
    created = create_product(client, headers, name="a").get_json()
    url = f"/api/products/{created['id']}"
    r = getattr(client, method)(url, json=body, headers={**headers, **extra})
    assert r.status_code in (200, 412, 422)
    items = client.get(url + "/history", headers=headers).get_json()["items"]
    assert [i["action"] for i in items] == ["create"]


def test_history_of_an_id_that_never_existed_is_404(client: Any, auth: AuthActions) -> None:
    assert_problem(client.get("/api/products/31337/history", headers=auth.headers()), 404)


def test_a_new_product_never_inherits_the_history_of_a_deleted_one(
    app: Any, client: Any, auth: AuthActions
) -> None:
    headers = auth.headers()
    old = create_product(client, headers, name="old").get_json()
    client.delete(f"/api/products/{old['id']}", headers=headers)
    new = create_product(client, headers, name="new").get_json()
    result = app.test_cli_runner().invoke(args=["seed-products", "2"])
    assert result.exit_code == 0, result.output
    ids = [p["id"] for p in client.get("/api/products", headers=headers).get_json()["items"]]
    assert old["id"] not in ids and new["id"] > old["id"]
    history = client.get(f"/api/products/{new['id']}/history", headers=headers).get_json()
    assert [i["action"] for i in history["items"]] == ["create"]
    old_history = client.get(f"/api/products/{old['id']}/history", headers=headers).get_json()
    assert [i["action"] for i in old_history["items"]] == ["create", "delete"]
