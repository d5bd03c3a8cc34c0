"""GET /metrics in one process: who may read it, what it says, and its settings.

The scripted sequence through the production server's several workers is in
e2e/test_metrics.py; here the app answers through Flask's test client.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from support import PASSWORD, AuthActions, assert_problem, wrong_code
from support.metrics import Figures

from shopapi.config import ConfigError, Settings


def scrape(client: Any, address: str = "127.0.0.1") -> Figures:
    r = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert r.status_code == 200, r.data[:300]
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert r.headers["Cache-Control"] == "no-store"
    return Figures(r.get_data(as_text=True))


@pytest.mark.parametrize(
    ("address", "networks", "answer"),
    [
        ("127.0.0.1", ("127.0.0.0/8", "::1/128"), 200),
        ("127.3.4.5", ("127.0.0.0/8", "::1/128"), 200),
        ("::1", ("127.0.0.0/8", "::1/128"), 200),
        ("::ffff:127.0.0.1", ("127.0.0.0/8",), 200),  # an IPv4 client on a dual-stack socket
        ("10.1.2.3", ("127.0.0.0/8", "::1/128"), 404),
        ("192.0.2.7", ("10.0.0.0/8", "192.0.2.0/24"), 200),
        ("192.0.2.7", ("::/0",), 404),  # an IPv6 network never lets an IPv4 client in
        ("2001:db8::7", ("2001:db8::/32",), 200),
        ("2001:db8::7", ("2001:db9::/32", "0.0.0.0/0"), 404),
        ("fe80::1%eth0", ("fe80::/10",), 200),
        ("::1", (), 404),
        ("not-an-address", ("0.0.0.0/0", "::/0"), 404),
    ],
)
@pytest.mark.sqlite_only
def test_metrics_are_answered_only_to_the_allowed_networks(
    make_app: Any, address: str, networks: tuple[str, ...], answer: int
) -> None:
    client = make_app(metrics_allowed_networks=networks).test_client()
    r = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
    if answer == 404:
        body = assert_problem(r, 404)
        unknown = client.get("/no-such-page", environ_base={"REMOTE_ADDR": address})
        assert body == unknown.get_json()  # the same answer as for a path that is not there
    else:
        assert r.status_code == 200
        assert "shopapi_build_info" in r.get_data(as_text=True)


def test_a_forwarded_for_header_is_ignored_without_trusted_proxies(make_app: Any) -> None:
    client = make_app(metrics_allowed_networks=("127.0.0.0/8",)).test_client()
    r = client.get(
        "/metrics",
        headers={"X-Forwarded-For": "127.0.0.1"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert_problem(r, 404)


def test_with_metrics_off_there_is_no_metrics_page(make_app: Any) -> None:
    client = make_app(metrics_enabled=False).test_client()
    assert_problem(client.get("/metrics"), 404)
    assert "/metrics" not in client.get("/openapi.json").get_json()["paths"]
    assert client.get("/healthz").status_code == 200


def test_the_openapi_document_describes_the_metrics_page(client: Any) -> None:
    spec = client.get("/openapi.json").get_json()
    scrape_op = spec["paths"]["/metrics"]["get"]
    assert "text/plain" in scrape_op["responses"]["200"]["content"]
    assert "404" in scrape_op["responses"]
    assert "503" not in scrape_op["responses"]  # it needs no database
    assert "security" not in scrape_op


def test_routes_are_templates_and_unknown_paths_share_one_label(client: Any) -> None:
    before = scrape(client)
    headers = AuthActions(client).headers()
    assert client.get("/api/products/424242", headers=headers).status_code == 404
    assert client.get("/api/products/0042", headers=headers).status_code == 404
    assert client.get("/secret-admin-page-x91").status_code == 404
    assert client.open("/healthz", method="BREW").status_code == 405
    after = scrape(client)
    requests = "shopapi_http_requests_total"
    template = {"route": "/api/products/{product_id}", "method": "GET", "status": "4xx"}
    assert after.moved(before, requests, **template) == 1
    assert after.moved(before, requests, route="unmatched", method="GET", status="4xx") == 2
    assert after.moved(before, requests, route="unmatched", method="other", status="4xx") == 1
    assert after.moved(before, "shopapi_http_request_duration_seconds_count", **template) == 1
    routes = after.label_values(requests, "route")
    assert not {r for r in routes if "424242" in r or "0042" in r or "secret-admin" in r}
    assert all(r == "unmatched" or r.startswith("/") for r in routes)


def test_durations_fill_cumulative_buckets_and_the_scrape_is_in_flight(client: Any) -> None:
    before = scrape(client)
    for _ in range(5):
        assert client.get("/healthz").status_code == 200
    after = scrape(client)
    name, route = "shopapi_http_request_duration_seconds", {"route": "/healthz", "status": "2xx"}
    assert after.moved(before, f"{name}_count", **route) == 5
    assert after.moved(before, "shopapi_http_requests_total", **route) == 5
    assert after.moved(before, f"{name}_bucket", le="+Inf", **route) == 5
    assert after.moved(before, f"{name}_bucket", le="30.0", **route) == 5  # none took 30 s
    assert 0 < after.moved(before, f"{name}_sum", **route) < 5 * 30
    buckets = sorted(
        (float(labels["le"]), value)
        for sample, labels, value in after.samples
        if sample == f"{name}_bucket" and labels["route"] == "/healthz"
    )
    counts = [value for _, value in buckets]
    assert counts == sorted(counts), buckets  # each bucket holds those below it
    assert after.value("shopapi_http_requests_in_flight") == 1  # this scrape


def _at_once(app: Any, count: int) -> list[int]:
    """`count` GET /healthz sent on as many threads at once; their statuses."""
    ready = threading.Barrier(count)
    answers: list[int] = []

    def request() -> None:
        client = app.test_client()
        ready.wait()
        answers.append(client.get("/healthz").status_code)

    threads = [threading.Thread(target=request) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_a_new_apps_first_requests_on_many_threads_are_all_counted(make_app: Any) -> None:
    reader = make_app().test_client()  # the figures are the process's, whichever app reads
    for _ in range(10):  # each app starts its metrics' writer on its first request
        before = scrape(reader)
        app = make_app()
        assert _at_once(app, 12) == [200] * 12
        figures = scrape(app.test_client())
        assert figures.moved(before, "shopapi_http_requests_total", route="/healthz") == 12
        assert figures.value("shopapi_http_requests_in_flight") == 1  # this scrape only


def test_the_build_is_described(client: Any, backend: str) -> None:
    figures = scrape(client)  # (apps on other backends may have run in this process)
    info = [s for s in figures.samples if s[0] == "shopapi_build_info"]
    ((_name, labels, value),) = [s for s in info if s[1]["database"] == backend]
    assert value == 1 and labels["python"].count(".") == 2 and labels["version"]


def test_wrong_proofs_in_account_care_count_as_failures(client: Any) -> None:
    auth = AuthActions(client)
    account, token = auth.sign_in()
    before = scrape(client)
    r = client.post(
        "/auth/recovery-codes",
        json={"password": "not-" + PASSWORD, "otp": wrong_code(account.secret)},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert_problem(r, 403)
    after = scrape(client)
    assert after.moved(before, "shopapi_sign_in_failures_total", step="password") == 1
    assert after.moved(before, "shopapi_sign_in_failures_total", step="code") == 1
    assert after.moved(before, "shopapi_lockouts_total") == 0


def test_an_unreachable_database_counts_its_503s(make_app: Any) -> None:
    client = make_app(database_url="mysql+pymysql://root@127.0.0.1:1/x").test_client()
    before = scrape(client)
    assert_problem(client.get("/readyz"), 503)
    assert_problem(client.post("/auth/login", json={"username": "abc", "password": "pw"}), 503)
    after = scrape(client)
    assert after.moved(before, "shopapi_unavailable_total", cause="database") == 2
    assert after.moved(before, "shopapi_http_requests_total", status="5xx") == 2


def test_sessions_ended_are_counted_by_reason(client: Any) -> None:
    auth = AuthActions(client)
    account, first = auth.sign_in()
    _same, second = auth.sign_in(account)
    sessions = client.get("/auth/sessions", headers={"Authorization": f"Bearer {second}"})
    other = next(s["id"] for s in sessions.get_json()["items"] if not s["current"])
    before = scrape(client)
    r = client.delete(f"/auth/sessions/{other}", headers={"Authorization": f"Bearer {second}"})
    assert r.status_code == 204
    r = client.delete(f"/auth/sessions/{other}", headers={"Authorization": f"Bearer {second}"})
    assert_problem(r, 404)  # already ended: nothing more to count
    r = client.post("/auth/logout", headers={"Authorization": f"Bearer {second}"})
    assert r.status_code == 204
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {first}"}).status_code == 401
    after = scrape(client)
    assert after.moved(before, "shopapi_sessions_ended_total", reason="revoked") == 1
    assert after.moved(before, "shopapi_sessions_ended_total", reason="signed_out") == 1
    assert after.moved(before, "shopapi_sessions_ended_total") == 2


def test_with_redis_unreachable_limits_are_counted_in_memory_and_say_so(make_app: Any) -> None:
    client = make_app(redis_url="redis://127.0.0.1:1/0").test_client()
    before = scrape(client)
    for _ in range(2):
        r = client.post("/auth/login", json={"username": "nobody_here", "password": "pw-pw-pw"})
        assert_problem(r, 401)  # served, never a 503
    after = scrape(client)
    # Each login checks two limits: its address's and the global budget of every client.
    assert after.moved(before, "shopapi_rate_limit_fallbacks_total") == 4
    assert after.moved(before, "shopapi_unavailable_total") == 0


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"METRICS_ENABLED": "maybe"}, "METRICS_ENABLED"),
        ({"METRICS_ALLOWED_NETWORKS": "10.0.0.0/8,intranet"}, "METRICS_ALLOWED_NETWORKS"),
        ({"METRICS_ALLOWED_NETWORKS": "10.0.0.1/8"}, "METRICS_ALLOWED_NETWORKS"),
    ],
)
def test_bad_metrics_settings_stop_start_up(env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(env)


def test_metrics_settings_are_read_from_the_environment() -> None:
    default = Settings.from_env({})
    assert default.metrics_enabled
    assert default.metrics_allowed_networks == ("127.0.0.0/8", "::1/128")
    chosen = Settings.from_env(
        {"METRICS_ENABLED": "false", "METRICS_ALLOWED_NETWORKS": "10.0.0.0/8, fd00::/8"}
    )
    assert not chosen.metrics_enabled
    assert chosen.metrics_allowed_networks == ("10.0.0.0/8", "fd00::/8")
