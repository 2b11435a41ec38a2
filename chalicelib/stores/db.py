"""PostgreSQL connections: one per thread, opened lazily, reopened after a failure.

A Lambda execution environment serves one request at a time, so it holds one connection;
``chalice local`` and ``make run`` serve on threads, so each thread gets its own. Connections
are never shared between threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg2
import psycopg2.extensions
import psycopg2.extras
from pgvector.psycopg2 import register_vector

from chalicelib.domain.errors import ServiceUnavailable

ConnectionFactory = Callable[[], "psycopg2.extensions.connection"]

STATEMENT_TIMEOUT_MS = 10_000


def dsn_factory(dsn: str | Callable[[], str]) -> ConnectionFactory:
    """Connections to ``dsn`` (or to the DSN a callable returns each time, for expiring IAM tokens)."""

    def connect() -> psycopg2.extensions.connection:
        target = dsn() if callable(dsn) else dsn
        conn = psycopg2.connect(
            target,
            connect_timeout=5,
            application_name="workflow-catalog",
            options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        )
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
            has_vector = cur.fetchone() is not None
        if has_vector:
            register_vector(conn)
        return conn

    return connect


class Database:
    """Hands out this thread's connection and runs transactions on it."""

    def __init__(self, connect: ConnectionFactory) -> None:
        self._connect = connect
        self._local = threading.local()

    def _connection(self) -> psycopg2.extensions.connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            try:
                conn = self._connect()
            except psycopg2.OperationalError as exc:
                raise ServiceUnavailable("The catalog database is not reachable; try again shortly.") from exc
            self._local.conn = conn
        return conn

    def reset(self) -> None:
        """Drops this thread's connection (after a failure, or to pick up a newly created extension)."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None and not conn.closed:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[psycopg2.extras.RealDictCursor]:
        """A cursor inside one transaction: committed on success, rolled back on any error."""
        conn = self._connection()
        try:
            conn.autocommit = False
            with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                yield cur
            conn.commit()
        except psycopg2.OperationalError as exc:
            # A lost connection, or a deadlock / serialization failure on a live one: either way the
            # transaction did nothing and the client may retry.
            if conn.closed:
                self.reset()
            else:
                conn.rollback()
            raise ServiceUnavailable("The catalog database could not complete the request; try again.") from exc
        except BaseException:
            if not conn.closed:
                conn.rollback()
            raise
        finally:
            if not conn.closed:
                conn.autocommit = True

    @contextmanager
    def cursor(self) -> Iterator[psycopg2.extras.RealDictCursor]:
        """A cursor in autocommit mode, for single statements."""
        conn = self._connection()
        try:
            with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                yield cur
        except psycopg2.OperationalError as exc:
            self.reset()
            raise ServiceUnavailable("The catalog database connection failed; try again.") from exc

    def ping(self) -> bool:
        try:
            with self.cursor() as cur:
                cur.execute("SELECT 1")
                return True
        except (ServiceUnavailable, psycopg2.Error):
            self.reset()
            return False
