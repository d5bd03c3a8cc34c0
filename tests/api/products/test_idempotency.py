"""Idempotent creates: retries with the same Idempotency-Key never make a second product."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import requests
from support import (
    AuthActions,
    HttpAuth,
    LiveServer,
    assert_problem,
    create_product,
    execute_sql,
    product_body,
)

from shopapi.db import utcnow


def count_products(client: Any, headers: dict[str, str]) -> int:
    return len(client.get("/api/products?limit=200", headers=headers).get_json()["items"])


def test_a_retry_returns_the_first_response_and_creates_nothing(
    client: Any, auth: AuthActions
) -> None:
    headers = {**auth.headers(), "Idempotency-Key": str(uuid.uuid4())}
    first = client.post("/api/products", json=product_body(), headers=headers)
    assert first.status_code == 201
    # Updated meanwhile: the retry still gets the answer to the original request.
    client.patch(first.headers["Location"], json={"quantity": 9}, headers=headers)
    same_meaning = product_body(price=19.9)  # "19.90", written another way
    for body in (product_body(), same_meaning):
        again = client.post("/api/products", json=body, headers=headers)
        assert again.status_code == 201
        assert again.get_json() == first.get_json()
        assert again.headers["Location"] == first.headers["Location"]
        assert again.headers["ETag"] == '"1"'
    assert count_products(client, headers) == 1


def test_the_same_key_with_another_body_is_422(client: Any, auth: AuthActions) -> None:
    headers = {**auth.headers(), "Idempotency-Key": "order-17"}
    create_product(client, headers)
    r = client.post("/api/products", json=product_body(quantity=5), headers=headers)
    assert list(assert_problem(r, 422)["errors"]) == ["Idempotency-Key"]
    assert count_products(client, headers) == 1


def test_keys_belong_to_one_user(client: Any, auth: AuthActions) -> None:
    ids = set()
    for _ in range(2):
        headers = {**auth.headers(), "Idempotency-Key": "shared-key"}
        r = client.post("/api/products", json=product_body(), headers=headers)
        assert r.status_code == 201
        ids.add(r.get_json()["id"])
    assert len(ids) == 2


def test_a_key_belongs_to_its_operation_query_included(client: Any, auth: AuthActions) -> None:
    headers = {**auth.headers(), "Idempotency-Key": "one-key-two-operations"}
    plain = client.post("/api/products", json=product_body(), headers=headers)
    queried = client.post("/api/products?source=feed", json=product_body(), headers=headers)
    assert plain.status_code == queried.status_code == 201
    assert plain.get_json()["id"] != queried.get_json()["id"]
    again = client.post("/api/products?source=feed", json=product_body(), headers=headers)
    assert again.get_json() == queried.get_json()
    assert count_products(client, headers) == 2


def test_without_a_key_every_post_creates(client: Any, auth: AuthActions) -> None:
    headers = auth.headers()
    for _ in range(2):
        create_product(client, headers)
    assert count_products(client, headers) == 2


@pytest.mark.parametrize(("age_hours", "replayed"), [(23, True), (25, False)])
def test_a_key_is_kept_24_hours(
    app: Any, client: Any, auth: AuthActions, age_hours: int, replayed: bool
) -> None:
    headers = {**auth.headers(), "Idempotency-Key": "daily"}
    first = client.post("/api/products", json=product_body(), headers=headers).get_json()
    then = utcnow() - timedelta(hours=age_hours)
    execute_sql(app, "UPDATE idempotency_keys SET created_at = :then", then=then)
    second = client.post("/api/products", json=product_body(), headers=headers)
    assert second.status_code == 201
    assert (second.get_json()["id"] == first["id"]) is replayed
    assert count_products(client, headers) == (1 if replayed else 2)
    # An expired key is taken afresh: the next retry replays the new product.
    third = client.post("/api/products", json=product_body(), headers=headers)
    assert third.get_json() == second.get_json()


def test_expired_keys_can_be_purged(app: Any, client: Any, auth: AuthActions) -> None:
    headers = auth.headers()
    for key in ("old", "new"):
        r = client.post(
            "/api/products", json=product_body(), headers={**headers, "Idempotency-Key": key}
        )
        assert r.status_code == 201
    then = utcnow() - timedelta(hours=25)
    execute_sql(
        app, "UPDATE idempotency_keys SET created_at = :then WHERE client_key = 'old'", then=then
    )
    result = app.test_cli_runner().invoke(args=["purge-idempotency-keys"])
    assert result.exit_code == 0 and "purged 1 " in result.output
    fresh = client.post(
        "/api/products", json=product_body(), headers={**headers, "Idempotency-Key": "new"}
    )
    assert fresh.status_code == 201
    assert count_products(client, headers) == 2


@pytest.mark.parametrize("key", ["", "k" * 256, "clé", "two words", "tab\there"])
def test_malformed_keys_are_422(client: Any, auth: AuthActions, key: str) -> None:
    headers = {**auth.headers(), "Idempotency-Key": key}
    r = client.post("/api/products", json=product_body(), headers=headers)
    assert list(assert_problem(r, 422)["errors"]) == ["Idempotency-Key"]
    assert count_products(client, headers) == 0


def race(url: str, requests_: list[tuple[dict[str, str], dict[str, Any]]]) -> list[Any]:
    """Send every (headers, body) POST at once from its own thread and connection."""

    def send(item: tuple[dict[str, str], dict[str, Any]]) -> requests.Response:
        return requests.post(f"{url}/api/products", json=item[1], headers=item[0], timeout=60)

    with ThreadPoolExecutor(max_workers=len(requests_)) as pool:
        return list(pool.map(send, requests_))


@pytest.mark.e2e
def test_concurrent_duplicates_create_one_product(
    live_server: LiveServer, http_auth: HttpAuth
) -> None:
    headers = {**http_auth.headers(), "Idempotency-Key": str(uuid.uuid4())}
    responses = race(live_server.url, [(headers, product_body())] * 10)
    assert [r.status_code for r in responses] == [201] * 10
    assert len({r.text for r in responses}) == 1
    assert len({r.headers["Location"] for r in responses}) == 1
    listing = requests.get(f"{live_server.url}/api/products", headers=headers, timeout=30)
    assert len(listing.json()["items"]) == 1


@pytest.mark.e2e
def test_concurrent_conflicting_bodies_create_one_product(
    live_server: LiveServer, http_auth: HttpAuth
) -> None:
    headers = {**http_auth.headers(), "Idempotency-Key": str(uuid.uuid4())}
    bodies = [product_body(quantity=n) for n in range(8)]
    responses = race(live_server.url, [(headers, body) for body in bodies])
    created = [r for r in responses if r.status_code == 201]
    assert {r.status_code for r in responses} <= {201, 422}
    assert len({r.json()["id"] for r in created}) == 1
    winner = created[0].json()["quantity"]
    assert all(
        bodies[i]["quantity"] == winner for i, r in enumerate(responses) if r.status_code == 201
    )
    listing = requests.get(f"{live_server.url}/api/products", headers=headers, timeout=30)
    assert len(listing.json()["items"]) == 1
