"""The one-winner rules on a Galera cluster, with the racers split between instance A (node 1)
and instance B (node 2): 20 rounds of each race give exactly one winner, the losers the
answer their request deserves (never a 5xx), and a read through the other node right after
an answer sees what it says (no stale answer).
"""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from support import HttpAuth, create_product, http_session, loopback_address, product_body
from support.galera import Cluster, count_on

pytestmark = [pytest.mark.galera, pytest.mark.e2e]
ROUNDS = 20
# Racers per race, half through each instance: as many as raced each one-winner rule when
# the service was first tried on a cluster.
VERIFIERS, REFRESHERS, PATCHERS, CREATORS, BUYERS = 8, 8, 12, 10, 8


def race(cluster: Cluster, send: Any, racers: int) -> list[tuple[str, requests.Response]]:
    """`send(base, session)` by `racers` clients at once, alternately through A and B, each on
    a connection (and loopback address) of its own; (base, answer) of each."""
    bases = [cluster.bases[n % 2] for n in range(racers)]
    with ThreadPoolExecutor(max_workers=racers) as pool:
        answers = list(pool.map(lambda base: send(base, http_session()), bases))
    return list(zip(bases, answers, strict=True))


def statuses(answers: list[tuple[str, requests.Response]]) -> Counter[int]:
    return Counter(r.status_code for _, r in answers)


def winner(answers: list[tuple[str, requests.Response]], status: int) -> tuple[str, Any]:
    """(base, answer) of the one answer with `status`."""
    (won,) = [(base, r) for base, r in answers if r.status_code == status]
    return won


def other(cluster: Cluster, base: str) -> str:
    return cluster.b.url if base == cluster.a.url else cluster.a.url


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_racing_verifies_with_one_code_sign_in_once(cluster: Cluster, round_: int) -> None:
    auth = HttpAuth(cluster.a.url, loopback_address())
    account = auth.register()
    mfa_token, code = auth.login(account), account.next_code()
    answers = race(
        cluster,
        lambda base, http: http.post(
            f"{base}/auth/verify", json={"mfa_token": mfa_token, "otp": code}, timeout=60
        ),
        VERIFIERS,
    )
    assert statuses(answers) == {200: 1, 401: VERIFIERS - 1}, statuses(answers)
    base, won = winner(answers, 200)
    # The session the winner started on one node is live on the other at once.
    me = requests.get(
        f"{other(cluster, base)}/auth/me",
        headers={"Authorization": f"Bearer {won.json()['access_token']}"},
        timeout=30,
    )
    assert me.status_code == 200, me.text


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_racing_refreshes_with_one_token_rotate_it_once(cluster: Cluster, round_: int) -> None:
    auth = HttpAuth(cluster.a.url, loopback_address())
    account = auth.register()
    verify = {"mfa_token": auth.login(account), "otp": account.next_code()}
    signed_in = requests.post(f"{cluster.a.url}/auth/verify", json=verify, timeout=30).json()
    refresh = {"refresh_token": signed_in["refresh_token"]}
    answers = race(
        cluster,
        lambda base, http: http.post(f"{base}/auth/refresh", json=refresh, timeout=60),
        REFRESHERS,
    )
    assert statuses(answers) == {200: 1, 401: REFRESHERS - 1}, statuses(answers)
    # The losers presented a used-up token: the session has ended, on either node at once.
    _base, won = winner(answers, 200)
    access = {"Authorization": f"Bearer {won.json()['access_token']}"}
    for base in cluster.bases:
        assert requests.get(f"{base}/auth/me", headers=access, timeout=30).status_code == 401


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_racing_patches_with_one_if_match_change_the_product_once(
    cluster: Cluster, round_: int
) -> None:
    created = create_product(requests.Session(), cluster.admin, cluster.a.url, quantity=5)
    location = created.headers["Location"]
    answers = race(
        cluster,
        lambda base, http: http.patch(
            f"{base}{location}",
            json={"quantity": 100 + round_, "name": f"Lamp {uuid.uuid4().hex[:6]}"},
            headers={**cluster.admin, "If-Match": '"1"'},
            timeout=60,
        ),
        PATCHERS,
    )
    assert statuses(answers) == {200: 1, 412: PATCHERS - 1}, statuses(answers)
    base, won = winner(answers, 200)
    assert won.json()["version"] == 2
    there = other(cluster, base)
    seen = requests.get(f"{there}{location}", headers=cluster.admin, timeout=30)
    assert seen.json() == won.json()
    # A change to what the product already holds, judged against version 1 on the other
    # node: that version is gone, so 412 (never 200 with version 1).
    again = requests.patch(
        f"{there}{location}",
        json={"quantity": won.json()["quantity"]},
        headers={**cluster.admin, "If-Match": '"1"'},
        timeout=30,
    )
    assert again.status_code == 412, again.text


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_racing_creates_with_one_idempotency_key_create_one_product(
    cluster: Cluster, round_: int
) -> None:
    name = f"Shelf {uuid.uuid4().hex}"
    keyed = {**cluster.admin, "Idempotency-Key": str(uuid.uuid4())}
    answers = race(
        cluster,
        lambda base, http: http.post(
            f"{base}/api/products", json=product_body(name=name), headers=keyed, timeout=60
        ),
        CREATORS,
    )
    assert statuses(answers) == {201: CREATORS}, statuses(answers)
    bodies = {r.text for _, r in answers}
    assert len(bodies) == 1  # every answer is the first one
    assert len({r.headers["Location"] for _, r in answers}) == 1
    for node in (1, 2, 3):
        rows = count_on(
            node, cluster.database, "SELECT COUNT(*) FROM products WHERE name = :n", n=name
        )
        assert rows == 1, f"node {node}: {rows} products named {name}"


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_racing_sales_of_the_last_one_sell_it_once(cluster: Cluster, round_: int) -> None:
    created = create_product(requests.Session(), cluster.admin, cluster.a.url, quantity=1)
    product = created.json()["id"]
    answers = race(
        cluster,
        lambda base, http: http.post(
            f"{base}/api/products/{product}/stock-movements",
            json={"delta": -1, "reason": "sold"},
            headers=cluster.admin,
            timeout=60,
        ),
        BUYERS,
    )
    assert statuses(answers) == {201: 1, 409: BUYERS - 1}, statuses(answers)
    assert all(r.json()["available"] == 0 for _, r in answers if r.status_code == 409)
    base, _won = winner(answers, 201)
    seen = requests.get(
        f"{other(cluster, base)}/api/products/{product}", headers=cluster.admin, timeout=30
    ).json()
    assert (seen["quantity"], seen["version"]) == (0, 2)
    movements = count_on(
        3,
        cluster.database,
        "SELECT COALESCE(SUM(delta), 0) FROM stock_movements WHERE product_id = :p",
        p=product,
    )
    assert movements == 0  # the ledger holds: 1 received at creation, 1 sold
