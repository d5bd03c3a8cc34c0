"""A movement whose transaction the database aborts at COMMIT is run again, whole: applied
once, answered as it deserves; when conflicts outlast the retry time, 503 and nothing
changed. The ledger holds either way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from support import (
    AuthActions,
    assert_ledger_holds,
    assert_problem,
    conflicts_at_commit,
    create_product,
    move,
)


def test_a_conflict_at_commit_is_retried_and_the_movement_applied_once(app: Any) -> None:
    client = app.test_client()
    headers = AuthActions(client).headers()
    product = create_product(client, headers, quantity=5).get_json()
    with conflicts_at_commit(app.extensions["db_engine"], times=2) as failed:
        r = move(client, headers, product["id"], -2, reason="sold")
    assert failed == [2]
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["quantity_after"] == 3 and r.get_json()["version_after"] == 2
    url = f"/api/products/{product['id']}"
    assert client.get(url, headers=headers).get_json()["quantity"] == 3
    listed = client.get(f"{url}/stock-movements", headers=headers).get_json()["items"]
    assert [m["delta"] for m in listed] == [-2, 5]
    assert_ledger_holds(app)


def test_when_conflicts_outlast_the_retry_time_a_movement_is_503_and_changes_nothing(
    make_app: Callable[..., Any],
) -> None:
    app = make_app(db_retry_seconds=1)
    client = app.test_client()
    headers = AuthActions(client).headers()
    product = create_product(client, headers, quantity=5).get_json()
    with conflicts_at_commit(app.extensions["db_engine"], times=10_000) as failed:
        r = move(client, headers, product["id"], -2, reason="sold")
    assert_problem(r, 503)
    assert r.headers["Retry-After"] == "1"
    assert failed[0] > 1
    url = f"/api/products/{product['id']}"
    assert client.get(url, headers=headers).get_json() == product
    assert len(client.get(f"{url}/stock-movements", headers=headers).get_json()["items"]) == 1
    assert_ledger_holds(app)
