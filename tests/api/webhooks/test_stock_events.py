"""Stock and reservations as webhook events: every movement is `stock.moved`, every change
of a product one `product.updated` (whatever made it: a movement, a sale), and a
reservation's hold, commit and release one event each; a repeated commit sends nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks import Webhook
from support import AuthActions, create_product, statements_sent
from support.receiver import Receiver, deliver, receiver

EVERY_TYPE = [
    "product.created",
    "product.updated",
    "product.deleted",
    "stock.moved",
    "reservation.held",
    "reservation.committed",
    "reservation.released",
]


@pytest.fixture
def hooks_app(make_app: Any) -> Any:
    return make_app(webhook_allowed_networks=("127.0.0.0/8",), webhook_retry_schedule=(0,))


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def test_movements_sales_and_reservations_are_each_delivered_once(
    hooks_app: Any, hook: Receiver
) -> None:
    client = hooks_app.test_client()
    headers = AuthActions(client).headers()
    made = client.post(
        "/admin/webhooks", json={"url": hook.url, "events": EVERY_TYPE}, headers=headers
    )
    secret = made.get_json()["secret"]
    product = create_product(client, headers, quantity=5).get_json()
    path = f"/api/products/{product['id']}"
    moved = client.post(
        f"{path}/stock-movements", json={"delta": 3, "reason": "received"}, headers=headers
    ).get_json()
    basket = {"items": [{"product_id": product["id"], "quantity": 2}]}
    sold = client.post("/api/reservations", json=basket, headers=headers).get_json()
    committed = client.post(f"/api/reservations/{sold['id']}/commit", headers=headers)
    assert committed.status_code == 200
    again = client.post(f"/api/reservations/{sold['id']}/commit", headers=headers)
    assert again.get_json() == committed.get_json()  # answered, nothing sent again
    freed = client.post("/api/reservations", json=basket, headers=headers).get_json()
    assert client.delete(f"/api/reservations/{freed['id']}", headers=headers).status_code == 204

    assert deliver(hooks_app) == 10
    verifier = Webhook(secret)
    bodies = [verifier.verify(r.body, r.headers) for r in hook.wait_for(10)]
    assert [(b["type"], b["data"].get("reason", b["data"].get("status"))) for b in bodies] == [
        ("product.created", None),
        ("stock.moved", "initial"),
        ("stock.moved", "received"),
        ("product.updated", None),
        ("reservation.held", "held"),
        ("stock.moved", "sold"),
        ("product.updated", None),
        ("reservation.committed", "committed"),
        ("reservation.held", "held"),
        ("reservation.released", "released"),
    ]
    assert bodies[1]["data"]["delta"] == 5 and bodies[2]["data"] == moved
    after_delivery = bodies[3]["data"]
    assert (after_delivery["quantity"], after_delivery["available"]) == (8, 8)
    assert after_delivery["version"] == 2
    assert bodies[4]["data"] == sold
    assert bodies[5]["data"]["delta"] == -2 and bodies[5]["data"]["quantity_after"] == 6
    after_sale = bodies[6]["data"]
    assert (after_sale["quantity"], after_sale["available"], after_sale["version"]) == (6, 6, 3)
    assert bodies[7]["data"] == committed.get_json()
    assert bodies[9]["data"]["id"] == freed["id"]
    assert client.get(path, headers=headers).get_json() == after_sale
    assert json.loads(hook.wait_for(10)[0].body)["data"]["id"] == product["id"]


@pytest.mark.parametrize(
    ("wanted", "sent"),
    [
        (["stock.moved"], ["stock.moved"]),
        (["product.created", "stock.moved"], ["product.created", "stock.moved"]),
        (["product.updated"], []),
    ],
)
def test_a_product_created_with_stock_reads_the_endpoints_once_for_both_its_events(
    hooks_app: Any, hook: Receiver, wanted: list[str], sent: list[str]
) -> None:
    client = hooks_app.test_client()
    headers = AuthActions(client).headers()
    made = client.post("/admin/webhooks", json={"url": hook.url, "events": wanted}, headers=headers)
    assert made.status_code == 201
    with statements_sent(hooks_app) as statements:
        product = create_product(client, headers, quantity=4).get_json()
    lookups = [sql for sql, _ in statements if "FROM webhook_endpoints" in sql]
    assert len(lookups) == 1 + len(sent), lookups  # the lookup, and a fan-out per event
    assert deliver(hooks_app) == len(sent)
    bodies = [json.loads(r.body) for r in hook.wait_for(len(sent))] if sent else []
    assert [b["type"] for b in bodies] == sent
    assert all(b["data"].get("product_id", b["data"].get("id")) == product["id"] for b in bodies)


def test_an_import_sends_the_events_its_changes_would_send_one_at_a_time(
    hooks_app: Any, hook: Receiver
) -> None:
    client = hooks_app.test_client()
    headers = AuthActions(client).headers()
    made = client.post(
        "/admin/webhooks", json={"url": hook.url, "events": EVERY_TYPE}, headers=headers
    )
    verifier = Webhook(made.get_json()["secret"])
    old = create_product(client, headers, sku="OLD", quantity=5).get_json()
    assert deliver(hooks_app) == 2
    hook.wait_for(2)
    body = b"sku,name,price,quantity\nOLD,Renamed,1.00,9\nNEW,Lamp,2.00,4\n"
    sent = {**headers, "Content-Type": "text/csv"}
    r = client.post("/api/products/import", data=body, headers=sent)
    assert r.get_json() == {"created": 1, "updated": 1, "unchanged": 0, "errors": []}
    assert deliver(hooks_app) == 4
    bodies = [verifier.verify(r.body, r.headers) for r in hook.wait_for(6)[2:]]
    found = [(b["type"], b["data"].get("reason"), b["data"].get("note")) for b in bodies]
    assert found == [
        ("product.updated", None, None),
        ("stock.moved", "correction", "import"),
        ("product.created", None, None),
        ("stock.moved", "initial", None),
    ]
    assert bodies[0]["data"]["id"] == old["id"] and bodies[0]["data"]["name"] == "Renamed"
    assert (bodies[0]["data"]["quantity"], bodies[0]["data"]["version"]) == (9, 2)
    assert bodies[1]["data"]["delta"] == 4 and bodies[1]["data"]["quantity_after"] == 9
    assert bodies[2]["data"]["sku"] == "NEW" and bodies[2]["data"]["available"] == 4
