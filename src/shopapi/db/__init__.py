"""The database: engines, the request's unit of work, and migrations.

Each request has one unit of work (`session()`): services add and flush, and the view's
wrapper (`unit_of_work`) commits when the view returns, or the error handlers roll back
when it raises. A transaction the database aborts to resolve a conflict (a deadlock, a lock
wait timeout, SQLite's busy) is rolled back and the view runs again, whole. Reads that need
no transaction use `reader()`; counters that must commit on their own whatever the
request's outcome use `side_connection()`.
"""

from __future__ import annotations

import logging
import random
import select
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from .. import clock, metrics
from .hosts import connect_to_hosts, host_urls

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent.parent / "migrations"


def utcnow() -> datetime:
    """Now in UTC, in whole seconds: what every backend stores and reads back unchanged."""
    return datetime.fromtimestamp(clock.now(), UTC).replace(microsecond=0, tzinfo=None)


def normalise_url(url: str) -> URL:
    """`url` as the engine takes it: utf8mb4 unless another charset is named, and for a
    MariaDB/MySQL URL that names no driver (`mysql://`, `mariadb://`), the faster driver
    installed: mysqlclient (C) when it could be built, else PyMySQL, which always installs.
    A URL naming several hosts (see `hosts`) gives its first host's URL."""
    parsed = make_url(host_urls(url)[0])
    if parsed.get_backend_name() in ("mysql", "mariadb"):
        # One dialect name ("mysql") for both servers: the service's SQL is written for it.
        named = "+" in parsed.drivername  # else SQLAlchemy would pick mysqlclient, installed or not
        driver = parsed.get_driver_name() if named else mysql_driver()
        parsed = parsed.set(drivername=f"mysql+{driver}")
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def mysql_driver() -> str:
    """ "mysqldb" (mysqlclient) when it is installed, else "pymysql"."""
    try:
        import MySQLdb  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return "pymysql"
    return "mysqldb"


# MariaDB uses a constant subquery's value to bound an index range (as a product list's walk
# of common words bounds its page, see resources/listing.py) only when the subquery reads
# fewer rows than expensive_subquery_limit (default 100); the walk's bound reads up to
# search.WALK index entries. (`/*M!` is MariaDB's: MySQL skips it.)
_SUBQUERY_CONSTANTS = " /*M!100000 , expensive_subquery_limit = 1000000 */"


def make_engine(
    url: str,
    *,
    connect_timeout: int = 3,
    query_timeout: int = 10,
    lock_wait_timeout: int = 2,
    read_only: bool = False,
    **kwargs: Any,
) -> Engine:
    """The engine for `url`; `read_only=True` gives MariaDB connections in autocommit mode
    for requests that only read (no transaction to end, no ROLLBACK round trip).

    A statement waits at most `lock_wait_timeout` seconds for a lock (SQLite's busy
    timeout, MariaDB's innodb_lock_wait_timeout), below the unit of work's retry time, so
    that a wait that runs out is retried (`unit_of_work`) rather than holding the request.
    A MariaDB URL may name several hosts; on a Galera node reads are causal (see `hosts`)."""
    parsed = normalise_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            connect_args={"timeout": lock_wait_timeout, "check_same_thread": False},
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "mysql":
        # Bounded timeouts so a dead server gives a quick 503, never a hung worker.
        # pool_recycle stays below the server's idle timeout.
        if read_only:
            kwargs = {"pool_reset_on_return": None, **kwargs}
        engine = create_engine(
            parsed,
            pool_recycle=1800,
            isolation_level="AUTOCOMMIT" if read_only else "READ COMMITTED",
            connect_args={
                "connect_timeout": connect_timeout,
                "read_timeout": query_timeout,
                "write_timeout": query_timeout,
                "init_command": f"SET SESSION innodb_lock_wait_timeout = {int(lock_wait_timeout)}"
                + _SUBQUERY_CONSTANTS,
            },
            **kwargs,
        )
        event.listen(engine, "checkout", _closed_by_server)
        connect_to_hosts(engine, url)
        if read_only:
            # SQLAlchemy ends every connection's use with DBAPI rollback(), which PyMySQL
            # sends to the server even in autocommit mode, where it has nothing to undo.
            engine.dialect.do_rollback = _nothing_to_roll_back  # type: ignore[method-assign,assignment]
        return engine
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


def _nothing_to_roll_back(_dbapi_connection: Any) -> None:
    return


