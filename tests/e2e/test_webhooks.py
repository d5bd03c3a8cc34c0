"""Webhooks from the production server (`make serve`'s granian): delivered by its workers'
background threads, across a SIGKILL, and once each by two instances sharing a database."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from standardwebhooks import Webhook
from support import (
    HttpAuth,
    LiveServer,
    create_product,
    server_env,
    start_production,
    stop_production,
)
from support.receiver import receiver

from shopapi.config import Settings
from shopapi.webhooks import outbox

pytestmark = pytest.mark.e2e
ALLOW_LOOPBACK = {"WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8"}


def _kill(server: LiveServer) -> None:
    """SIGKILL the server and its workers: no shutdown of any kind."""
    for pid in [*server.workers(), server.process.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    server.process.wait(timeout=10)


def _add_endpoint(auth: HttpAuth, headers: dict[str, str], url: str) -> dict[str, Any]:
    body = {"url": url, "events": ["product.created"]}
    r = auth.http.post(f"{auth.base}/admin/webhooks", json=body, headers=headers, timeout=30)
    assert r.status_code == 201, r.text
    found: dict[str, Any] = r.json()
    return found


def _wait_for_no_pending(url: str, seconds: float) -> None:
    engine = create_engine(url)
    deadline = time.monotonic() + seconds
    try:
        while True:
            with engine.connect() as conn:
                pending = conn.execute(
                    text("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'")
                ).scalar_one()
            if pending == 0:
                return
            assert time.monotonic() < deadline, f"{pending} deliveries still pending"
            time.sleep(0.2)
    finally:
        engine.dispose()


def test_a_change_committed_before_a_sigkill_is_delivered_after_the_restart(
    settings: Settings, secrets_env: dict[str, str], tmp_path: Path
) -> None:
    env = server_env(settings, secrets_env, **ALLOW_LOOPBACK)
    with receiver() as hook:
        server = start_production(env, tmp_path / "first.log", workers=1)
        try:
            auth = HttpAuth(server.url)
            headers = auth.headers()
            endpoint = _add_endpoint(auth, headers, hook.url)
            hook.hold.set()  # the first attempt is still being sent when the server dies
            create_product(auth.http, headers, server.url)
            hook.wait_for(1)
            _kill(server)
        finally:
            stop_production(server)
        hook.release()
        again = start_production(env, tmp_path / "second.log", workers=1)
        try:
            first, second = hook.wait_for(2, seconds=60)[:2]
            _wait_for_no_pending(settings.database_url, 30)
        finally:
            stop_production(again)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    event = Webhook(endpoint["secret"]).verify(second.body, second.headers)
    assert event["type"] == "product.created"
    assert "Traceback" not in again.log(), again.log()[-3000:]


@pytest.mark.mariadb_only
def test_two_instances_on_one_database_send_each_of_a_thousand_events_once(
    settings: Settings, secrets_env: dict[str, str], tmp_path: Path
) -> None:
    env = server_env(settings, secrets_env, **ALLOW_LOOPBACK)
    with receiver() as hook:
        a = start_production(env, tmp_path / "a.log", workers=2)
        try:
            b = start_production(env, tmp_path / "b.log", workers=2)
        except BaseException:
            stop_production(a)
            raise
        try:
            auth = HttpAuth(a.url)
            _add_endpoint(auth, auth.headers(), hook.url)
            engine = create_engine(settings.database_url)
            try:
                for batch in range(10):
                    with engine.begin() as conn:
                        for n in range(100):
                            outbox.record(conn, "product.created", {"id": batch * 100 + n + 1})
            finally:
                engine.dispose()
            hook.wait_for(1000, seconds=120)
            _wait_for_no_pending(settings.database_url, 60)
        finally:
            stop_production(a)
            stop_production(b)
    ids = [r.headers["webhook-id"] for r in hook.received]
    assert len(ids) == 1000 and len(set(ids)) == 1000
    for server in (a, b):
        assert "webhook attempt" in server.log()  # both instances took a share
        assert "Traceback" not in server.log(), server.log()[-3000:]
