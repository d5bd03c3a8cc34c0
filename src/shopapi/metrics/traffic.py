"""The metrics of each request, taken in the WSGI layer (`logs.RequestLog`) and written
by a thread of each worker, which also reads the database pools."""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import weakref
from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from sqlalchemy import Engine

from ..logs import ROUTE_KEY, route_template
from . import BUILD_INFO, DB_IN_USE, DB_OVERFLOW, DURATION, IN_FLIGHT, REQUESTS

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
FLUSH_EVERY = 0.05  # seconds between two writes of the requests' figures
SAMPLE_EVERY = 1.0  # seconds between two readings of the database pools

# A request answered: its method, route, status and seconds.
_Event = tuple[str, str | None, str, float]


class RequestMetrics:
    """What `logs.RequestLog` reports of each request: in flight, then count and duration.

    In flight is counted up and down by each request (exact at any moment, whatever the
    number of apps a process serves). Its count and duration only go to a deque: no lock,
    no write to the metrics' files (the five writes a request made cost a sixth of the time
    of a request that reaches no database). A thread of each worker takes what the deque
    holds every `FLUSH_EVERY` seconds and writes it, one write per route and status class,
    bucket and sum, whatever the number of requests; a scrape first writes its own worker's
    (`flush()`). The metric children of each (method, rule, status class) are looked up
    once and kept in a plain dictionary.
    """

    def __init__(self) -> None:
        self._children: dict[tuple[str, str | None, str], tuple[Any, Any]] = {}
        self._pools: list[tuple[str, Any]] = []
        self._events: deque[_Event] = deque()
        self._lock = threading.Lock()
        self._starting = threading.Lock()
        self._writer_pid = 0

    def watch_pools(self, engines: Iterable[tuple[str, Engine]]) -> None:
        """Sample these pools' connections in use (SQLite in memory has no count: skipped)."""
        self._pools += [(name, e.pool) for name, e in engines if hasattr(e.pool, "checkedout")]

    def started(self) -> None:
        if self._writer_pid != os.getpid():  # each worker writes its own figures
            self._start_writer()
        IN_FLIGHT.inc()

    def finished(self, environ: dict[str, Any], status: str, seconds: float) -> None:
        IN_FLIGHT.dec()
        self._events.append(
            (environ.get("REQUEST_METHOD", ""), environ.get(ROUTE_KEY), status, seconds)
        )

    def flush(self) -> None:
        """Write the figures of the requests seen since the last flush."""
        with self._lock:
            durations: dict[tuple[str, str | None, str], list[float]] = {}
            while True:
                try:
                    event = self._events.popleft()
                except IndexError:
                    break
                method, rule, status, seconds = event
                key = (method if method in METHODS else "other", rule, status[:1])
                durations.setdefault(key, []).append(seconds)
            for key, amounts in durations.items():
                children = self._children.get(key)
                if children is None:
                    children = self._children[key] = self._new_children(*key)
                children[0].inc(len(amounts))
                _observe_all(children[1], amounts)

    @staticmethod
    def _new_children(method: str, rule: str | None, status: str) -> tuple[Any, Any]:
        labels = (method, route_template(rule), f"{status}xx")
        return REQUESTS.labels(*labels), DURATION.labels(*labels)

    def _start_writer(self) -> None:
        with self._starting:  # the first requests of a worker may come on several threads
            if self._writer_pid == os.getpid():
                return
            # A forked worker starts from nothing: what the parent had seen is the parent's.
            self._events, self._lock = deque(), threading.Lock()
            # The thread holds the metrics weakly: an app that is gone (a test's, a worker's
            # before a re-fork) takes its writer with it instead of leaving it running.
            owner = weakref.ref(self)
            threading.Thread(target=_write, args=(owner,), name="metrics", daemon=True).start()
            atexit.register(_flush_if_alive, owner)
            # Last: a request that sees its process's id here appends to the new queue.
            self._writer_pid = os.getpid()

    def pools(self) -> list[tuple[str, Any]]:
        return self._pools


def _observe_all(histogram: Any, amounts: list[float]) -> None:
    """`histogram.observe(a)` for each of `amounts`, with one write per bucket it touches and
    one of the sum: prometheus_client has no public call for several observations, so this
    does what its `Histogram.observe` does (the first bucket whose bound is not below)."""
    bounds = histogram._upper_bounds  # noqa: SLF001 - see above
    for index, count in Counter(bisect_left(bounds, a) for a in amounts).items():
        histogram._buckets[index].inc(count)  # noqa: SLF001
    histogram._sum.inc(sum(amounts))  # noqa: SLF001


def _flush_if_alive(owner: weakref.ref[RequestMetrics]) -> None:
    metrics = owner()
    if metrics is not None:
        metrics.flush()


def _write(owner: weakref.ref[RequestMetrics]) -> None:
    """Write the requests' figures every FLUSH_EVERY seconds and read the pools every
    SAMPLE_EVERY, while their app lives. A thread, not pool events: a request pays
    nothing, and a reading is never left stale by a checkout that failed half-way."""
    sampled = 0.0
    while (metrics := owner()) is not None:
        metrics.flush()
        now = time.monotonic()
        if now - sampled >= SAMPLE_EVERY:
            sampled = now
            for name, pool in metrics.pools():
                DB_IN_USE.labels(name).set(pool.checkedout())
                DB_OVERFLOW.labels(name).set(max(pool.overflow(), 0))
        del metrics
        time.sleep(FLUSH_EVERY)


def set_build_info(database: str) -> None:
    try:
        release = version("shopapi")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree not installed
        release = "unknown"
    python = ".".join(str(part) for part in sys.version_info[:3])
    BUILD_INFO.labels(release, python, database).set(1)