def _closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled connection whose server end has closed, without a round trip.

    After a database restart or a cut link the socket of an idle pooled connection reads
    as closed; the pool then opens a fresh connection, so the first request after an
    outage is served. (A ping on every checkout would cost a round trip per request.)
    """
    socket = _socket_of(dbapi_connection)
    if socket is None:
        raise DisconnectionError("connection has no socket")
    readable, _, _ = select.select([socket], [], [], 0)
    if readable:  # an idle connection has nothing to read: this is EOF or an error
        raise DisconnectionError("connection closed by the server")


def _socket_of(dbapi_connection: Any) -> Any:
    """The connection's socket (PyMySQL) or its file descriptor (mysqlclient), or None
    once the driver has closed it."""
    sock = getattr(dbapi_connection, "_sock", None)
    if sock is not None:
        return sock
    fileno = getattr(dbapi_connection, "fileno", None)
    if fileno is None:
        return None
    try:
        return fileno()
    except Exception:  # noqa: BLE001 - mysqlclient raises once the connection is closed
        return None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def init_app(
    app: Flask,
    engine: Engine,
    side: Engine,
    reader: Engine | None = None,
    *,
    retry_seconds: float = 5.0,
) -> None:
    """`engine` serves the units of work; `side` the side connections, from a pool of its own
    (a request that holds its unit of work's connection and asks for a side one must never
    wait for another request to give back a connection of the same kind); `reader` the
    reads without a transaction (SQLite reads outside a transaction already: none needed);
    `retry_seconds` bounds the retries of a unit of work the database aborted."""
    app.extensions["db_engine"] = engine
    app.extensions["db_retry_seconds"] = retry_seconds
    app.extensions["db_side"] = side
    app.extensions["db_reader"] = reader or engine
    # One dispose() closes every pool.
    for other in {side, reader or side}:
        event.listen(engine, "engine_disposed", lambda _engine, other=other: other.dispose())
    for each in (engine, side):
        event.listen(each, "handle_error", _roll_back_conflict)
    app.extensions["db_sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(close_request_connections)


def engine() -> Engine:
    result: Engine = current_app.extensions["db_engine"]
    return result


def _request_globals() -> Any:
    """The request's `g` itself (None outside a request): the functions every request runs
    look it up once, not through the proxy at each use."""
    return g._get_current_object() if g else None


def reader() -> Connection:
    """The read-only connection of the current request (autocommit), opened on first use."""
    found = _request_globals()
    conn: Connection | None = found.get("db_reader")
    if conn is None:
        conn = found.db_reader = current_app.extensions["db_reader"].connect()
    return conn


def read_apart() -> Callable[[Any, Any], list[Any]]:
    """Runs a read on a connection of its own, opened and given back around each statement
    (no transaction held between them): for an answer streamed after its view returned,
    which reads in batches as it goes."""
    reading: Engine = current_app.extensions["db_reader"]

    def run(statement: Any, params: Any) -> list[Any]:
        with reading.connect() as conn:
            return list(conn.execute(statement, params).all())

    return run


def session() -> Session:
    """The request's unit of work, begun on first use; see `unit_of_work`."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["db_sessionmaker"]()
    result: Session = g.db_session
    return result


class ConflictPersisted(Exception):
    """The database kept aborting the request's transaction until its retry time ran out."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


class ConflictNotRetried(Exception):
    """The database aborted the transaction of a view that answers conflicts itself
    (`not_retried`): nothing was kept, and the client is told (409)."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


