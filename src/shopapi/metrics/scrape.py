"""`GET /metrics`: for clients in METRICS_ALLOWED_NETWORKS only, the sum of every worker."""

from __future__ import annotations

import contextlib
import glob
import ipaddress
import os
import time
from collections.abc import Iterable
from typing import Any

from apiflask import APIBlueprint, APIFlask
from flask import Response, abort, current_app, request
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from .traffic import FLUSH_EVERY, RequestMetrics, set_build_info

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
ALLOWED = "shopapi_metrics_allowed"
REQUEST_METRICS = "shopapi_request_metrics"

bp = APIBlueprint("metrics", __name__, tag="Operations")
_RESPONSES: dict[int | str, dict[str, str | dict[str, dict[str, Any]]]] = {
    200: {
        "description": "Every metric, in Prometheus' text format",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
    404: {"description": "The client's address is not in METRICS_ALLOWED_NETWORKS"},
}


@bp.get("/metrics")
@bp.doc(responses=_RESPONSES)
def scrape() -> Response:
    """Prometheus metrics, for clients in METRICS_ALLOWED_NETWORKS only (others: 404)."""
    if not allowed(request.remote_addr, current_app.extensions[ALLOWED]):
        abort(404)  # as for any unknown path: nothing tells that something is here
    current_app.extensions[REQUEST_METRICS].flush()  # this worker's, this scrape's start too
    body, content_type = exposition()
    return Response(body + webhook_backlog(), content_type=content_type)


def webhook_backlog() -> bytes:
    """The webhook backlog as the database has it now (every instance's): read at scrape,
    one indexed statement, so it is the same whichever worker answers; left out while the
    database is unreachable."""
    from ..db import reader, utcnow
    from ..webhooks.service import backlog

    try:
        count, age = backlog(reader(), utcnow())
    except SQLAlchemyError:  # the database is away: the other figures still answer
        return b""
    registry = CollectorRegistry()
    registry.register(_Backlog(count, age))
    return generate_latest(registry)


class _Backlog:
    def __init__(self, count: int, age: float) -> None:
        self.count, self.age = count, age

    def collect(self) -> Iterable[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "shopapi_webhook_deliveries_pending",
            "Webhook deliveries not yet delivered or failed (due now or waiting to retry).",
            value=self.count,
        )
        yield GaugeMetricFamily(
            "shopapi_webhook_oldest_pending_seconds",
            "Age of the oldest pending webhook delivery, in seconds (0 when none).",
            value=self.age,
        )


def register(app: APIFlask, cidrs: Iterable[str], request_metrics: RequestMetrics) -> None:
    """Serve /metrics, sample the pools, say what runs."""
    app.extensions[ALLOWED] = networks(cidrs)
    app.extensions[REQUEST_METRICS] = request_metrics
    pools: dict[Engine, str] = {}  # on SQLite the reader is the main engine: once
    for name, key in (("main", "db_engine"), ("side", "db_side"), ("reader", "db_reader")):
        pools.setdefault(app.extensions[key], name)
    request_metrics.watch_pools((name, engine) for engine, name in pools.items())
    set_build_info(app.extensions["db_engine"].dialect.name)
    app.register_blueprint(bp)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


def allowed(address: str | None, allowed_networks: Iterable[Network]) -> bool:
    """Whether the client `address` (REMOTE_ADDR, after TRUSTED_PROXIES) is in a network
    of the allow-list; an IPv4 client seen as ::ffff:a.b.c.d counts as a.b.c.d."""
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in allowed_networks)


def exposition() -> tuple[bytes, str]:
    """The text format of every metric: of every worker's files in multiprocess mode."""
    directory = os.environ.get(MULTIPROC_DIR)
    if not directory:
        return generate_latest(REGISTRY), CONTENT_TYPE_PLAIN_0_0_4
    # Other workers write what they answered every FLUSH_EVERY seconds: wait for them, so a
    # scrape counts every request answered before it.
    time.sleep(2 * FLUSH_EVERY)
    _forget_dead_processes(directory)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4


def _forget_dead_processes(directory: str) -> None:
    """Drop the gauges of worker processes that have died (the server replaced them; no
    hook of its tells us). Their counters stay: totals survive a worker's restart."""
    pids = {_pid_of(path) for path in glob.glob(os.path.join(directory, "gauge_live*_*.db"))}
    for pid in pids - {None}:
        if pid is not None and not _alive(pid):
            with contextlib.suppress(FileNotFoundError):  # another worker's scrape did it
                multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def _pid_of(path: str) -> int | None:
    tail = os.path.basename(path).rsplit("_", 1)[-1].removesuffix(".db")
    return int(tail) if tail.isdigit() else None


def _alive(pid: int, proc: str = "/proc") -> bool:
    """Whether process `pid` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        with open(f"{proc}/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[0] != b"Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here: ask the kernel whether the pid exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
