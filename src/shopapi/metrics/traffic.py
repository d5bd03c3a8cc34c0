"""The metrics of each request, taken in the WSGI layer (`logs.RequestLog`), and of the
database pools, read by a thread of each worker."""

from __future__ import annotations

import os
import sys
import threading
import time
import weakref
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from sqlalchemy import Engine

from ..logs import ROUTE_KEY, route_template
from . import BUILD_INFO, DB_IN_USE, DB_OVERFLOW, DURATION, IN_FLIGHT, REQUESTS

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SAMPLE_EVERY = 1.0  # seconds between two readings of the database pools


class RequestMetrics:
    """What `logs.RequestLog` reports for each request: in flight, then count and duration.

    The metric children of each (method, rule, status class) are looked up once and kept
    in a plain dictionary: a request costs a dictionary lookup and five writes of a value
    (in flight up and down, the count, the histogram's bucket and sum).
    """

    def __init__(self) -> None:
        self._children: dict[tuple[str, str | None, str], tuple[Any, Any]] = {}
        self._pools: list[tuple[str, Any]] = []
        self._sampler_pid = 0

    def watch_pools(self, engines: Iterable[tuple[str, Engine]]) -> None:
        """Sample these pools' connections in use (SQLite in memory has no count: skipped)."""
        self._pools += [(name, e.pool) for name, e in engines if hasattr(e.pool, "checkedout")]

    def started(self) -> None:
        if self._sampler_pid != os.getpid():  # each worker samples its own pools
            self._start_sampler()
        IN_FLIGHT.inc()

    def finished(self, environ: dict[str, Any], status: str, seconds: float) -> None:
        IN_FLIGHT.dec()
        method = environ.get("REQUEST_METHOD", "")
        if method not in METHODS:
            method = "other"
        key = (method, environ.get(ROUTE_KEY), status[:1])
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = self._new_children(*key)
        children[0].inc()
        children[1].observe(seconds)

    @staticmethod
    def _new_children(method: str, rule: str | None, status: str) -> tuple[Any, Any]:
        labels = (method, route_template(rule), f"{status}xx")
        return REQUESTS.labels(*labels), DURATION.labels(*labels)

    def _start_sampler(self) -> None:
        self._sampler_pid = os.getpid()
        if self._pools:
            # The thread holds the metrics weakly: an app that is gone (a test's, a worker's
            # before a re-fork) takes its sampler with it instead of leaving it running.
            thread = threading.Thread(
                target=_sample, args=(weakref.ref(self),), name="metrics-pools", daemon=True
            )
            thread.start()

    def pools(self) -> list[tuple[str, Any]]:
        return self._pools


def _sample(owner: weakref.ref[RequestMetrics]) -> None:
    """Read the pools every second while their app lives. A thread, not pool events: a
    request pays nothing, and a reading is never left stale by a checkout that failed
    half-way."""
    while (metrics := owner()) is not None:
        for name, pool in metrics.pools():
            DB_IN_USE.labels(name).set(pool.checkedout())
            DB_OVERFLOW.labels(name).set(max(pool.overflow(), 0))
        del metrics
        time.sleep(SAMPLE_EVERY)


def set_build_info(database: str) -> None:
    try:
        release = version("shopapi")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree not installed
        release = "unknown"
    python = ".".join(str(part) for part in sys.version_info[:3])
    BUILD_INFO.labels(release, python, database).set(1)
