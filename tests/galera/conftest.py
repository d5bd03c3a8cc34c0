"""Two instances of the service on the three-node Galera cluster, one scratch database:
instance A talks to node 1, instance B to node 2 (each moves to the next node when its own
dies). Skipped unless the cluster runs (`make galera-up`); REQUIRE_GALERA=1 fails instead."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import (
    HttpAuth,
    loopback_address,
    server_env,
    settings_for,
    start_production,
    start_server,
    stop_production,
    stop_server,
)
from support.galera import Cluster, instance_url, require_cluster, scratch_cluster_database


@pytest.fixture(scope="module")
def cluster_database() -> Iterator[str]:
    """The name of a scratch database on the cluster, migrated."""
    require_cluster()
    with scratch_cluster_database() as database:
        yield database


@pytest.fixture(scope="module")
def cluster(
    cluster_database: str, secrets_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("galera")

    def env(first: int) -> dict[str, str]:
        url = instance_url(cluster_database, first)
        return server_env(settings_for(url, tmp / "instance", secrets_env), secrets_env)

    a = start_server(env(1), tmp / "a.log")
    try:
        b = start_production(env(2), tmp / "b.log")
    except BaseException:
        stop_server(a)
        raise
    try:
        admin = HttpAuth(a.url, loopback_address()).headers()
        yield Cluster(a, b, cluster_database, admin)
    finally:
        stop_server(a)
        stop_production(b)
        for server in (a, b):
            assert "Traceback" not in server.log(), server.log()[-3000:]
