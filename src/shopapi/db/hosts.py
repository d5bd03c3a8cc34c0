"""Which MariaDB server a connection goes to, and what it asks of a Galera node.

A DATABASE_URL may name several hosts, `mysql://shop@db1:3306,db2:3306,db3:3306/shop`: a new
connection goes to the host the last one went to, and to the next one when that host does
not answer or is a Galera node that cannot serve (error 1047: not in the cluster's primary
component, or still catching up). A node that dies under pooled connections closes them; the
pool then opens new ones, which go to the next host, without a restart.

On a Galera node every connection sets `wsrep_sync_wait` once, when it opens: its reads and
conditional writes wait until the node has applied everything the cluster committed before
them (docs/operations/galera.md). A server that is no Galera node pays one `SHOW VARIABLES`
per connection for finding that out, and nothing per request.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext, make_url

log = logging.getLogger(__name__)

# Causal reads and causal conditional writes: SELECT/SHOW (1) and UPDATE/DELETE (2) first
# wait for the node to apply what the cluster committed before them. INSERTs are left out:
# one that meets a row committed elsewhere but not yet applied here loses certification at
# COMMIT (1213) and is run again by the unit of work. The cost per read is measured in
# docs/development/performance.md.
WSREP_SYNC_WAIT = 3
# MariaDB's answer on a Galera node that cannot serve: "WSREP has not yet prepared node
# for application use". A connection to it is as good as none.
NODE_NOT_READY = 1047
# With several hosts, each gets this many seconds to answer a new connection before the
# next is tried (a refused one is tried next at once).
SEVERAL_HOSTS_CONNECT_TIMEOUT = 1

# scheme://[user[:password]@]hosts[/database][?query], as SQLAlchemy splits a URL.
_URL = re.compile(r"^(?P<head>[\w+]+://(?:[^:/]*(?::[^@]*)?@)?)(?P<hosts>[^/?]*)(?P<tail>.*)$")


def host_urls(url: str) -> list[str]:
    """`url` once per host it names, in its order (one URL when it names one host)."""
    match = _URL.match(url)
    if match is None or "," not in match["hosts"]:
        return [url]
    hosts = [host.strip() for host in match["hosts"].split(",") if host.strip()]
    return [f"{match['head']}{host}{match['tail']}" for host in hosts]


class Hosts:
    """The hosts of one engine, tried in turn from the one that answered last."""

    def __init__(self, addresses: list[tuple[str | None, int | None]]) -> None:
        self.addresses = addresses
        self._current = 0
        self._lock = threading.Lock()

    def connect(self, dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        """The engine's `do_connect`: a prepared connection to the first host that serves."""
        with self._lock:
            start = self._current
        last_error: BaseException | None = None
        for step in range(len(self.addresses)):
            index = (start + step) % len(self.addresses)
            params = dict(cparams)
            host, port = self.addresses[index]
            if len(self.addresses) > 1:
                params.update(host=host, port=port or 3306)
                params["connect_timeout"] = SEVERAL_HOSTS_CONNECT_TIMEOUT
            try:
                connection = dialect.connect(*cargs, **params)
            except dialect.loaded_dbapi.Error as error:
                last_error = error
                continue
            try:
                prepare(connection, dialect.loaded_dbapi)
            except dialect.loaded_dbapi.Error as error:
                connection.close()
                last_error = error
                continue
            if index != start:
                log.warning("database: connected to %s:%s, the next host named", host, port)
                with self._lock:
                    self._current = index
            return connection
        if last_error is None:  # no host at all: the URL's parsing gives at least one
            raise ValueError("the database URL names no host")
        raise last_error


def prepare(connection: Any, dbapi: Any) -> bool:
    """Set up a new connection for a Galera node (whether the server is one): causal reads,
    or the driver's OperationalError 1047 when the node cannot serve."""
    cursor = connection.cursor()
    try:
        cursor.execute("SHOW VARIABLES LIKE 'wsrep_on'")
        row = cursor.fetchone()
        if row is None or str(_text(row[1])).upper() != "ON":
            return False
        cursor.execute(f"SET SESSION wsrep_sync_wait = {WSREP_SYNC_WAIT}")
        cursor.execute("SHOW STATUS LIKE 'wsrep_ready'")
        ready = cursor.fetchone()
        if ready is None or str(_text(ready[1])).upper() != "ON":
            raise dbapi.OperationalError(NODE_NOT_READY, "the Galera node is not ready")
        return True
    finally:
        cursor.close()


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _node_unusable(context: ExceptionContext) -> None:
    """A statement answered 1047 comes from a node that left the cluster's primary component:
    take it for a lost connection, so the pool is emptied and the next connections go to the
    next host."""
    orig = context.original_exception
    code = orig.args[0] if orig is not None and orig.args else None
    if code == NODE_NOT_READY:
        context.is_disconnect = True


def connect_to_hosts(engine: Engine, url: str) -> None:
    """Make `engine` (built from the first host of `url`) connect as this module says."""
    addresses = []
    for each in host_urls(url):
        parsed = make_url(each)
        addresses.append((parsed.host, parsed.port))
    event.listen(engine, "do_connect", Hosts(addresses).connect)
    event.listen(engine, "handle_error", _node_unusable)
