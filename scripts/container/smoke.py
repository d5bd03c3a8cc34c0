"""The compose set's smoke test, through the proxy, as a client sees it (`make compose-test`).

Signs up and signs in with a real TOTP code (pyotp), runs the products CRUD, then:
- kills one instance: the other goes on serving every request through the proxy;
- kills the database (SIGKILL, no clean shutdown) while writes keep coming, and starts it
  again: every write that was acknowledged (201) is there, with what was sent;
- with --upgrade COMMAND, runs it (a rolling upgrade) while reads and writes keep coming:
  every one of them is answered.
Each step prints what it saw; the first broken promise stops the run with exit status 1.

    python scripts/container/smoke.py --url http://127.0.0.1:8080 --project shopapi \
        [--upgrade "scripts/container/compose.sh upgrade"]
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pyotp
import requests

PASSWORD = "a long passphrase for the container smoke test"  # noqa: S105 - a scratch account


class Broken(AssertionError):
    """A promise the deployment did not keep."""


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise Broken(what)


class Client:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = requests.Session()
        self.http.trust_env = False  # loopback: never through a proxy from the environment

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 40)
        return self.http.request(method, self.url + path, **kwargs)

    def sign_in(self) -> str:
        username = f"smoke-{uuid.uuid4().hex[:8]}"
        made = self.call(
            "POST", "/auth/register", json={"username": username, "password": PASSWORD}
        )
        expect(made.status_code == 201, f"register: {made.status_code} {made.text[:200]}")
        totp = pyotp.TOTP(made.json()["totp"]["secret"])
        login = self.call("POST", "/auth/login", json={"username": username, "password": PASSWORD})
        expect(login.status_code == 200, f"login: {login.status_code} {login.text[:200]}")
        verify = self.call(
            "POST", "/auth/verify", json={"mfa_token": login.json()["mfa_token"], "otp": totp.now()}
        )
        expect(verify.status_code == 200, f"verify: {verify.status_code} {verify.text[:200]}")
        token: str = verify.json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"
        me = self.call("GET", "/auth/me")
        expect(me.status_code == 200 and me.json()["username"] == username, "GET /auth/me")
        print(f"smoke: signed in as {username} ({me.json()['role']}) with password and TOTP")
        return username


def step(title: str) -> None:
    print(f"smoke: {title}", flush=True)


def crud(client: Client) -> None:
    step("products CRUD through the proxy")
    body = {"name": "Kettle", "description": "1.7 l", "price": "24.90", "quantity": 5}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    made = client.call("POST", "/api/products", json=body, headers=key)
    expect(made.status_code == 201, f"create: {made.status_code} {made.text[:200]}")
    again = client.call("POST", "/api/products", json=body, headers=key)
    expect(
        again.json()["id"] == made.json()["id"], "a repeated Idempotency-Key made a second product"
    )
    location = made.headers["Location"]
    path = "/" + location.split("://", 1)[-1].split("/", 1)[1] if "://" in location else location
    got = client.call("GET", path)
    expect(got.status_code == 200 and got.json()["price"] == "24.90", f"read: {got.text[:200]}")
    patched = client.call("PATCH", path, json={"quantity": 4}, headers={"If-Match": '"1"'})
    expect(patched.status_code == 200 and patched.json()["version"] == 2, "patch with If-Match")
    stale = client.call("PUT", path, json={**body, "quantity": 9}, headers={"If-Match": '"1"'})
    expect(stale.status_code == 412, f"a stale If-Match: {stale.status_code}, not 412")
    put = client.call("PUT", path, json={**body, "quantity": 9}, headers={"If-Match": '"2"'})
    expect(put.status_code == 200 and put.json()["quantity"] == 9, "put with If-Match")
    page = client.call("GET", "/api/products", params={"limit": 200})
    expect(any(item["id"] == made.json()["id"] for item in page.json()["items"]), "list")
    gone = client.call("DELETE", path)
    expect(gone.status_code == 204, f"delete: {gone.status_code}")
    expect(client.call("GET", path).status_code == 404, "a deleted product is still there")
    history = client.call("GET", path + "/history").json()["items"]
    actions = [entry["action"] for entry in history]
    expect(actions == ["create", "update", "update", "delete"], f"history: {actions}")
    step("create, read, patch, put (412 on a stale version), list, delete, history: ok")


def podman(*args: str) -> str:
    return subprocess.run(
        ["podman", *args], check=True, capture_output=True, text=True, timeout=120
    ).stdout.strip()


def wait_until(what: str, ready: Callable[[], bool], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        expect(time.monotonic() < deadline, f"{what}: not within {seconds:.0f} s")
        time.sleep(0.5)


def healthy(container: str) -> bool:
    return (
        subprocess.run(["podman", "healthcheck", "run", container], capture_output=True).returncode
        == 0
    )


def one_instance_down(client: Client, project: str) -> None:
    victim = f"{project}_app1_1"
    step(f"killing {victim}: app2 alone answers every request")
    podman("kill", victim)
    answers, repeated = [], 0
    for n in range(30):
        body = {"name": f"one-down {n}", "price": 1, "quantity": n}
        key = {"Idempotency-Key": uuid.uuid4().hex}
        made = client.call("POST", "/api/products", json=body, headers=key)
        if made.status_code == 502:
            # It met app1 as it died: nginx passes no POST to the other instance (it may
            # have been received), so the client sends it again; its key makes that safe.
            repeated += 1
            made = client.call("POST", "/api/products", json=body, headers=key)
        answers.append(made.status_code)
        answers.append(client.call("GET", "/api/products", params={"limit": 5}).status_code)
    expect(set(answers) == {200, 201}, f"with one instance down: {sorted(set(answers))}")
    step(f"{len(answers)} requests with app1 dead, all answered (201/200); {repeated} sent again")
    podman("start", victim)
    wait_until(f"{victim} healthy again", lambda: healthy(victim))
    step(f"{victim} started again and healthy")


class Writer(threading.Thread):
    """Creates products one after another and keeps each one the service acknowledged."""

    def __init__(self, client: Client) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.acknowledged: dict[int, dict[str, Any]] = {}
        self.refused = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        for n in itertools.count():
            if self.stopping.is_set():
                return
            body = {"name": f"durable {n}", "price": f"{n}.{n % 100:02d}", "quantity": n}
            try:
                made = self.client.call("POST", "/api/products", json=body, timeout=15)
            except requests.RequestException:
                self.refused += 1
                continue
            if made.status_code == 201:
                self.acknowledged[made.json()["id"]] = body
            else:
                self.refused += 1
                time.sleep(0.2)


def database_restart(client: Client, project: str) -> None:
    db = f"{project}_db_1"
    writer = Writer(client)
    writer.start()
    wait_until("writes before the crash", lambda: len(writer.acknowledged) >= 20, 60)
    step(f"killing {db} (SIGKILL) during writes ({len(writer.acknowledged)} acknowledged so far)")
    podman("kill", "--signal", "KILL", db)
    time.sleep(1)
    podman("start", db)
    wait_until(f"{db} healthy again", lambda: healthy(db))
    before = len(writer.acknowledged)
    wait_until("writes after the restart", lambda: len(writer.acknowledged) >= before + 20, 120)
    writer.stopping.set()
    writer.join(30)
    step(
        f"{db} restarted; {len(writer.acknowledged)} writes acknowledged, "
        f"{writer.refused} refused or cut while it was down"
    )
    lost = []
    for product_id, body in writer.acknowledged.items():
        got = client.call("GET", f"/api/products/{product_id}")
        if got.status_code != 200 or got.json()["name"] != body["name"]:
            lost.append(product_id)
    expect(not lost, f"acknowledged writes lost after the database restart: {lost[:20]}")
    step(f"all {len(writer.acknowledged)} acknowledged writes are there after the restart")


def rolling_upgrade(client: Client, command: str) -> None:
    step(f"rolling upgrade ({command}) while a client reads and writes")
    answers: list[int] = []
    retried: list[str] = []
    made: dict[int, str] = {}
    done = threading.Event()

    def call(method: str, path: str, **kwargs: Any) -> requests.Response | None:
        # A keep-alive connection the proxy closes (an nginx reload ends its old workers'
        # idle connections) can meet a request on its way: the request got no answer, so
        # it is sent once more, as HTTP clients do. The create carries an Idempotency-Key,
        # so a create that did happen the first time is answered, not made again.
        for attempt in range(2):
            try:
                return client.call(method, path, timeout=40, **kwargs)
            except requests.RequestException as error:
                if attempt == 0:
                    retried.append(type(error).__name__)
        return None

    def traffic() -> None:
        for n in itertools.count():
            if done.is_set():
                return
            body = {"name": f"rolling {n}", "price": 2, "quantity": n}
            key = {"Idempotency-Key": uuid.uuid4().hex}
            created = call("POST", "/api/products", json=body, headers=key)
            listed = call("GET", "/api/products", params={"limit": 5})
            for answer in (created, listed):
                answers.append(0 if answer is None else answer.status_code)
            if created is not None and created.status_code == 201:
                made[created.json()["id"]] = body["name"]

    driver = threading.Thread(target=traffic, daemon=True)
    driver.start()
    upgrade = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=600)  # noqa: S602 - our own script
    done.set()
    driver.join(60)
    expect(
        upgrade.returncode == 0,
        f"the upgrade failed: {upgrade.stdout[-500:]}{upgrade.stderr[-500:]}",
    )
    failed = [status for status in answers if status not in (200, 201)]
    expect(
        not failed,
        f"{len(failed)} of {len(answers)} requests failed in the upgrade: {sorted(set(failed))}",
    )
    names = list(made.values())
    expect(len(set(names)) == len(names), "a retried create made a second product")
    again = f", {len(retried)} sent again ({', '.join(sorted(set(retried)))})" if retried else ""
    step(f"{len(answers)} requests during the upgrade, all answered{again}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--project", default="shopapi")
    parser.add_argument("--upgrade", help="a rolling upgrade's command, run under traffic")
    args = parser.parse_args()
    client = Client(args.url)
    started = time.monotonic()
    try:
        for path in ("/healthz", "/readyz"):
            answer = client.call("GET", path)
            expect(answer.status_code == 200, f"{path} through the proxy: {answer.status_code}")
        client.sign_in()
        crud(client)
        one_instance_down(client, args.project)
        database_restart(client, args.project)
        if args.upgrade:
            rolling_upgrade(client, args.upgrade)
    except Broken as broken:
        print(f"smoke: FAILED: {broken}", file=sys.stderr)
        return 1
    print(f"smoke: passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
