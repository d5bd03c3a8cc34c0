"""API keys with stock scopes: what each allows, and the key recorded on what it made."""

from __future__ import annotations

from typing import Any

from support import AuthActions, assert_problem, bearer, create_product, move, reserve


def _key(client: Any, auth: AuthActions, scopes: list[str]) -> tuple[dict[str, str], int]:
    account, token = auth.sign_in()
    body = {
        "name": "shop",
        "scopes": scopes,
        "password": account.password,
        "otp": account.next_code(),
    }
    r = client.post("/auth/api-keys", json=body, headers=bearer(token))
    assert r.status_code == 201, r.get_json()
    return bearer(r.get_json()["key"]), r.get_json()["id"]


def test_a_stock_write_key_moves_stock_and_is_recorded(client: Any, auth: AuthActions) -> None:
    headers = auth.headers()
    product = create_product(client, headers, quantity=5).get_json()
    key, key_id = _key(client, auth, ["stock:write"])
    r = move(client, key, product["id"], 3)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["api_key_id"] == key_id
    url = f"/api/products/{product['id']}"
    history = client.get(f"{url}/history", headers=headers).get_json()["items"]
    assert history[-1]["api_key_id"] == key_id
    # stock:write implies no read.
    assert "products:read" in assert_problem(client.get(url, headers=key), 403)["detail"]
    assert_problem(reserve(client, key, (product["id"], 1)), 403)


def test_a_reservations_key_reserves_and_a_read_key_of_the_same_account_sees_it(
    client: Any, auth: AuthActions
) -> None:
    headers = auth.headers()
    product = create_product(client, headers, quantity=5).get_json()
    account, token = auth.sign_in()
    keys = []
    for scopes in (["reservations:write"], ["products:read"]):
        body = {"name": "k", "scopes": scopes, "password": account.password}
        r = client.post(
            "/auth/api-keys", json={**body, "otp": account.next_code()}, headers=bearer(token)
        )
        keys.append((bearer(r.get_json()["key"]), r.get_json()["id"]))
    (writer, writer_id), (reader, _) = keys
    made = reserve(client, writer, (product["id"], 2))
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["api_key_id"] == writer_id
    url = f"/api/reservations/{made.get_json()['id']}"
    assert_problem(client.get(url, headers=writer), 403)
    assert client.get(url, headers=reader).get_json() == made.get_json()
    listed = client.get("/api/reservations", headers=reader).get_json()["items"]
    assert [r["id"] for r in listed] == [made.get_json()["id"]]
    assert client.get(url, headers=bearer(token)).status_code == 200
    assert client.post(f"{url}/commit", headers=writer).get_json()["status"] == "committed"
    sold = client.get(f"/api/products/{product['id']}/stock-movements", headers=headers)
    assert sold.get_json()["items"][0]["api_key_id"] == writer_id
