"""The production server, started as `make serve` starts it: what a deployment relies on.

A slow request is a sign-in with a deliberately slow Argon2 setting (time cost 15000): an
unknown user's login then takes seconds, all of it inside the service.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from support import (
    LiveServer,
    migrated_sqlite,
    server_env,
    settings_for,
    start_production,
    stop_production,
    workers_started,
)

pytestmark = pytest.mark.e2e
SLOW_ARGON2 = {"ARGON2_TIME_COST": "15000", "ARGON2_MEMORY_COST": "256"}


@pytest.fixture
def env(secrets_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    url = migrated_sqlite(tmp_path / "serving.sqlite3")
    return server_env(settings_for(url, tmp_path / "instance", secrets_env), secrets_env)


@pytest.fixture
def server(env: dict[str, str], tmp_path: Path) -> Iterator[LiveServer]:
    server = start_production(env, tmp_path / "server.log")
    yield server
    stop_production(server)


def _slow_login(base: str) -> Future[requests.Response]:
    body = {"username": f"nobody_{uuid.uuid4().hex[:8]}", "password": "not-the-password"}
    pool = ThreadPoolExecutor(1)
    future = pool.submit(requests.post, f"{base}/auth/login", json=body, timeout=120)
    pool.shutdown(wait=False)
    return future


@pytest.mark.parametrize(
    ("name", "value"),
    [("WEB_CONCURRENCY", "many"), ("THREADS", "0"), ("PORT", "eighty"), ("BODY_TIMEOUT", "-1")],
)
def test_a_bad_serving_setting_stops_make_serve_with_its_name(
    env: dict[str, str], tmp_path: Path, name: str, value: str
) -> None:
    started = subprocess.run(
        [sys.executable, "-m", "shopapi.serving"],
        env={**os.environ, **env, name: value},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 1
    assert f"shopapi.serving: {name} must be" in started.stderr
    assert "Traceback" not in started.stderr
    assert not list(tmp_path.glob("instance/metrics-*"))  # stopped before anything started


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ({}, "APP_ENV=production needs JWT_SECRET_KEY"),
        (
            {"JWT_SECRET_KEY_FILE": "/nonexistent/jwt_secret_key"},
            "JWT_SECRET_KEY_FILE: cannot read /nonexistent/jwt_secret_key",
        ),
    ],
)
def test_production_without_its_secrets_stops_make_serve_with_one_line(
    env: dict[str, str], tmp_path: Path, secrets: dict[str, str], message: str
) -> None:
    clean = {k: v for k, v in {**os.environ, **env}.items() if not k.startswith("JWT_SECRET")}
    started = subprocess.run(
        [sys.executable, "-m", "shopapi.serving"],
        env={**clean, "APP_ENV": "production", **secrets},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 1
    assert f"shopapi.serving: {message}" in started.stderr
    assert "Traceback" not in started.stderr


def test_a_chunked_body_over_one_mebibyte_gets_413(server: LiveServer) -> None:
    def chunks(data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), 65536):
            yield data[start : start + 65536]

    headers = {"Content-Type": "application/json"}
    small = b'{"username": "nobody_here", "password": "not-the-password"}'
    r = requests.post(f"{server.url}/auth/login", data=chunks(small), headers=headers, timeout=30)
    assert r.status_code == 401  # a chunked body is read whole
    big = b'{"username": "nobody_here", "password": "' + b"x" * (1024 * 1024) + b'"}'
    r = requests.post(f"{server.url}/auth/login", data=chunks(big), headers=headers, timeout=30)
    assert r.status_code == 413, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")


def test_the_log_has_one_line_per_request_and_never_a_query_string(server: LiveServer) -> None:
    marker = uuid.uuid4().hex
    r = requests.get(
        f"{server.url}/api/products?limit=5&cursor={marker}&access_token={marker}",
        headers={"X-Request-ID": f"trace-{marker[:8]}"},
        timeout=30,
    )
    assert r.status_code == 401
    assert r.headers["X-Request-ID"] == f"trace-{marker[:8]}"
    time.sleep(0.2)
    lines = [line for line in server.log().splitlines() if f"trace-{marker[:8]}" in line]
    assert len(lines) == 1, server.log()[-2000:]
    assert '"path": "/api/products"' in lines[0] and '"status": 401' in lines[0]
    assert marker not in server.log().replace(f"trace-{marker[:8]}", "")


def test_a_worker_that_dies_is_replaced(server: LiveServer) -> None:
    before = set(server.workers())
    assert len(before) == 2
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while workers_started(server) < 3:  # two at start, then the new one
        assert time.monotonic() < deadline, server.log()[-3000:]
        time.sleep(0.2)
    now = set(server.workers())
    assert len(now) == 2 and victim not in now, (before, now)
    for _ in range(8):
        assert requests.get(f"{server.url}/healthz", timeout=30).status_code == 200


def test_sigterm_lets_a_request_in_flight_finish_then_stops(
    env: dict[str, str], tmp_path: Path
) -> None:
    server = start_production({**env, **SLOW_ARGON2}, tmp_path / "server.log", workers=1)
    try:
        login = _slow_login(server.url)
        time.sleep(1)  # the login is hashing now
        server.process.send_signal(signal.SIGTERM)
        response = login.result(timeout=120)
        assert response.status_code == 401, response.text  # answered, not cut off
        assert server.process.wait(timeout=60) == 0
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{server.url}/healthz", timeout=5)
    finally:
        stop_production(server)


def test_a_stuck_request_ends_its_worker_and_a_new_one_serves(
    env: dict[str, str], tmp_path: Path
) -> None:
    server = start_production(
        {**env, **SLOW_ARGON2, "REQUEST_TIMEOUT": "1"}, tmp_path / "server.log", workers=1
    )
    try:
        (worker,) = set(server.workers())
        login = _slow_login(server.url)
        with pytest.raises(requests.ConnectionError):
            login.result(timeout=60).raise_for_status()  # the connection is cut, not kept
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{server.url}/healthz", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
        assert set(server.workers()) - {worker}, "a new worker serves"
        assert "request stuck; ending this worker" in server.log()
    finally:
        stop_production(server)
