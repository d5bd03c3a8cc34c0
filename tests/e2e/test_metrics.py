"""GET /metrics of the production server, end to end: several workers, one sum.

A scripted sequence of requests goes to the server as `make serve` starts it (granian,
two workers); a scrape must show the counters moved exactly as the sequence says, what
ever worker served each request, and keep them after every worker has been replaced.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from support import (
    PASSWORD,
    REDIS_URL,
    HttpAuth,
    LiveServer,
    http_session,
    loopback_address,
    migrated_sqlite,
    server_env,
    settings_for,
    shared_redis,
    start_production,
    stop_production,
    workers_started,
    wrong_code,
)
from support.metrics import Figures

from shopapi.config import Settings

pytestmark = pytest.mark.e2e
SLOW_ARGON2 = {"ARGON2_TIME_COST": "15000", "ARGON2_MEMORY_COST": "256"}
COUNTERS = (
    "shopapi_sign_ins_total",
    "shopapi_sign_in_failures_total",
    "shopapi_lockouts_total",
    "shopapi_rate_limited_total",
    "shopapi_sessions_started_total",
    "shopapi_sessions_refreshed_total",
    "shopapi_sessions_ended_total",
    "shopapi_refresh_token_reuse_total",
)


def scrape(base: str, **headers: str) -> Figures:
    r = requests.get(f"{base}/metrics", headers=headers, timeout=30)
    assert r.status_code == 200, r.text[:300]
    return Figures(r.text)


def replace_every_worker(server: LiveServer) -> None:
    """SIGKILL each worker in turn and wait until the server has started its successor."""
    for victim in sorted(server.workers()):
        started = workers_started(server)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while workers_started(server) <= started:
            assert time.monotonic() < deadline, server.log()[-3000:]
            time.sleep(0.2)
    deadline = time.monotonic() + 30
    while requests.get(f"{server.url}/healthz", timeout=30).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)


class Script:
    """Sends the sequence's requests, each on a new connection (so the workers share them
    out), and counts what each should add to the request counter."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = http_session()  # one loopback address: its own per-address budgets
        self.expected: Counter[tuple[str, str, str]] = Counter()

    def send(
        self, method: str, path: str, route: str, status: int, headers: Any = None, **kw: Any
    ) -> Any:
        headers = {"Connection": "close", **(headers or {})}
        r = self.http.request(method, self.base + path, timeout=30, headers=headers, **kw)
        assert r.status_code == status, (method, path, r.status_code, r.text[:300])
        self.expected[(method, route, f"{status // 100}xx")] += 1
        return r

    def verify(self, mfa_token: str, status: int, **proof: str) -> Any:
        return self.send(
            "POST", "/auth/verify", "/auth/verify", status, json={"mfa_token": mfa_token, **proof}
        )

    def login(self, username: str, password: str, status: int) -> Any:
        body = {"username": username, "password": password}
        return self.send("POST", "/auth/login", "/auth/login", status, json=body)


@pytest.fixture
def server(settings: Settings, secrets_env: dict[str, str], tmp_path: Path) -> Iterator[LiveServer]:
    shared_redis()  # per-address limits shared by the workers, as in a deployment
    env = server_env(
        settings, secrets_env, REDIS_URL=REDIS_URL, REGISTER_RATE_LIMIT_PER_ADDRESS="2/minute"
    )
    server = start_production(env, tmp_path / "server.log", workers=2)
    yield server
    stop_production(server)


