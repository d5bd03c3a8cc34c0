"""API keys over real HTTP: two instances on one MariaDB database and one Redis take and
refuse the same keys at once, and the documented price sync runs as written.

Instance A is `python app.py`, instance B the production server (two worker processes).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import (
    REDIS_URL,
    ROOT,
    HttpAuth,
    LiveServer,
    is_problem,
    loopback_address,
    product_body,
    scratch_mariadb,
    server_env,
    settings_for,
    shared_redis,
    start_production,
    start_server,
    stop_production,
    stop_server,
)

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.redis]


class Pair:
    def __init__(self, a: LiveServer, b: LiveServer) -> None:
        self.a, self.b = a, b
        # The database's first account: its admin.
        admin = HttpAuth(a.url, loopback_address())
        self.admin = {"Authorization": f"Bearer {admin.sign_in()[1]}"}
        self.http = admin.http
        self.keys: list[str] = []

    def key(self, scopes: list[str]) -> tuple[int, str, dict[str, str], int]:
        """A fresh editor's key with `scopes`: the owner's id, the key, the owner's headers
        and the key's id."""
        auth = HttpAuth(self.a.url, loopback_address())
        account, token = auth.sign_in()
        owner = {"Authorization": f"Bearer {token}"}
        self.http.patch(
            f"{self.a.url}/admin/users/{account.id}", json={"role": "editor"}, headers=self.admin
        )
        body = {
            "name": "live",
            "scopes": scopes,
            "password": account.password,
            "otp": account.next_code(),
        }
        r = auth.http.post(f"{self.b.url}/auth/api-keys", json=body, headers=owner, timeout=30)
        assert r.status_code == 201, r.text
        made = r.json()
        self.keys.append(made["key"])
        return account.id, made["key"], owner, made["id"]


@pytest.fixture(scope="module")
def pair(secrets_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    redis = shared_redis()
    tmp = tmp_path_factory.mktemp("keys-pair")
    with scratch_mariadb() as url:
        env = server_env(
            settings_for(url, tmp / "instance", secrets_env), secrets_env, REDIS_URL=REDIS_URL
        )
        a = start_server(env, tmp / "a.log")
        try:
            b = start_production(env, tmp / "b.log")
        except BaseException:
            stop_server(a)
            raise
        made = None
        try:
            made = Pair(a, b)
            yield made
        finally:
            stop_server(a)
            stop_production(b)
            redis.flushdb()
            for server in (a, b):
                log = server.log()
                assert "Traceback" not in log, log[-3000:]
                for key in made.keys if made else []:
                    assert key[4:] not in log  # never in a log line


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_key_revoked_on_one_instance_is_refused_by_the_other(pair: Pair) -> None:
    _, key, owner, key_id = pair.key(["products:read"])
    http = pair.http
    assert http.get(f"{pair.b.url}/api/products", headers=bearer(key), timeout=30).ok
    revoked = http.delete(f"{pair.a.url}/auth/api-keys/{key_id}", headers=owner, timeout=30)
    assert revoked.status_code == 204
    refused = http.get(f"{pair.b.url}/api/products", headers=bearer(key), timeout=30)
    assert is_problem(refused, 401) and key[4:] not in refused.text
    assert is_problem(http.get(f"{pair.a.url}/api/products", headers=bearer(key), timeout=30), 401)


def test_a_demoted_owners_key_can_no_longer_write_on_either_instance(pair: Pair) -> None:
    owner_id, key, _, _ = pair.key(["products:write"])
    http = pair.http
    for base in (pair.a.url, pair.b.url):
        r = http.post(f"{base}/api/products", json=product_body(), headers=bearer(key), timeout=30)
        assert r.status_code == 201, r.text
    demoted = http.patch(
        f"{pair.b.url}/admin/users/{owner_id}", json={"role": "viewer"}, headers=pair.admin
    )
    assert demoted.status_code == 200
    for base in (pair.a.url, pair.b.url):
        r = http.post(f"{base}/api/products", json=product_body(), headers=bearer(key), timeout=30)
        assert is_problem(r, 403) and "editor" in r.json()["detail"]
        assert http.get(f"{base}/api/products", headers=bearer(key), timeout=30).ok


def _documented_sync() -> str:
    guide = (ROOT / "docs" / "api" / "api-keys.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", guide, re.S) if "csv" in b]
    assert len(blocks) == 1
    return blocks[0]


def test_the_documented_price_sync_sets_prices_with_a_key(pair: Pair, tmp_path: Path) -> None:
    _, key, owner, _ = pair.key(["products:write"])
    http = pair.http
    made: list[dict[str, Any]] = []
    for price in ("10.00", "20.00", "30.00"):
        body = {**product_body(), "price": price}
        made.append(http.post(f"{pair.a.url}/api/products", json=body, headers=owner).json())
    prices = tmp_path / "prices.csv"
    prices.write_text(
        f"id,price\n{made[0]['id']},12.50\n{made[1]['id']},20.00\n{made[2]['id']},31.99\n"
    )
    program = tmp_path / "sync_prices.py"
    program.write_text(_documented_sync())
    run = subprocess.run(
        [sys.executable, str(program), str(prices)],
        env={"SHOP_URL": pair.b.url, "SHOP_API_KEY": key},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [f"{made[0]['id']} 200 12.50", f"{made[2]['id']} 200 31.99"]
    now = [http.get(f"{pair.a.url}/api/products/{p['id']}", headers=owner).json() for p in made]
    assert [p["price"] for p in now] == ["12.50", "20.00", "31.99"]
    history = http.get(f"{pair.a.url}/api/products/{made[0]['id']}/history", headers=owner)
    assert history.json()["items"][-1]["api_key_id"] is not None
