"""Webhooks: admins manage endpoints; every product change reaches the endpoints that want
it, signed as Standard Webhooks says, retried on the schedule, never to a private address
unless allowed; a change that rolls back sends nothing.

A real receiver listens on the loopback (allowed here through WEBHOOK_ALLOWED_NETWORKS);
the test runs the delivery worker's rounds itself (no background thread in tests)."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from standardwebhooks import Webhook, WebhookVerificationError
from support import AuthActions, assert_problem, create_product, product_body
from support.receiver import Receiver, certificate, deliver, receiver

from shopapi import db
from shopapi.caller import Account
from shopapi.db import utcnow
from shopapi.products.models import PRODUCTS
from shopapi.purge import purge_expired
from shopapi.resources import versioned
from shopapi.webhooks.worker import Worker

LOOPBACK = ("127.0.0.0/8", "::1/128")
ALL_TYPES = ["product.created", "product.updated", "product.deleted"]


@pytest.fixture
def hooks_app(make_app: Any) -> Any:
    """The app, allowed to send to the loopback, retrying at once (four attempts)."""
    return make_app(webhook_allowed_networks=LOOPBACK, webhook_retry_schedule=(0, 0, 0))


@pytest.fixture
def hooks_client(hooks_app: Any) -> Any:
    return hooks_app.test_client()


@pytest.fixture
def admin_headers(hooks_client: Any) -> dict[str, str]:
    return AuthActions(hooks_client).headers()


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def add_endpoint(client: Any, headers: dict[str, str], url: str, **body: Any) -> dict[str, Any]:
    r = client.post(
        "/admin/webhooks", json={"url": url, "events": ALL_TYPES, **body}, headers=headers
    )
    assert r.status_code == 201, r.get_json()
    found: dict[str, Any] = r.get_json()
    return found


def deliveries(client: Any, headers: dict[str, str], endpoint_id: int, **query: Any) -> Any:
    r = client.get(f"/admin/webhooks/{endpoint_id}/deliveries", query_string=query, headers=headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_an_admin_adds_lists_changes_and_deletes_endpoints_and_sees_the_secret_once(
    hooks_client: Any, admin_headers: dict[str, str], hook: Receiver
) -> None:
    made = add_endpoint(hooks_client, admin_headers, hook.url, description="ERP")
    assert made["secret"].startswith("whsec_") and made["enabled"] is True
    assert made["events"] == ALL_TYPES and made["description"] == "ERP"
    path = f"/admin/webhooks/{made['id']}"
    one = hooks_client.get(path, headers=admin_headers).get_json()
    assert one == {k: v for k, v in made.items() if k != "secret"}
    listed = hooks_client.get("/admin/webhooks", headers=admin_headers).get_json()
    assert listed == {"items": [one], "next_cursor": None}
    changed = hooks_client.patch(
        path, json={"enabled": False, "events": ["stock.moved"]}, headers=admin_headers
    )
    assert changed.status_code == 200
    assert changed.get_json()["enabled"] is False
    assert changed.get_json()["events"] == ["stock.moved"]
    assert "secret" not in changed.get_json()
    assert hooks_client.delete(path, headers=admin_headers).status_code == 204
    assert_problem(hooks_client.get(path, headers=admin_headers), 404)


def test_only_admins_manage_webhooks(hooks_client: Any, admin_headers: dict[str, str]) -> None:
    auth = AuthActions(hooks_client)
    editor = auth.headers(auth.register("editor1"))
    body = {"url": "http://127.0.0.1:9/hook", "events": ["product.created"]}
    assert_problem(hooks_client.post("/admin/webhooks", json=body, headers=editor), 403)
    assert_problem(hooks_client.get("/admin/webhooks"), 401)


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://127.0.0.1:9/", "events": []}, "events"),
        ({"url": "http://127.0.0.1:9/", "events": ["product.eaten"]}, "events"),
        ({"url": "http://127.0.0.1:9/"}, "events"),
        ({"url": "ftp://127.0.0.1/", "events": ["stock.moved"]}, "url"),
        ({"url": "http://user:pw@127.0.0.1/", "events": ["stock.moved"]}, "url"),
        ({"url": "not a url", "events": ["stock.moved"]}, "url"),
        ({"url": "http://127.0.0.1:9/x\r\nHost: evil", "events": ["stock.moved"]}, "url"),
        ({"url": "http://127.0.0.1:99999/", "events": ["stock.moved"]}, "url"),
        ({"url": "http://no-such-host.invalid/", "events": ["stock.moved"]}, "url"),
        ({"url": "http://127.0.0.1:9/", "events": ["stock.moved"], "secret": "x"}, "secret"),
        (
            {"url": "http://127.0.0.1:9/", "events": ["stock.moved"], "description": "x" * 256},
            "description",
        ),
    ],
)
def test_a_bad_endpoint_is_422_naming_the_field_and_nothing_is_added(
    hooks_client: Any, admin_headers: dict[str, str], body: dict[str, Any], field: str
) -> None:
    r = hooks_client.post("/admin/webhooks", json=body, headers=admin_headers)
    named = assert_problem(r, 422)["errors"]
    assert any(re.split(r"[.\[]", name)[0] == field for name in named), named
    assert hooks_client.get("/admin/webhooks", headers=admin_headers).get_json()["items"] == []


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "http://localhost/hook",
    ],
)
def test_a_destination_that_resolves_to_a_private_address_is_refused(
    client: Any, admin: dict[str, str], url: str
) -> None:
    """The default app: no network allowed."""
    r = client.post("/admin/webhooks", json={"url": url, "events": ALL_TYPES}, headers=admin)
    assert "refused" in assert_problem(r, 422)["errors"]["url"][0]


@pytest.mark.sqlite_only
def test_production_wants_https(make_app: Any) -> None:
    app = make_app(webhook_allowed_networks=LOOPBACK)
    c = app.test_client()
    headers = AuthActions(c).headers()  # the first account, an admin, then production
    app.extensions["settings"] = dataclasses.replace(
        app.extensions["settings"], app_env="production"
    )
    r = c.post(
        "/admin/webhooks", json={"url": "http://127.0.0.1:9/", "events": ALL_TYPES}, headers=headers
    )
    assert "https" in assert_problem(r, 422)["errors"]["url"][0]


def test_each_product_change_is_delivered_signed_and_verifies(
    hooks_app: Any, hooks_client: Any, admin_headers: dict[str, str], hook: Receiver
) -> None:
    endpoint = add_endpoint(hooks_client, admin_headers, hook.url)
    product = create_product(hooks_client, admin_headers).get_json()
    path = f"/api/products/{product['id']}"
    changed = hooks_client.patch(path, json={"quantity": 9}, headers=admin_headers).get_json()
    assert hooks_client.delete(path, headers=admin_headers).status_code == 204
    assert deliver(hooks_app) == 3

    received = hook.wait_for(3)
    verifier = Webhook(endpoint["secret"])
    bodies = [verifier.verify(r.body, r.headers) for r in received]
    assert [b["type"] for b in bodies] == ALL_TYPES
    assert bodies[0]["data"] == product
    assert bodies[1]["data"] == changed
    assert bodies[2]["data"]["id"] == product["id"] and bodies[2]["data"]["version"] == 3
    assert all(set(b) == {"type", "timestamp", "data"} for b in bodies)
    assert len({r.headers["webhook-id"] for r in received}) == 3
    assert all(r.headers["content-type"] == "application/json" for r in received)
    assert endpoint["secret"].encode() not in b"".join(r.body for r in received)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(received[0].body, received[0].headers)
    listed = deliveries(hooks_client, admin_headers, endpoint["id"])
    assert [d["status"] for d in listed["items"]] == ["delivered"] * 3
    assert [d["type"] for d in listed["items"]] == list(reversed(ALL_TYPES))  # newest first
    assert listed["items"][0]["attempts"] == 1 and listed["items"][0]["last_status_code"] == 200
    assert listed["items"][0]["next_attempt_at"] is None


def test_an_endpoint_gets_only_the_types_it_wants(
    hooks_app: Any, hooks_client: Any, admin_headers: dict[str, str], hook: Receiver
) -> None:
    hooks_client.post(
        "/admin/webhooks",
        json={"url": hook.url, "events": ["product.deleted"]},
        headers=admin_headers,
    )
    product = create_product(hooks_client, admin_headers).get_json()
    hooks_client.delete(f"/api/products/{product['id']}", headers=admin_headers)
    assert deliver(hooks_app) == 1
    assert json.loads(hook.wait_for(1)[0].body)["type"] == "product.deleted"


def test_a_change_that_rolls_back_sends_nothing(
    hooks_app: Any, hooks_client: Any, admin_headers: dict[str, str], hook: Receiver
) -> None:
    endpoint = add_endpoint(hooks_client, admin_headers, hook.url)
    with hooks_app.test_request_context():
        session = db.session()
        data = {**product_body(), "price": Decimal("19.90")}
        versioned.create(session, PRODUCTS, Account(id=1, role="admin"), data)
        session.rollback()
    assert deliver(hooks_app) == 0
    assert hook.received == []
    assert deliveries(hooks_client, admin_headers, endpoint["id"])["items"] == []


def test_a_failing_receiver_is_retried_with_the_same_webhook_id_until_it_answers_2xx(
    hooks_app: Any, hooks_client: Any, admin_headers: dict[str, str], hook: Receiver
) -> None:
    endpoint = add_endpoint(hooks_client, admin_headers, hook.url)
    hook.answers = [500, 503, 404]
    create_product(hooks_client, admin_headers)
    assert deliver(hooks_app) == 4
    received = hook.wait_for(4)
    assert len(received) == 4
    assert len({r.headers["webhook-id"] for r in received}) == 1
    assert len({r.body for r in received}) == 1
    [delivery] = deliveries(hooks_client, admin_headers, endpoint["id"])["items"]
    assert delivery["status"] == "delivered" and delivery["attempts"] == 4


def test_after_the_schedule_a_delivery_fails_and_an_admin_can_retry_it(
    hooks_app: Any, hooks_client: Any, admin_headers: dict[str, str], hook: Receiver
) -> None:
    endpoint = add_endpoint(hooks_client, admin_headers, hook.url)
    hook.answers = [500] * 4
    create_product(hooks_client, admin_headers)
    assert deliver(hooks_app) == 4
    [failed] = deliveries(hooks_client, admin_headers, endpoint["id"], status="failed")["items"]
    assert failed["attempts"] == 4 and failed["last_status_code"] == 500
    assert failed["last_error"] == "answered 500"
    assert deliveries(hooks_client, admin_headers, endpoint["id"], status="pending")["items"] == []

    path = f"/admin/webhooks/{endpoint['id']}/deliveries/{failed['id']}/retry"
    again = hooks_client.post(path, headers=admin_headers)
    assert again.status_code == 202 and again.get_json()["status"] == "pending"
    assert deliver(hooks_app) == 1
    [done] = deliveries(hooks_client, admin_headers, endpoint["id"])["items"]
    assert done["status"] == "delivered" and done["attempts"] == 5
    other = add_endpoint(hooks_client, admin_headers, hook.url)
    wrong = f"/admin/webhooks/{other['id']}/deliveries/{failed['id']}/retry"
    assert_problem(hooks_client.post(wrong, headers=admin_headers), 404)


def test_retries_wait_for_the_schedule(make_app: Any, hook: Receiver, clock: Any) -> None:
    app = make_app(webhook_allowed_networks=LOOPBACK, webhook_retry_schedule=(60, 300))
    c = app.test_client()
    headers = AuthActions(c).headers()
    endpoint = add_endpoint(c, headers, hook.url)
    hook.answers = [500, 500]
    create_product(c, headers)
    assert deliver(app) == 1
    [pending] = deliveries(c, headers, endpoint["id"])["items"]
    assert pending["status"] == "pending" and pending["attempts"] == 1
    assert deliver(app) == 0  # not yet due
    clock.advance(67)  # 60 s and up to a tenth of jitter
    assert deliver(app) == 1
    clock.advance(331)
    assert deliver(app) == 1
    [delivered] = deliveries(c, headers, endpoint["id"])["items"]
    assert delivered["status"] == "delivered" and delivered["attempts"] == 3


def test_a_disabled_endpoint_gets_no_new_deliveries_and_its_pending_ones_wait(
    hooks_app: Any, hooks_client: Any, admin_headers: dict[str, str], hook: Receiver
) -> None:
    endpoint = add_endpoint(hooks_client, admin_headers, hook.url)
    path = f"/admin/webhooks/{endpoint['id']}"
    create_product(hooks_client, admin_headers)  # pending, then the endpoint is disabled
    hooks_client.patch(path, json={"enabled": False}, headers=admin_headers)
    create_product(hooks_client, admin_headers)  # none for the disabled endpoint
    assert deliver(hooks_app) == 0 and hook.received == []
    hooks_client.patch(path, json={"enabled": True}, headers=admin_headers)
    assert deliver(hooks_app) == 1
    assert len(hook.wait_for(1)) == 1
    assert len(deliveries(hooks_client, admin_headers, endpoint["id"])["items"]) == 1


def test_a_redirect_is_not_followed(
    hooks_app: Any, hooks_client: Any, admin_headers: dict[str, str], hook: Receiver
) -> None:
    endpoint = add_endpoint(hooks_client, admin_headers, hook.url)
    hook.redirect_to = "http://169.254.169.254/latest/meta-data"
    create_product(hooks_client, admin_headers)
    deliver(hooks_app)
    [delivery] = deliveries(hooks_client, admin_headers, endpoint["id"])["items"]
    assert delivery["status"] == "failed" and delivery["last_status_code"] == 302
    assert "redirects are not followed" in delivery["last_error"]
    hook.redirect_to = hook.url + "/elsewhere"
    create_product(hooks_client, admin_headers)
    deliver(hooks_app)
    assert all(r.path == "/hook" for r in hook.received)


def test_a_destination_no_longer_allowed_fails_at_delivery_saying_why(
    hooks_app: Any, hooks_client: Any, admin_headers: dict[str, str], hook: Receiver
) -> None:
    endpoint = add_endpoint(hooks_client, admin_headers, hook.url)
    create_product(hooks_client, admin_headers)
    deliver(hooks_app, webhook_allowed_networks=(), webhook_retry_schedule=())
    [delivery] = deliveries(hooks_client, admin_headers, endpoint["id"])["items"]
    assert delivery["status"] == "failed" and delivery["last_status_code"] is None
    assert "loopback" in delivery["last_error"]
    assert hook.received == []


def test_after_a_rotation_deliveries_carry_both_signatures_for_a_day(
    hooks_app: Any,
    hooks_client: Any,
    admin_headers: dict[str, str],
    hook: Receiver,
    clock: Any,
) -> None:
    endpoint = add_endpoint(hooks_client, admin_headers, hook.url)
    rotated = hooks_client.post(
        f"/admin/webhooks/{endpoint['id']}/rotate-secret", headers=admin_headers
    )
    assert rotated.status_code == 200
    new = rotated.get_json()["secret"]
    assert new.startswith("whsec_") and new != endpoint["secret"]
    create_product(hooks_client, admin_headers)
    deliver(hooks_app)
    [first] = hook.wait_for(1)
    assert len(first.headers["webhook-signature"].split(" ")) == 2
    for secret in (endpoint["secret"], new):
        Webhook(secret).verify(first.body, first.headers)

    clock.advance(24 * 3600 + 1)
    auth = AuthActions(hooks_client, clock)
    create_product(hooks_client, auth.headers(auth.register("next-day")))
    deliver(hooks_app)
    second = hook.wait_for(2)[1]
    assert len(second.headers["webhook-signature"].split(" ")) == 1
    # Signed a day ahead of the receiver's own clock: checked without its time window.
    at = second.headers["webhook-timestamp"]
    signed = Webhook(new).sign(second.headers["webhook-id"], _moment(at), second.body)
    assert second.headers["webhook-signature"] == signed


def _moment(timestamp: str) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(timestamp), UTC)


def test_deliveries_come_a_page_at_a_time_newest_first(
    hooks_app: Any, hooks_client: Any, admin_headers: dict[str, str], hook: Receiver
) -> None:
    endpoint = add_endpoint(hooks_client, admin_headers, hook.url)
    for _ in range(3):
        create_product(hooks_client, admin_headers)
    first = deliveries(hooks_client, admin_headers, endpoint["id"], limit=2)
    second = deliveries(
        hooks_client, admin_headers, endpoint["id"], limit=2, cursor=first["next_cursor"]
    )
    ids = [d["id"] for d in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 3
    assert second["next_cursor"] is None
    assert all(d["status"] == "pending" for d in first["items"])
    bad = hooks_client.get(
        f"/admin/webhooks/{endpoint['id']}/deliveries?status=lost", headers=admin_headers
    )
    assert "status" in assert_problem(bad, 422)["errors"]
    assert_problem(hooks_client.get("/admin/webhooks/999/deliveries", headers=admin_headers), 404)


def test_the_backlog_and_the_attempts_are_in_the_metrics(
    hooks_app: Any, hooks_client: Any, admin_headers: dict[str, str], hook: Receiver, clock: Any
) -> None:
    add_endpoint(hooks_client, admin_headers, hook.url)
    create_product(hooks_client, admin_headers)
    clock.advance(30)
    text = hooks_client.get("/metrics").get_data(as_text=True)
    assert "shopapi_webhook_deliveries_pending 1.0" in text
    age = _figure(text, "shopapi_webhook_oldest_pending_seconds")
    assert 30 <= age < 300
    deliver(hooks_app)
    text = hooks_client.get("/metrics").get_data(as_text=True)
    assert "shopapi_webhook_deliveries_pending 0.0" in text
    assert (
        _figure(text, 'shopapi_webhook_attempts_total{outcome="delivered",type="product.created"}')
        >= 1
    )


def _figure(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no {name} in the metrics")


def test_ended_deliveries_and_their_events_are_purged_after_the_keep_days(
    hooks_app: Any, hooks_client: Any, admin_headers: dict[str, str], hook: Receiver
) -> None:
    endpoint = add_endpoint(hooks_client, admin_headers, hook.url)
    create_product(hooks_client, admin_headers)
    deliver(hooks_app)
    settings = hooks_app.extensions["settings"]
    tables = ["webhook_deliveries", "webhook_events"]
    with hooks_app.extensions["db_engine"].connect() as conn:
        soon = purge_expired(conn, utcnow() + timedelta(days=29), settings, tables=tables)
        late = purge_expired(
            conn, utcnow() + timedelta(days=30, seconds=1), settings, tables=tables
        )
    assert soon == {"webhook_deliveries": 0, "webhook_events": 0}
    assert late == {"webhook_deliveries": 1, "webhook_events": 1}
    assert deliveries(hooks_client, admin_headers, endpoint["id"])["items"] == []


def test_https_is_sent_to_the_checked_address_with_the_urls_name_for_tls(
    hooks_app: Any,
    hooks_client: Any,
    admin_headers: dict[str, str],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The attempt connects to 127.0.0.1 (what `localhost` resolved to and was allowed as),
    and TLS checks the certificate against `localhost`: trusted, it is delivered; for a
    URL naming the address, the same certificate does not match, and nothing is sent."""
    cert, key = certificate(tmp_path, "localhost")
    with receiver(tls=(cert, key)) as hook:
        by_name = add_endpoint(hooks_client, admin_headers, f"https://localhost:{hook.port}/hook")
        by_address = add_endpoint(hooks_client, admin_headers, hook.url)
        create_product(hooks_client, admin_headers)
        deliver(hooks_app)  # the certificate is not trusted yet
        for endpoint in (by_name, by_address):
            [untrusted] = deliveries(hooks_client, admin_headers, endpoint["id"])["items"]
            assert untrusted["status"] == "failed" and "TLS" in untrusted["last_error"]
        assert hook.received == []

        monkeypatch.setenv("SSL_CERT_FILE", cert)  # trusted from now on
        create_product(hooks_client, admin_headers)
        deliver(hooks_app)
        [trusted, _] = deliveries(hooks_client, admin_headers, by_name["id"])["items"]
        assert trusted["status"] == "delivered"
        [mismatch, _] = deliveries(hooks_client, admin_headers, by_address["id"])["items"]
        assert mismatch["status"] == "failed" and "TLS" in mismatch["last_error"]
        assert len(hook.received) == 1
        assert hook.received[0].headers["host"] == f"localhost:{hook.port}"