@pytest.mark.redis
def test_counters_move_as_the_requests_say_and_survive_every_worker_restart(
    server: LiveServer, backend: str
) -> None:
    before = scrape(server.url)
    auth = HttpAuth(server.url, loopback_address())
    account = auth.register()
    script = Script(server.url)
    script.login(account.username, "not-" + PASSWORD, 401)
    script.login(f"nobody_{uuid.uuid4().hex[:8]}", PASSWORD, 401)
    mfa = script.login(account.username, PASSWORD, 200).json()["mfa_token"]
    script.verify(mfa, 401, otp=wrong_code(account.secret))
    signed_in = script.verify(mfa, 200, otp=account.next_code()).json()
    first_refresh = signed_in["refresh_token"]
    script.send(
        "POST", "/auth/refresh", "/auth/refresh", 200, json={"refresh_token": first_refresh}
    )
    script.send(
        "POST", "/auth/refresh", "/auth/refresh", 401, json={"refresh_token": first_refresh}
    )
    mfa = script.login(account.username, PASSWORD, 200).json()["mfa_token"]
    token = script.verify(mfa, 200, recovery_code=account.recovery_codes[0]).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    product = "/api/products/{product_id}"
    script.send("GET", "/api/products/987654", product, 404, headers=bearer)
    script.send("GET", "/api/products/0042", "unmatched", 404, headers=bearer)
    script.send("POST", "/auth/logout", "/auth/logout", 204, headers=bearer)
    limited = Script(server.url)  # another address: a register budget of 2 a minute
    for status in (201, 201, 429):
        name = f"limit_{uuid.uuid4().hex[:8]}"
        body = {"username": name, "password": PASSWORD}
        limited.send("POST", "/auth/register", "/auth/register", status, json=body)
    for status in [401] * 9 + [429]:  # with the first wrong one, the 10th locks it out
        script.login(account.username, "still-not-" + PASSWORD, status)
    script.expected[("POST", "/auth/register", "2xx")] += 1  # auth's registration

    after = scrape(server.url)
    moved = {
        ("shopapi_sign_ins_total", "method", "totp"): 1,
        ("shopapi_sign_ins_total", "method", "recovery_code"): 1,
        ("shopapi_sign_in_failures_total", "step", "password"): 11,
        ("shopapi_sign_in_failures_total", "step", "code"): 1,
        ("shopapi_lockouts_total", "limit", "password"): 1,
        ("shopapi_lockouts_total", "limit", "code"): 0,
        ("shopapi_rate_limited_total", "limit", "register_per_address"): 1,
        ("shopapi_rate_limited_total", "limit", "password_per_account"): 1,
        ("shopapi_rate_limited_total", "limit", "sign_in_per_address"): 0,
        ("shopapi_sessions_ended_total", "reason", "reuse_detected"): 1,
        ("shopapi_sessions_ended_total", "reason", "signed_out"): 1,
        ("shopapi_sessions_ended_total", "reason", "revoked"): 0,
    }
    for (name, label, value), count in moved.items():
        assert after.moved(before, name, **{label: value}) == count, (name, value)
    assert after.moved(before, "shopapi_sessions_started_total") == 2
    assert after.moved(before, "shopapi_sessions_refreshed_total") == 1
    assert after.moved(before, "shopapi_refresh_token_reuse_total") == 1
    sent = script.expected + limited.expected
    for (method, route, status), count in sent.items():
        labels = {"method": method, "route": route, "status": status}
        assert after.moved(before, "shopapi_http_requests_total", **labels) == count, labels
        assert after.moved(before, "shopapi_http_request_duration_seconds_count", **labels) == count
    assert after.value("shopapi_http_requests_in_flight") == 1  # this scrape
    assert after.value("shopapi_build_info", database=backend) == 1
    for secret in (account.username, first_refresh, token):
        assert secret not in after.text
    routes = after.label_values("shopapi_http_requests_total", "route")
    assert not [route for route in routes if "987654" in route or "0042" in route]

    replace_every_worker(server)  # from now on, no process that served the script runs
    again = scrape(server.url)
    for name in COUNTERS:
        assert again.value(name) == after.value(name), name
    for method, route, status in sent:
        labels = {"method": method, "route": route, "status": status}
        assert again.value("shopapi_http_requests_total", **labels) == after.value(
            "shopapi_http_requests_total", **labels
        )
    assert again.value("shopapi_http_requests_in_flight") == 1
    assert again.value("shopapi_build_info", database=backend) == 1


