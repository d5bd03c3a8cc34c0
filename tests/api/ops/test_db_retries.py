"""Transactions the database aborts to resolve a conflict are retried by the service, whole:
the client gets the answer its request deserves, or, once the retry time is spent, 503 with
Retry-After; never 500. Shown on a refresh, whose outcome a client can check."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from support import AuthActions, assert_problem, conflicts_at_commit
from support.metrics import Figures

from shopapi import db

CAUSE = {"sqlite": "busy", "mysql": "deadlock"}


def _scrape(client: Any) -> Figures:
    r = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert r.status_code == 200
    return Figures(r.get_data(as_text=True))


def _signed_in(client: Any) -> dict[str, Any]:
    auth = AuthActions(client)
    account = auth.register()
    mfa_token = auth.login(account)
    r = client.post("/auth/verify", json={"mfa_token": mfa_token, "otp": account.next_code()})
    assert r.status_code == 200
    body: dict[str, Any] = r.get_json()
    return body


def _refresh(client: Any, token: str) -> Any:
    return client.post("/auth/refresh", json={"refresh_token": token})


def test_a_conflict_at_commit_is_retried_and_the_refresh_answered(app: Any, backend: str) -> None:
    client = app.test_client()
    signed_in = _signed_in(client)
    before = _scrape(client)
    with conflicts_at_commit(app.extensions["db_engine"], times=2) as failed:
        r = _refresh(client, signed_in["refresh_token"])
    assert r.status_code == 200, r.get_json()
    assert failed == [2]
    moved = _scrape(client).moved(before, "shopapi_db_retries_total", cause=CAUSE[backend])
    assert moved == 2
    # One refresh took effect, once: its new token works, the old one is used up.
    assert _refresh(client, r.get_json()["refresh_token"]).status_code == 200
    assert (
        "used already"
        in assert_problem(_refresh(client, signed_in["refresh_token"]), 401)["detail"]
    )


def test_when_conflicts_outlast_the_retry_time_the_answer_is_503_and_nothing_changed(
    make_app: Callable[..., Any],
) -> None:
    app = make_app(db_retry_seconds=1)
    client = app.test_client()
    signed_in = _signed_in(client)
    before = _scrape(client)
    with conflicts_at_commit(app.extensions["db_engine"], times=10_000) as failed:
        r = _refresh(client, signed_in["refresh_token"])
    problem = assert_problem(r, 503)
    assert r.headers["Retry-After"] == "1"
    assert "try again" in problem["detail"]
    assert failed[0] > 1  # retried before giving up
    after = _scrape(client)
    assert after.moved(before, "shopapi_unavailable_total", cause="database_conflict") == 1
    # Nothing was kept: the refresh token is still unused, and works.
    assert _refresh(client, signed_in["refresh_token"]).status_code == 200


def test_a_lock_held_past_the_lock_wait_is_retried_until_it_is_free(
    make_app: Callable[..., Any], settings: Any, backend: str
) -> None:
    """A real conflict: another transaction holds the lock the refresh needs for longer than
    a lock wait; it gives the lock up once the service has retried."""
    # Lock waits of 4 s: after the first one runs out and the request is retried, the
    # watcher below has the whole second wait to see the retry and free the lock, even on a
    # busy machine where reading the metrics is slow.
    app = make_app(db_retry_seconds=8)
    client = app.test_client()
    signed_in = _signed_in(client)
    cause = "busy" if backend == "sqlite" else "lock_wait"
    before = _scrape(client)
    holder = db.make_engine(settings.database_url)
    conn = holder.connect()
    if backend == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the database's write lock
    else:
        conn.execute(text("SELECT id FROM sessions FOR UPDATE"))
    answers: list[Any] = []
    refresher = threading.Thread(
        target=lambda: answers.append(_refresh(app.test_client(), signed_in["refresh_token"]))
    )
    refresher.start()
    try:
        watcher = app.test_client()
        while _scrape(watcher).moved(before, "shopapi_db_retries_total", cause=cause) < 1:
            refresher.join(0.05)
            assert refresher.is_alive(), answers[0].get_json()
    finally:
        conn.rollback()
        conn.close()
        holder.dispose()
    refresher.join(30)
    (answer,) = answers
    assert answer.status_code == 200, answer.get_json()
    assert _refresh(client, answer.get_json()["refresh_token"]).status_code == 200