def not_retried(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view whose transaction is not to be run again whole when the database aborts
    it (an import of a large file: its work is too long to repeat within the retry time);
    `unit_of_work` answers `ConflictNotRetried` instead. Put it right under the route."""
    view.retry_conflicts = False  # type: ignore[attr-defined]
    return view


# MySQL/MariaDB error codes of a transaction aborted to resolve a conflict.
_CONFLICT_CODES = {1213: "deadlock", 1205: "lock_wait"}
# Backoff between attempts: full jitter under a doubling ceiling, in seconds.
_FIRST_DELAY, _MOST_DELAY = 0.01, 0.5


def conflict_cause(error: BaseException) -> str | None:
    """Why the database aborted this statement to resolve a conflict ("deadlock",
    "lock_wait", "busy"), or None when `error` is something else (a dead link included)."""
    if not isinstance(error, DBAPIError) or error.connection_invalidated:
        return None
    return _driver_conflict(error.orig)


def _driver_conflict(orig: BaseException | None) -> str | None:
    if isinstance(orig, sqlite3.OperationalError):
        name = getattr(orig, "sqlite_errorname", "")
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in str(orig):
            return "busy"
        return None
    code = orig.args[0] if orig is not None and orig.args else None
    return _CONFLICT_CODES.get(code) if isinstance(code, int) else None


def _roll_back_conflict(context: ExceptionContext) -> None:
    """A conflict ends the transaction: roll it back on the connection at once. (A failed
    COMMIT leaves SQLite's transaction open, and the pool does not roll back a connection
    whose transaction SQLAlchemy has seen end.)"""
    if context.connection is None or _driver_conflict(context.original_exception) is None:
        return
    try:
        context.connection.connection.dbapi_connection.rollback()  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001 - a connection that cannot roll back is not reused
        context.connection.invalidate()


def unit_of_work(view: Callable[..., Any]) -> Callable[..., Any]:
    """Commit what `view` wrote through `session()` once it returns (the only commit of
    a request). When it raises, nothing is committed (the error handlers close the session,
    which rolls it back, before the error response is built), unless the error says the
    refusal is itself an outcome to keep (`ApiError.keeping_work`).

    When the database aborts the transaction to resolve a conflict, the attempt is rolled
    back and forgotten (its session, what it kept in `g`, its `when_committed` and
    `when_work_ends` callbacks) and the view runs again, whole, after a jittered pause: every
    condition is judged again, the body parsed again from Flask's cache. Once the retry time
    is spent: `ConflictPersisted` (503)."""

    retried = getattr(view, "retry_conflicts", True)

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        found = g._get_current_object()  # once, not through the proxy at each use
        before = set(found.__dict__)
        retries = 0
        while True:
            try:
                return _attempt(view, args, kwargs, found)
            except SQLAlchemyError as error:
                cause = conflict_cause(error)
                if cause is None:
                    raise
                _forget_attempt(before)
                deadline = started + current_app.extensions["db_retry_seconds"]
                if not retried:
                    log.info("database conflict answered, not retried: %s", cause)
                    raise ConflictNotRetried(cause) from None
                ceiling = min(_MOST_DELAY, _FIRST_DELAY * 2**retries)
                pause = ceiling * (0.5 + random.random() / 2)  # noqa: S311 - jitter, no secret
                if time.monotonic() + pause >= deadline:
                    log.warning("database conflict persisted: %s", cause)
                    raise ConflictPersisted(cause) from None
                retries += 1
                metrics.db_retried(cause)
                time.sleep(pause)

    return wrapper


def _attempt(view: Callable[..., Any], args: Any, kwargs: Any, found: Any) -> Any:
    try:
        response = view(*args, **kwargs)
    except Exception as error:
        if getattr(error, "keep_work", False):  # a refusal that is itself an outcome
            _commit(found)
        raise
    _commit(found)
    return response


def _forget_attempt(before: set[str]) -> None:
    """Roll the failed attempt back and drop what it left in `g`, callbacks included."""
    g.pop("db_when_committed", None)
    g.pop("db_when_work_ends", None)
    s = g.pop("db_session", None)
    if s is not None:
        s.close()
    conn = g.pop("db_reader", None)
    if conn is not None:
        conn.close()
    for name in set(g) - before:
        g.pop(name, None)


def when_work_ends(callback: Callable[[], None]) -> None:
    """Run `callback` once the request's unit of work has committed or rolled back.

    For side-connection writes that follow the request's own writes: on SQLite a side
    connection would otherwise wait for the lock its own request holds.
    """
    g.setdefault("db_when_work_ends", []).append(callback)


def when_committed(callback: Callable[[], None]) -> None:
    """Run `callback` once the request's unit of work has committed (never if it is rolled
    back): for what counts an outcome only once it is kept, such as a started session."""
    g.setdefault("db_when_committed", []).append(callback)


def _end_of_work(found: Any = None) -> None:
    found = found if found is not None else _request_globals()
    for callback in found.pop("db_when_work_ends", []) if found is not None else []:
        try:
            callback()
        except SQLAlchemyError as error:  # the answer is already decided
            log.warning("after-work step failed: %s", type(error).__name__)


def insert_or_ignore(conn: Connection, table: Any, values: dict[str, Any]) -> bool:
    """Insert a row unless one with its key exists (atomic on every backend); whether it
    was inserted. A concurrent insert of the same key waits for the first to end."""
    statement: Any
    if conn.dialect.name == "mysql":
        statement = mysql.insert(table).values(values).prefix_with("IGNORE")
    else:
        statement = sqlite.insert(table).values(values).on_conflict_do_nothing()
    return bool(conn.execute(statement).rowcount == 1)


def _commit(found: Any) -> None:
    """Commit the unit of work kept in `found` (the request's `g`), then its callbacks."""
    work: Session | None = found.get("db_session")
    if work is not None and work.in_transaction():
        work.commit()
    for callback in found.pop("db_when_committed", []):
        callback()
    _end_of_work(found)


@contextmanager
def side_connection() -> Iterator[Connection]:
    """A short transaction of its own, committed when the block ends, whatever becomes of
    the request's unit of work: for counters that must count a failed attempt."""
    side: Engine = current_app.extensions["db_side"]
    with side.begin() as conn:
        yield conn


def close_request_connections(_exc: BaseException | None = None) -> None:
    """End the request's session (rolling back what was not committed) and its reader.

    Runs at teardown, and earlier from the error handlers so a failed request gives its
    connection back before its error response is built."""
    found = _request_globals()
    if found is None:
        return
    s = found.pop("db_session", None)
    if s is not None:
        s.close()
    found.pop("db_when_committed", None)  # rolled back: what they would count did not happen
    conn = found.pop("db_reader", None)
    if conn is not None:
        conn.close()  # autocommit: closing sends nothing to the server, so it cannot fail
    _end_of_work(found)


def ping() -> bool:
    try:
        with engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's config goes through ConfigParser interpolation: escape '%'. The URL as
    # given: migrations/env.py connects as the service does (to one of several hosts).
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)