def test_an_attempt_whose_claim_ran_out_while_others_were_sent_is_sent_once(
    hooks_app: Any,
    hooks_client: Any,
    admin_headers: dict[str, str],
    hook: Receiver,
    clock: Any,
) -> None:
    """Three deliveries to one endpoint, claimed together, sent in turn, each taking the
    whole 10 seconds: the second renews its claim before its turn; the third's has run
    out by its turn, another instance has claimed and sent it, and the first instance
    leaves it alone. Each is received once."""
    endpoint = add_endpoint(hooks_client, admin_headers, hook.url)
    for _ in range(3):
        create_product(hooks_client, admin_headers)
    other = Worker(hooks_app.extensions["db_side"], hooks_app.extensions["settings"])
    seen: list[int] = []
    other_sent: list[int] = []

    def slow(_request: Any) -> None:
        seen.append(len(seen) + 1)
        if len(seen) <= 2:
            clock.advance(10)  # the longest a send may take
        if len(seen) == 2:
            other_sent.append(other.run_once())

    hook.on_request = slow
    assert deliver(hooks_app) == 3  # claimed three, sent two
    assert other_sent == [1]
    received = hook.wait_for(3)
    assert len(received) == 3 and len({r.headers["webhook-id"] for r in received}) == 3
    items = deliveries(hooks_client, admin_headers, endpoint["id"])["items"]
    assert [(d["status"], d["attempts"]) for d in items] == [("delivered", 1)] * 3


def test_a_failing_endpoint_costs_a_round_one_attempt_and_others_are_not_held_up(
    hooks_app: Any, hooks_client: Any, admin_headers: dict[str, str], hook: Receiver
) -> None:
    with receiver() as failing:
        failing.answers = [500] * 10
        bad = add_endpoint(hooks_client, admin_headers, failing.url)
        good = add_endpoint(hooks_client, admin_headers, hook.url)
        for _ in range(3):
            create_product(hooks_client, admin_headers)
        deliver(hooks_app, webhook_retry_schedule=(300,))
        assert len(failing.received) == 1  # not one attempt per waiting delivery
    assert len(hook.wait_for(3)) == 3
    ok = deliveries(hooks_client, admin_headers, good["id"])["items"]
    assert [d["status"] for d in ok] == ["delivered"] * 3
    waiting = deliveries(hooks_client, admin_headers, bad["id"])["items"]
    assert sorted(d["attempts"] for d in waiting) == [0, 0, 1]
    assert {d["status"] for d in waiting} == {"pending"}
    # The two it did not try wait for the next attempt of the one that failed.
    assert len({d["next_attempt_at"] for d in waiting}) == 1
