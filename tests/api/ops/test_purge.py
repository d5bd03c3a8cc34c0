"""Housekeeping: what expires is deleted, what lives stays, and no table grows for ever.

Time moves by the `now` handed to the purge (never by sleeping), or by ageing a row.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from support import (
    PASSWORD,
    AuthActions,
    CuttableLink,
    assert_problem,
    bearer,
    create_product,
    execute_sql,
    log_with,
    scratch_mariadb,
    server_env,
    settings_for,
    start_server,
    stop_server,
    wait_until,
)

from shopapi.auth import attempts
from shopapi.config import Settings
from shopapi.db import utcnow
from shopapi.purge import TABLES, purge_expired

MADE_UP = 10_000


def _purge(app: Any, now: datetime) -> dict[str, int]:
    with app.extensions["db_engine"].connect() as conn:
        return purge_expired(conn, now, app.extensions["settings"])


def _purged(counts: dict[str, int]) -> dict[str, int]:
    """Only the tables the purge deleted something from."""
    return {table: count for table, count in counts.items() if count}


def _rows(app: Any, table: str) -> int:
    with app.extensions["db_engine"].connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())  # noqa: S608


def _sign_in(client: Any, auth: AuthActions, account: Any = None) -> dict[str, Any]:
    """The 200 body of /auth/verify, and the account."""
    account = account or auth.register()
    mfa_token = auth.login(account)
    r = client.post("/auth/verify", json={"mfa_token": mfa_token, "otp": account.next_code()})
    assert r.status_code == 200, r.get_json()
    return {"account": account, **r.get_json()}


def _wrong_login(client: Any, username: str) -> Any:
    return client.post("/auth/login", json={"username": username, "password": "not-it-at-all"})


def test_made_up_usernames_leave_no_counter_once_their_windows_end(
    app: Any, client: Any, auth: AuthActions
) -> None:
    account = auth.register()
    for _ in range(attempts.LIMIT):
        assert _wrong_login(client, account.username).status_code == 401
    for n in range(5):  # the first ones through HTTP, the rest through the same counter
        assert _wrong_login(client, f"nobody-{n}").status_code == 401
    with app.app_context():
        for n in range(5, MADE_UP):
            assert attempts.reserve(attempts.PASSWORD, f"nobody-{n}").granted
    assert _rows(app, "attempt_counters") == MADE_UP + 1

    # While the windows last, nothing goes: the locked account stays locked.
    assert _purged(_purge(app, utcnow())) == {}
    right = {"username": account.username, "password": PASSWORD}
    assert_problem(client.post("/auth/login", json=right), 429)

    # Once they end, every one goes; two purges at once (two workers) share the work.
    later = utcnow() + attempts.WINDOW + timedelta(seconds=1)
    results: list[dict[str, int]] = []
    workers = [
        threading.Thread(target=lambda: results.append(_purge(app, later))) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sum(r["attempt_counters"] for r in results) == MADE_UP + 1
    assert _rows(app, "attempt_counters") == 0
    # A new failure opens a new window, counted from one.
    assert _wrong_login(client, "nobody-1").status_code == 401
    assert _rows(app, "attempt_counters") == 1


def test_a_counter_purged_while_an_attempt_counts_still_counts_it(
    app: Any, client: Any, auth: AuthActions
) -> None:
    """The purge deletes an ended window between the attempt's insert and its count."""
    account = auth.register()
    assert _wrong_login(client, account.username).status_code == 401
    ended = utcnow() - attempts.WINDOW - timedelta(seconds=1)
    execute_sql(app, "UPDATE attempt_counters SET window_start = :t", t=ended)
    purged: list[dict[str, int]] = []

    def purge_first(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("UPDATE attempt_counters") and not purged:
            purged.append(_purge(app, utcnow()))

    side = app.extensions["db_side"]
    event.listen(side, "before_cursor_execute", purge_first)
    try:
        assert _wrong_login(client, account.username).status_code == 401
    finally:
        event.remove(side, "before_cursor_execute", purge_first)
    assert purged[0]["attempt_counters"] == 1
    for _ in range(attempts.LIMIT - 1):  # the new window counted that failure: 9 more
        assert _wrong_login(client, account.username).status_code == 401
    assert_problem(_wrong_login(client, account.username), 429)


def test_ended_sessions_go_and_a_live_one_keeps_working_and_catching_reuse(
    app: Any, client: Any, auth: AuthActions
) -> None:
    live = _sign_in(client, auth)
    refreshed = client.post("/auth/refresh", json={"refresh_token": live["refresh_token"]})
    assert refreshed.status_code == 200
    ended = _sign_in(client, auth)
    client.post("/auth/refresh", json={"refresh_token": ended["refresh_token"]})
    execute_sql(
        app,
        "UPDATE sessions SET expires_at = :t WHERE user_id = :u",
        t=utcnow() - timedelta(seconds=1),
        u=ended["account"].id,
    )
    counts = _purge(app, utcnow())
    assert _purged(counts) == {"sessions": 1, "refresh_tokens": 2}
    assert _rows(app, "sessions") == 1 and _rows(app, "refresh_tokens") == 2
    token = refreshed.get_json()["access_token"]
    assert client.get("/auth/me", headers=bearer(token)).status_code == 200
    # The used-up token of the live session is still known: presenting it ends the session.
    reuse = client.post("/auth/refresh", json={"refresh_token": live["refresh_token"]})
    assert "used already" in assert_problem(reuse, 401)["detail"]
    assert_problem(client.get("/auth/me", headers=bearer(token)), 401)


def test_each_expiring_table_keeps_its_rows_until_they_expire(
    app: Any, client: Any, auth: AuthActions
) -> None:
    admin = _sign_in(client, auth)  # the first account: admin
    headers = bearer(admin["access_token"])
    invite = client.post("/admin/invites", json={"role": "viewer"}, headers=headers)
    assert invite.status_code == 201
    keyed = {**headers, "Idempotency-Key": "stool-1"}
    create_product(client, keyed)
    proof = {"password": PASSWORD, "recovery_code": admin["account"].recovery_codes.pop()}
    assert client.post("/auth/totp", json=proof, headers=headers).status_code == 200
    auth.login(admin["account"])  # an MFA challenge left unused
    start = utcnow()

    assert _purged(_purge(app, start)) == {}
    # A retry with the key still replays: one product.
    create_product(client, keyed)
    assert len(client.get("/api/products", headers=headers).get_json()["items"]) == 1

    # Past 15 minutes: the challenges (5 minutes), the enrolment (10 minutes), and the
    # windows of the account's password and code counters (15 minutes).
    after = _purge(app, start + attempts.WINDOW + timedelta(seconds=1))
    assert _purged(after) == {"mfa_challenges": 2, "totp_enrollments": 1, "attempt_counters": 2}
    # Past a day: the idempotency key, and the session (idle for a day) and its token.
    after = _purge(app, start + timedelta(days=1, seconds=1))
    assert _purged(after) == {"idempotency_keys": 1, "sessions": 1, "refresh_tokens": 1}
    # Past a week: the invite. Past 90 days: the device token and the security log.
    assert _purged(_purge(app, start + timedelta(days=7, seconds=1))) == {"invites": 1}
    # Past 30 days (WEBHOOK_KEEP_DAYS) nothing: no endpoint wanted the product's event, so
    # none was kept (webhook events are purged in tests/api/webhooks).
    assert _purged(_purge(app, start + timedelta(days=30, seconds=1))) == {}
    late = _purge(app, start + timedelta(days=90, seconds=1))
    assert _purged(late) == {"device_tokens": 1, "security_events": 2}  # registered, signed_in
    for table in TABLES:
        assert _rows(app, table) == 0, table
    # The account, its recovery codes, the product and its history stay.
    assert _rows(app, "users") == 1 and _rows(app, "recovery_codes") == 10
    assert _rows(app, "products") == 1 and _rows(app, "product_history") == 1


def test_the_security_log_keeps_security_log_days_of_events(
    app: Any, client: Any, auth: AuthActions
) -> None:
    signed_in = _sign_in(client, auth)
    days = app.extensions["settings"].security_log_days
    now = utcnow()
    execute_sql(app, "UPDATE security_events SET at = :t WHERE type = 'registered'", t=now)
    execute_sql(
        app,
        "UPDATE security_events SET at = :t WHERE type = 'signed_in'",
        t=now - timedelta(days=days, seconds=1),
    )
    assert _purged(_purge(app, now)) == {"security_events": 1}
    items = client.get("/auth/events", headers=bearer(signed_in["access_token"])).get_json()
    assert [e["type"] for e in items["items"]] == ["registered"]


def test_events_past_security_log_days_are_hidden_before_the_purge_runs(
    app: Any, client: Any, auth: AuthActions
) -> None:
    signed_in = _sign_in(client, auth)
    days = app.extensions["settings"].security_log_days
    execute_sql(
        app,
        "UPDATE security_events SET at = :t WHERE type = 'signed_in'",
        t=utcnow() - timedelta(days=days, seconds=1),
    )
    mine = client.get("/auth/events", headers=bearer(signed_in["access_token"])).get_json()
    assert [e["type"] for e in mine["items"]] == ["registered"]
    every = client.get("/admin/events", headers=bearer(signed_in["access_token"])).get_json()
    assert "signed_in" not in [e["type"] for e in every["items"]]
    assert _rows(app, "security_events") == 2  # still stored until the purge


def test_passkey_creation_options_never_answered_are_purged(
    app: Any, client: Any, auth: AuthActions
) -> None:
    for _ in range(2):  # two accounts: an account's new options replace its older ones
        account, token = auth.sign_in()
        proof = {"password": account.password, "recovery_code": account.recovery_codes.pop()}
        r = client.post("/auth/passkeys/options", json=proof, headers=bearer(token))
        assert r.status_code == 200, r.get_json()
    assert _purged(_purge(app, utcnow())) == {}
    later = _purged(_purge(app, utcnow() + timedelta(minutes=5, seconds=1)))
    assert later["passkey_registrations"] == 2  # (the sign-ins' mfa challenges go too)
    assert _rows(app, "passkey_registrations") == 0


def test_the_command_prints_what_it_purged(app: Any, client: Any, auth: AuthActions) -> None:
    auth.login(auth.register())
    execute_sql(app, "UPDATE mfa_challenges SET expires_at = :t", t=utcnow())
    result = app.test_cli_runner().invoke(args=["purge-expired"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "mfa_challenges: 1" in lines and "sessions: 0" in lines
    assert lines[-1] == "purged 1 expired rows"
    assert _rows(app, "mfa_challenges") == 0


def test_purging_an_unknown_table_is_refused(app: Any) -> None:
    with pytest.raises(ValueError, match="products"):
        with app.extensions["db_engine"].connect() as conn:
            purge_expired(conn, utcnow(), app.extensions["settings"], tables=["products"])


@pytest.mark.e2e
def test_a_live_server_purges_in_the_background(
    settings: Settings, secrets_env: dict[str, str], tmp_path: Path, app: Any
) -> None:
    env = server_env(settings, secrets_env, PURGE_INTERVAL="1")
    server = start_server(env, tmp_path / "server.log")
    try:
        login = {"username": "made-up-name", "password": "not-it-at-all"}
        r = requests.post(f"{server.url}/auth/login", json=login, timeout=10)
        assert r.status_code == 401
        assert _rows(app, "attempt_counters") == 1
        ended = utcnow() - attempts.WINDOW - timedelta(seconds=1)
        execute_sql(app, "UPDATE attempt_counters SET window_start = :t", t=ended)
        wait_until(lambda: _rows(app, "attempt_counters") == 0, 30, "the counter's purge")
        # The purge logs what it deleted once its transaction has committed, a moment after
        # the row is gone: wait for that line before stopping the server.
        log = log_with(server.log, '"message": "purged expired rows"', '"attempt_counters": 1')
    finally:
        stop_server(server)
    assert "made-up-name" not in log and "made-up-name" not in server.log()


def _wait_for(check: Any, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.e2e
@pytest.mark.mariadb
def test_the_background_purge_fails_while_the_database_is_cut_and_recovers(
    secrets_env: dict[str, str], tmp_path: Path
) -> None:
    with scratch_mariadb() as direct_url:
        real = make_url(direct_url)
        link = CuttableLink(real.port or 3306, real.host or "127.0.0.1")
        through = real.set(host="127.0.0.1", port=link.port).render_as_string(hide_password=False)
        settings = settings_for(through, tmp_path / "instance", secrets_env)
        env = server_env(settings, secrets_env, PURGE_INTERVAL="1")
        server = start_server(env, tmp_path / "server.log")
        direct = create_engine(real)

        def counters() -> int:
            with direct.connect() as conn:
                return int(conn.execute(text("SELECT COUNT(*) FROM attempt_counters")).scalar_one())

        try:
            login = {"username": "made-up-name", "password": "not-it-at-all"}
            assert (
                requests.post(f"{server.url}/auth/login", json=login, timeout=10).status_code == 401
            )
            link.cut()
            assert _wait_for(lambda: "purge failed" in server.log()), server.log()[-2000:]
            link.restore()
            with direct.begin() as conn:
                ended = utcnow() - attempts.WINDOW - timedelta(seconds=1)
                conn.execute(text("UPDATE attempt_counters SET window_start = :t"), {"t": ended})
            assert _wait_for(lambda: counters() == 0), server.log()[-2000:]
        finally:
            stop_server(server)
            link.close()
            direct.dispose()
        assert "Traceback" not in server.log()
        assert "made-up-name" not in server.log()
