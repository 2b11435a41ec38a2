"""PostgreSQL connections: a small bounded pool, transactions on it, and fast failure when the database is down.

A Lambda execution environment serves one request at a time, so it holds one connection
(``max_connections=1``, the default there). ``make run`` serves requests and registration jobs on
threads: they share up to ``DATABASE_POOL_SIZE`` connections; a thread waits (bounded) for a free
one instead of failing, and never shares one with another thread while it holds it. A thread that
already holds a connection gets the same one again for nested use, as the service code expects.

Written here rather than taken from psycopg2.pool: its pools raise at once when exhausted (no
waiting), never check a connection before reuse, and know nothing of a database restart.

Failure handling:
- A connection that broke (server restart, network) is discarded, and every idle connection of that
  moment is checked with a cheap ``SELECT 1`` before its next use, so one restart costs at most the
  request that met it.
- After a failed connect, requests fail fast with 503 + Retry-After for ``RETRY_AFTER_SECONDS``
  instead of each waiting for the connect timeout; then the next request tries again.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, TextIO

import psycopg2
import psycopg2.extensions
import psycopg2.extras
from pgvector.psycopg2 import register_vector

from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.domain.rows import Row

ConnectionFactory = Callable[[], "psycopg2.extensions.connection"]

STATEMENT_TIMEOUT_MS = 10_000
CONNECT_TIMEOUT_SECONDS = 2  # libpq's smallest useful value; a database that does not answer costs this much
ACQUIRE_TIMEOUT_SECONDS = 5.0  # how long a request waits for a free pooled connection
RETRY_AFTER_SECONDS = 2  # fail fast for this long after a failed connect, and tell clients to come back then
IDLE_CHECK_SECONDS = 30.0  # a connection idle longer than this is checked before reuse


def dsn_factory(dsn: str | Callable[[], str]) -> ConnectionFactory:
    """Connections to ``dsn`` (or to the DSN a callable returns each time, for expiring IAM tokens)."""

    def connect() -> psycopg2.extensions.connection:
        target = dsn() if callable(dsn) else dsn
        conn = psycopg2.connect(
            target,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="workflow-catalog",
            options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            # Over TCP (RDS, RDS Proxy), a peer that vanished is noticed within seconds instead of the
            # kernel's retransmission timeout; libpq ignores these on Unix sockets (the embedded server).
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
            tcp_user_timeout=STATEMENT_TIMEOUT_MS + 5_000,
        )
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
            has_vector = cur.fetchone() is not None
        if has_vector:
            register_vector(conn)
        return conn

    return connect


def default_pool_size() -> int:
    """One connection in a Lambda execution environment (one request at a time), a few for local threads."""
    return 1 if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else 10


class UnitOfWork:
    """One transaction (or, from ``Database.reading``, autocommit statements on one connection).

    Services hand it to store functions to make several of them one atomic write; only store modules
    run SQL on it (``execute`` and friends), so no cursor crosses a service boundary.
    """

    def __init__(self, cursor: psycopg2.extras.RealDictCursor) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Any = None) -> None:
        self._cursor.execute(sql, params)

    def fetchone(self) -> Row | None:
        return self._cursor.fetchone()

    def fetchall(self) -> Sequence[Row]:
        return self._cursor.fetchall()

    def one(self) -> Row:
        """The row a statement always returns (an aggregate, or RETURNING of a row the caller holds)."""
        row = self._cursor.fetchone()
        if row is None:
            raise LookupError("the statement returned no row")
        return row

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def copy_from_csv(self, sql: str, data: TextIO) -> None:
        self._cursor.copy_expert(sql, data)


@dataclass
class _Idle:
    conn: psycopg2.extensions.connection
    since: float  # time.monotonic() when it was returned
    epoch: int  # the pool's epoch when it was returned


class Database:
    """Hands out pooled connections and runs transactions on them."""

    def __init__(
        self,
        connect: ConnectionFactory,
        max_connections: int | None = None,
        acquire_timeout: float = ACQUIRE_TIMEOUT_SECONDS,
    ) -> None:
        self._connect = connect
        self.max_connections = max_connections or default_pool_size()
        self._acquire_timeout = acquire_timeout
        self._slots = threading.BoundedSemaphore(self.max_connections)
        self._lock = threading.Lock()
        self._idle: list[_Idle] = []
        self._epoch = 0  # bumped when connections may be stale (a failure seen, or reset())
        self._down_until = 0.0  # monotonic time until which connects are not attempted
        self._held = threading.local()  # this thread's connection and nesting depth

    # --- connections -------------------------------------------------------------------------
    @contextmanager
    def _connection(self) -> Iterator[psycopg2.extensions.connection]:
        held = getattr(self._held, "conn", None)
        if held is not None:  # nested use on this thread: the same connection (and transaction)
            yield held
            return
        if not self._slots.acquire(timeout=self._acquire_timeout):
            raise ServiceUnavailable("The catalog is busy; every database connection is in use. Try again shortly.")
        conn = None
        try:
            conn = self._checkout()
            self._held.conn = conn
            yield conn
        finally:
            self._held.conn = None
            if conn is not None:
                self._checkin(conn)
            self._slots.release()

    def _checkout(self) -> psycopg2.extensions.connection:
        while True:
            with self._lock:
                idle = self._idle.pop() if self._idle else None
                epoch = self._epoch
            if idle is None:
                return self._open()
            stale = idle.epoch != epoch or time.monotonic() - idle.since > IDLE_CHECK_SECONDS
            if idle.conn.closed or (stale and not _alive(idle.conn)):
                _close(idle.conn)
                continue
            return idle.conn

    def _open(self) -> psycopg2.extensions.connection:
        if time.monotonic() < self._down_until:
            raise _unavailable("The catalog database is not reachable; try again shortly.")
        try:
            return self._connect()
        except psycopg2.OperationalError as exc:
            with self._lock:
                self._down_until = time.monotonic() + RETRY_AFTER_SECONDS
                self._epoch += 1
            raise _unavailable("The catalog database is not reachable; try again shortly.") from exc

    def _checkin(self, conn: psycopg2.extensions.connection) -> None:
        broken = conn.closed or conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE
        with self._lock:
            if broken:
                self._epoch += 1  # whatever broke this one may have broken the idle ones too
            else:
                self._idle.append(_Idle(conn, time.monotonic(), self._epoch))
                return
        _close(conn)

    def reset(self) -> None:
        """Closes every idle connection (after migrations, so new ones register newly created types)."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._epoch += 1
        for entry in idle:
            _close(entry.conn)

    def close(self) -> None:
        """Closes the idle connections; connections in use close when they are returned."""
        self.reset()

    # --- statements --------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        """One transaction: committed on success, rolled back on any error."""
        with self._connection() as conn:
            nested = not conn.autocommit
            if nested:  # already inside this thread's transaction: take part in it
                with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                    yield UnitOfWork(cur)
                return
            try:
                conn.autocommit = False
                with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                    yield UnitOfWork(cur)
                conn.commit()
            except psycopg2.OperationalError as exc:
                # A lost connection, or a deadlock / serialization failure on a live one: either way the
                # transaction did nothing and the client may retry.
                self._rollback_or_discard(conn)
                raise _unavailable("The catalog database could not complete the request; try again.") from exc
            except psycopg2.InterfaceError as exc:  # the connection was already closed under us
                raise _unavailable("The catalog database connection failed; try again.") from exc
            except BaseException:
                self._rollback_or_discard(conn)
                raise
            finally:
                if not conn.closed:
                    conn.autocommit = True

    @contextmanager
    def reading(self) -> Iterator[UnitOfWork]:
        """Statements in autocommit mode, for reads and single writes (or the current transaction when nested)."""
        with self._connection() as conn:
            try:
                with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                    yield UnitOfWork(cur)
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                # A lost connection is closed by now (check-in discards it); a cancelled statement
                # leaves a usable one.
                raise _unavailable("The catalog database could not complete the request; try again.") from exc

    def _rollback_or_discard(self, conn: psycopg2.extensions.connection) -> None:
        if conn.closed:
            return
        try:
            conn.rollback()
        except psycopg2.Error:
            _close(conn)  # check-in discards it

    def ping(self) -> bool:
        try:
            with self.reading() as uow:
                uow.execute("SELECT 1")
                return True
        except (ServiceUnavailable, psycopg2.Error):
            return False


def _alive(conn: psycopg2.extensions.connection) -> bool:
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        return True
    except psycopg2.Error:
        return False


def _close(conn: psycopg2.extensions.connection) -> None:
    with suppress(psycopg2.Error):
        conn.close()


def _unavailable(detail: str) -> ServiceUnavailable:
    return ServiceUnavailable(detail, retry_after=RETRY_AFTER_SECONDS)
