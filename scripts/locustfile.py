"""Locust users of `make loadtest`: sign-ins, reads, creates, conditional updates, deletes,
stock received, and buyers who reserve a basket and then commit (buy) or release it.

Each user has its own account and its own loopback address (127.x.y.z), as separate
clients would. It signs in with real TOTP codes: a new sign-in takes the next time step
that account has not used (the server accepts one step either side), and when none is
left in the window it registers a fresh account instead. Every acknowledged write goes
into a journal (LOADTEST_JOURNAL) that scripts/loadtest.py checks against the database.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
from typing import Any

import pyotp
from locust import HttpUser, between, events, task
from requests.adapters import HTTPAdapter

PASSWORD = "load-test-walrus-parade"  # noqa: S105 - throwaway accounts on a scratch database
JOURNAL: list[dict[str, Any]] = []
SHARED: list[int] = []  # product ids any user may try to update (they contend on purpose)
_users = itertools.count(1)


class _FromAddress(HTTPAdapter):
    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__(pool_maxsize=2)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


class Shopper(HttpUser):
    wait_time = between(0.05, 0.3)

    def on_start(self) -> None:
        self.number = next(_users)
        self.client.mount(
            "http://", _FromAddress(f"127.77.{self.number // 250}.{self.number % 250 + 1}")
        )
        self.writes = itertools.count(1)
        self.mine: dict[int, int] = {}  # my products: id -> last version I saw
        self.register()
        self.sign_in()

    # --- sign-in ---------------------------------------------------------------------

    def register(self) -> None:
        self.username = f"load{self.number}_{uuid.uuid4().hex[:8]}"
        with self.client.post(
            "/auth/register",
            json={"username": self.username, "password": PASSWORD},
            name="/auth/register",
            catch_response=True,
        ) as r:
            if r.status_code != 201:
                r.failure(f"register: {r.status_code}")
                raise RuntimeError(f"register failed: {r.status_code} {r.text[:200]}")
            self.secret = r.json()["totp"]["secret"]
            self.last_step = 0

    def sign_in(self) -> None:
        now = int(time.time()) // 30
        step = max(self.last_step + 1, now - 1)
        if step > now + 1:  # every step of this window is used: a new account
            self.register()
            step = now
        r = self.client.post("/auth/login", json={"username": self.username, "password": PASSWORD})
        if r.status_code != 200:
            return
        v = self.client.post(
            "/auth/verify",
            json={"mfa_token": r.json()["mfa_token"], "otp": pyotp.TOTP(self.secret).at(step * 30)},
        )
        if v.status_code == 200:
            self.last_step = step
            self.client.headers["Authorization"] = f"Bearer {v.json()['access_token']}"

    @task(1)
    def sign_in_again(self) -> None:
        self.sign_in()

    # --- reads -----------------------------------------------------------------------

    @task(6)
    def list_page(self) -> None:
        self.client.get("/api/products?limit=20", name="/api/products?limit")

    @task(6)
    def read_one(self) -> None:
        if SHARED:
            product_id = random.choice(SHARED)  # noqa: S311
            with self.client.get(
                f"/api/products/{product_id}", name="/api/products/{id}", catch_response=True
            ) as r:
                if r.status_code == 404:
                    r.success()  # deleted meanwhile

    @task(2)
    def read_history(self) -> None:
        if SHARED:
            product_id = random.choice(SHARED)  # noqa: S311
            self.client.get(
                f"/api/products/{product_id}/history", name="/api/products/{id}/history"
            )

    # --- writes ----------------------------------------------------------------------

    @task(4)
    def create(self) -> None:
        key = str(uuid.uuid4())
        body = {
            "name": f"Item {self.number}-{next(self.writes)}",
            "description": None,
            "price": f"{random.randint(0, 99999)}.{random.randint(0, 99):02d}",  # noqa: S311
            "quantity": random.randint(0, 1000),  # noqa: S311
        }
        r = self.client.post(
            "/api/products", json=body, headers={"Idempotency-Key": key}, name="/api/products"
        )
        if r.status_code == 201:
            product = r.json()
            self.mine[product["id"]] = 1
            SHARED.append(product["id"])
            JOURNAL.append({"op": "create", "id": product["id"], "body": body})

    @task(5)
    def conditional_update(self) -> None:
        if not SHARED:
            return
        product_id = random.choice(SHARED)  # noqa: S311
        with self.client.get(
            f"/api/products/{product_id}", name="/api/products/{id}", catch_response=True
        ) as current:
            if current.status_code == 404:
                current.success()
                return
        if current.status_code != 200:
            return
        version = current.json()["version"]
        quantity = self.number * 1_000_000 + next(self.writes)  # unique: always a change
        with self.client.patch(
            f"/api/products/{product_id}",
            json={"quantity": quantity},
            headers={"If-Match": f'"{version}"'},
            name="/api/products/{id} PATCH",
            catch_response=True,
        ) as r:
            if r.status_code in (404, 409, 412):
                # Lost the race (a stale If-Match), or the new quantity is below what
                # buyers' reservations hold: the expected answers.
                r.success()
            elif r.status_code == 200:
                after = r.json()["version"]
                JOURNAL.append(
                    {"op": "update", "id": product_id, "version": after, "quantity": quantity}
                )

    @task(2)
    def conditional_delete(self) -> None:
        if not self.mine:
            return
        product_id = random.choice(list(self.mine))  # noqa: S311
        current = self.client.get(f"/api/products/{product_id}", name="/api/products/{id}")
        if current.status_code != 200:
            return
        version = current.json()["version"]
        with self.client.delete(
            f"/api/products/{product_id}",
            headers={"If-Match": f'"{version}"'},
            name="/api/products/{id} DELETE",
            catch_response=True,
        ) as r:
            if r.status_code in (409, 412):
                r.success()  # changed meanwhile, or held by a buyer's reservation
            elif r.status_code == 204:
                del self.mine[product_id]
                JOURNAL.append({"op": "delete", "id": product_id, "version": version + 1})

    # --- stock and buyers -------------------------------------------------------------

    @task(2)
    def receive_stock(self) -> None:
        if not SHARED:
            return
        product_id = random.choice(SHARED)  # noqa: S311
        delta = random.randint(1, 20)  # noqa: S311
        with self.client.post(
            f"/api/products/{product_id}/stock-movements",
            json={"delta": delta, "reason": "received"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
            name="/api/products/{id}/stock-movements",
            catch_response=True,
        ) as r:
            if r.status_code in (404, 409):
                r.success()  # deleted meanwhile, or past the largest quantity
            elif r.status_code == 201:
                JOURNAL.append({"op": "move", "id": product_id, "movement": r.json()["id"]})

    @task(4)
    def buy(self) -> None:
        """Reserve a basket of 1-3 products, then commit it (three in four) or release it."""
        if len(SHARED) < 3:
            return
        basket = random.sample(SHARED[-50:], random.randint(1, 3))  # noqa: S311
        items = [{"product_id": i, "quantity": random.randint(1, 3)} for i in basket]  # noqa: S311
        with self.client.post(
            "/api/reservations",
            json={"items": items, "expires_in": 300},
            headers={"Idempotency-Key": str(uuid.uuid4())},
            name="/api/reservations",
            catch_response=True,
        ) as r:
            if r.status_code in (409, 422):
                r.success()  # not enough available, or a product deleted meanwhile
                return
            if r.status_code != 201:
                return
        reservation = r.json()["id"]
        JOURNAL.append({"op": "reserve", "id": reservation, "items": items})
        if random.random() < 0.75:  # noqa: S311
            done = self.client.post(
                f"/api/reservations/{reservation}/commit", name="/api/reservations/{id}/commit"
            )
            if done.status_code == 200:
                JOURNAL.append({"op": "commit", "id": reservation})
        else:
            done = self.client.delete(
                f"/api/reservations/{reservation}", name="/api/reservations/{id} DELETE"
            )
            if done.status_code == 204:
                JOURNAL.append({"op": "release", "id": reservation})


@events.request.add_listener
def count_server_errors(response: Any = None, **_kwargs: Any) -> None:
    if response is not None and getattr(response, "status_code", 0) >= 500:
        JOURNAL.append({"op": "5xx", "status": response.status_code})


def _figures(entry: Any) -> dict[str, Any]:
    return {
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "p50": entry.get_response_time_percentile(0.5),
        "p99": entry.get_response_time_percentile(0.99),
    }


@events.quitting.add_listener
def write_journal(environment: Any, **_kwargs: Any) -> None:
    """The journal and the final figures (locust's CSV can lag the last seconds)."""
    path = os.environ.get("LOADTEST_JOURNAL")
    if not path:
        return
    stats = environment.stats
    total = stats.total
    seconds = max(total.last_request_timestamp - total.start_time, 1e-9)
    summary = {
        **_figures(total),
        "rps": total.num_requests / seconds,
        "seconds": seconds,
        "by_name": {
            f"{m} {n}": {**_figures(e), "rps": e.num_requests / seconds}
            for (n, m), e in sorted(stats.entries.items())
        },
    }
    with open(path, "w") as fh:
        json.dump({"figures": summary, "journal": JOURNAL}, fh)