def test_a_dead_worker_leaves_no_request_in_flight_nor_connection_in_use(
    settings: Settings, secrets_env: dict[str, str], tmp_path: Path
) -> None:
    env = server_env(settings, secrets_env, **SLOW_ARGON2)
    server = start_production(env, tmp_path / "server.log", workers=2)
    try:
        body = {"username": f"nobody_{uuid.uuid4().hex[:8]}", "password": "not-the-password"}
        pool = ThreadPoolExecutor(1)
        slow = pool.submit(requests.post, f"{server.url}/auth/login", json=body, timeout=120)
        pool.shutdown(wait=False)
        deadline = time.monotonic() + 20
        while True:  # the login hashes while it holds its database connection
            figures = scrape(server.url)
            if figures.value("shopapi_db_connections_in_use", pool="main") >= 1:
                break
            assert time.monotonic() < deadline, figures.text
            time.sleep(0.3)
        assert figures.value("shopapi_http_requests_in_flight") == 2  # the login, this scrape
        replace_every_worker(server)
        with pytest.raises(requests.ConnectionError):
            slow.result(timeout=60)
        figures = scrape(server.url)
        assert figures.value("shopapi_http_requests_in_flight") == 1
        assert figures.value("shopapi_db_connections_in_use") == 0
        assert figures.value("shopapi_http_requests_total", route="/auth/login") == 0
    finally:
        stop_production(server)


def test_a_restarted_server_starts_its_figures_from_zero(
    settings: Settings, secrets_env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "metrics"
    env = server_env(settings, secrets_env, PROMETHEUS_MULTIPROC_DIR=str(folder))
    for _run in range(2):
        server = start_production(env, tmp_path / "server.log", workers=2)
        try:
            figures = scrape(server.url)
            # start_production's /healthz polls until the server answered: a few at most
            assert figures.value("shopapi_http_requests_total", route="/metrics") == 0
            for _ in range(3):
                requests.get(f"{server.url}/readyz", timeout=30).raise_for_status()
            figures = scrape(server.url)
            assert figures.value("shopapi_http_requests_total", route="/readyz") == 3
        finally:
            stop_production(server)
    assert list(folder.glob("counter_*.db")), "the figures were kept in the folder given"


# --- who may read them, over real sockets ------------------------------------------------


def serve_on(host: str, env: dict[str, str], log_path: Path) -> LiveServer:
    """The production server, one worker, listening on `host` (an IPv6 address too)."""
    return start_production(env, log_path, workers=1, host=host)


@pytest.fixture
def env(secrets_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """A scratch SQLite database: who may read the metrics does not depend on the backend."""
    url = migrated_sqlite(tmp_path / "metrics.sqlite3")
    return server_env(settings_for(url, tmp_path / "instance", secrets_env), secrets_env)


def test_over_ipv6_the_loopback_may_read_and_others_may_not(
    env: dict[str, str], tmp_path: Path
) -> None:
    server = serve_on("::1", env, tmp_path / "v6.log")
    try:
        assert scrape(server.url).value("shopapi_build_info") == 1  # ::1/128 by default
    finally:
        stop_production(server)
    only_v4 = {**env, "METRICS_ALLOWED_NETWORKS": "127.0.0.0/8"}
    server = serve_on("::1", only_v4, tmp_path / "v6-refused.log")
    try:
        for headers in ({}, {"X-Forwarded-For": "127.0.0.1"}):
            r = requests.get(f"{server.url}/metrics", headers=headers, timeout=30)
            assert r.status_code == 404 and "shopapi_" not in r.text, headers
            assert r.headers["Content-Type"].startswith("application/problem+json")
        assert requests.get(f"{server.url}/healthz", timeout=30).status_code == 200
    finally:
        stop_production(server)


def test_behind_a_proxy_only_the_address_it_saw_counts(env: dict[str, str], tmp_path: Path) -> None:
    proxied = {**env, "TRUSTED_PROXIES": "1", "METRICS_ALLOWED_NETWORKS": "10.0.0.0/8"}
    server = serve_on("127.0.0.1", proxied, tmp_path / "proxied.log")
    try:
        # The proxy (this test, on 127.0.0.1) appends the address it saw to the header.
        answers = {
            "10.1.2.3": 200,  # a scraper inside the allowed network, through the proxy
            "10.1.2.3, 203.0.113.9": 404,  # a client outside that wrote an allowed address
            "203.0.113.9": 404,
            "": 404,  # the proxy's own address is not in the list
        }
        for forwarded, status in answers.items():
            headers = {"X-Forwarded-For": forwarded} if forwarded else {}
            r = requests.get(f"{server.url}/metrics", headers=headers, timeout=30)
            assert r.status_code == status, (forwarded, r.status_code)
    finally:
        stop_production(server)
