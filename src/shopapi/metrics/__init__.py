"""Prometheus metrics: what they count, and the functions the services report through.

Under the production server (`python -m shopapi.serving`), PROMETHEUS_MULTIPROC_DIR is set
before any worker starts: each worker process writes its figures to files there, and a
scrape of any worker sums every worker's, those of workers that have died included (a
counter never goes back when a worker is replaced). Gauges count only live workers.
Without that folder (`python app.py`, one process) the figures live in memory.

No label ever holds a username, a token, an address or a raw path: labels take their
values from short fixed sets (route templates, status classes, reasons, limits). Each
request is seen by `traffic.RequestMetrics`; `scrape` serves `GET /metrics`.
"""

from __future__ import annotations

import os

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# In multiprocess mode the first metric made opens a file in this folder. The production
# server makes and empties it before its workers start; any other process that imports
# this module with the variable set (that server's own launcher, first) needs it too.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], mode=0o700, exist_ok=True)

# The `_created` series would double every counter's lines (multiprocess mode has none).
disable_created_metrics()  # type: ignore[no-untyped-call]

REQUESTS = Counter(
    "shopapi_http_requests",
    "Requests answered, by method, route template and status class.",
    ["method", "route", "status"],
)
DURATION = Histogram(
    "shopapi_http_request_duration_seconds",
    "Time from receiving a request to handing its answer to the server.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
IN_FLIGHT = Gauge(
    "shopapi_http_requests_in_flight",
    "Requests being served now.",
    multiprocess_mode="livesum",
)
SIGN_INS = Counter(
    "shopapi_sign_ins",
    "Sign-ins that succeeded (a session started), by second factor.",
    ["method"],
)
SIGN_IN_FAILURES = Counter(
    "shopapi_sign_in_failures",
    "Wrong passwords (also for unknown usernames) and wrong codes, at sign-in and in the "
    "proofs that account care asks for.",
    ["step"],
)
LOCKOUTS = Counter(
    "shopapi_lockouts",
    "Accounts whose failure limit a wrong attempt has just exhausted.",
    ["limit"],
)
RATE_LIMITED = Counter(
    "shopapi_rate_limited",
    "Requests refused with 429, by the limit that refused them.",
    ["limit"],
)
SESSIONS_STARTED = Counter("shopapi_sessions_started", "Sessions started by a sign-in.")
SESSIONS_REFRESHED = Counter(
    "shopapi_sessions_refreshed", "Refresh tokens exchanged for new tokens."
)
SESSIONS_ENDED = Counter(
    "shopapi_sessions_ended",
    "Sessions ended before they expired, by reason.",
    ["reason"],
)
REFRESH_REUSE = Counter(
    "shopapi_refresh_token_reuse",
    "Used-up refresh tokens presented again (each ends its session).",
)
UNAVAILABLE = Counter(
    "shopapi_unavailable",
    "Answers of 503, by cause.",
    ["cause"],
)
DB_RETRIES = Counter(
    "shopapi_db_retries",
    "Units of work run again after the database aborted them to resolve a conflict, by "
    "cause: deadlock (also a lost certification), lock_wait (a lock wait timed out), busy "
    "(SQLite's database is locked).",
    ["cause"],
)
RATE_LIMIT_FALLBACKS = Counter(
    "shopapi_rate_limit_fallbacks",
    "Limit checks (per address, and the global budget) counted in process memory because "
    "Redis was unreachable.",
)
DB_IN_USE = Gauge(
    "shopapi_db_connections_in_use",
    "Database connections checked out of the pools now.",
    ["pool"],
    multiprocess_mode="livesum",
)
DB_OVERFLOW = Gauge(
    "shopapi_db_connections_overflow",
    "Database connections open beyond the pools' size now (closed when given back).",
    ["pool"],
    multiprocess_mode="livesum",
)
WEBHOOK_ATTEMPTS = Counter(
    "shopapi_webhook_attempts",
    "Webhook delivery attempts, by event type and outcome: delivered (a 2xx), retrying "
    "(failed, another attempt is scheduled), failed (failed, the schedule is over).",
    ["type", "outcome"],
)
BUILD_INFO = Gauge(
    "shopapi_build_info",
    "Always 1; the labels say what runs.",
    ["version", "python", "database"],
    multiprocess_mode="livemax",
)

# Every known label value starts at 0, so that rates and alerts see a series from the start.
for _metric, _values in (
    (SIGN_INS, ("totp", "recovery_code", "passkey")),
    (SIGN_IN_FAILURES, ("password", "code")),
    (LOCKOUTS, ("password", "code")),
    (RATE_LIMITED, ("sign_in_per_address", "register_per_address", "password_hashing_global")),
    (RATE_LIMITED, ("password_per_account", "code_per_account", "api_key")),
    (SESSIONS_ENDED, ("signed_out", "revoked", "reuse_detected", "password_changed")),
    (SESSIONS_ENDED, ("totp_replaced", "disabled", "totp_reset", "session_cap")),
    (UNAVAILABLE, ("database", "database_busy", "database_conflict", "hashing_busy")),
    (DB_RETRIES, ("deadlock", "lock_wait", "busy")),
):
    for _value in _values:
        _metric.labels(_value)


def rate_limited(limit: str) -> None:
    RATE_LIMITED.labels(limit).inc()


def sign_in_failed(step: str, *, locked_out: bool = False) -> None:
    SIGN_IN_FAILURES.labels(step).inc()
    if locked_out:
        LOCKOUTS.labels(step).inc()


def unavailable(cause: str) -> None:
    UNAVAILABLE.labels(cause).inc()


def db_retried(cause: str) -> None:
    DB_RETRIES.labels(cause).inc()


def webhook_attempted(event_type: str, outcome: str) -> None:
    WEBHOOK_ATTEMPTS.labels(event_type, outcome).inc()


def refresh_reused() -> None:
    REFRESH_REUSE.inc()


def rate_limit_fallback() -> None:
    RATE_LIMIT_FALLBACKS.inc()


# Outcomes that a unit of work keeps: called through `db.when_committed`.


def signed_in(method: str) -> None:
    SIGN_INS.labels(method).inc()


def session_started() -> None:
    SESSIONS_STARTED.inc()


def session_refreshed() -> None:
    SESSIONS_REFRESHED.inc()


def sessions_ended(reason: str, count: int) -> None:
    SESSIONS_ENDED.labels(reason).inc(count)
