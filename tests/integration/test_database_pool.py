"""The connection pool against the real database: bounded, waiting, re-entrant, and quick to give up
when the database is away (503 + Retry-After instead of a hang)."""

from __future__ import annotations

import threading
import time

import psycopg2
import pytest

from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.stores.db import CONNECT_TIMEOUT_SECONDS, RETRY_AFTER_SECONDS, Database, dsn_factory


@pytest.fixture
def pool(database_url: str) -> Database:
    return Database(dsn_factory(database_url), max_connections=2, acquire_timeout=0.5)


def backend_pid(db: Database) -> int:
    with db.reading() as cur:
        cur.execute("SELECT pg_backend_pid() AS pid")
        return cur.fetchone()["pid"]


def test_never_more_connections_than_the_bound_and_a_waiter_gets_one(pool: Database) -> None:
    seen: set[int] = set()
    inside = threading.Semaphore(0)
    release = threading.Event()

    def hold() -> None:
        with pool.reading() as cur:
            cur.execute("SELECT pg_backend_pid() AS pid")
            seen.add(cur.fetchone()["pid"])
            inside.release()
            release.wait(5)

    holders = [threading.Thread(target=hold) for _ in range(2)]
    for thread in holders:
        thread.start()
    inside.acquire()
    inside.acquire()
    began = time.monotonic()
    with pytest.raises(ServiceUnavailable) as busy:  # both connections held: a third waits, then 503
        backend_pid(pool)
    assert 0.4 < time.monotonic() - began < 2.0 and busy.value.retry_after > 0
    waiter = threading.Thread(target=lambda: seen.add(backend_pid(pool)))
    waiter.start()
    time.sleep(0.1)
    release.set()  # a connection comes back within the wait bound: the waiter gets it
    waiter.join(5)
    for thread in holders:
        thread.join(5)
    assert len(seen) == 2  # the waiter reused one of the two connections


def test_nested_use_on_one_thread_shares_the_connection_and_the_transaction(pool: Database) -> None:
    with pool.transaction() as cur:
        cur.execute("CREATE TEMP TABLE nested_probe (x int) ON COMMIT DROP")
        cur.execute("INSERT INTO nested_probe VALUES (1)")
        with pool.reading() as inner:  # sees the uncommitted row: same connection, same transaction
            inner.execute("SELECT count(*) AS n FROM nested_probe")
            assert inner.fetchone()["n"] == 1
        with pool.transaction() as inner:
            inner.execute("INSERT INTO nested_probe VALUES (2)")
        cur.execute("SELECT count(*) AS n FROM nested_probe")
        assert cur.fetchone()["n"] == 2


def test_a_connection_killed_under_it_is_replaced(pool: Database, database_url: str) -> None:
    pid = backend_pid(pool)
    admin = psycopg2.connect(database_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
    admin.close()
    with pytest.raises(ServiceUnavailable):  # the request that meets the dead connection
        backend_pid(pool)
    assert backend_pid(pool) != pid  # the next one gets a fresh connection


def test_an_unreachable_database_fails_fast_for_a_while() -> None:
    attempts: list[float] = []

    def refuse() -> psycopg2.extensions.connection:
        attempts.append(time.monotonic())
        raise psycopg2.OperationalError("connection refused")

    pool = Database(refuse, max_connections=4)
    with pytest.raises(ServiceUnavailable) as first:
        backend_pid(pool)
    assert first.value.retry_after == RETRY_AFTER_SECONDS
    began = time.monotonic()
    for _ in range(20):  # within the back-off window nobody tries to connect again, and nobody waits
        with pytest.raises(ServiceUnavailable):
            backend_pid(pool)
    assert len(attempts) == 1 and time.monotonic() - began < 0.5


def test_a_database_that_does_not_answer_costs_a_bounded_short_wait() -> None:
    """A server that accepts the connection and never speaks (frozen, or a black hole): the connect timeout
    bounds the first request, the back-off makes the next ones fail at once."""
    from tests.support.registry import hanging_server

    with hanging_server() as address:
        pool = Database(dsn_factory(f"postgresql://catalog@{address}/catalog"), max_connections=4)
        began = time.monotonic()
        with pytest.raises(ServiceUnavailable):
            backend_pid(pool)
        assert time.monotonic() - began < CONNECT_TIMEOUT_SECONDS + 1.5
        began = time.monotonic()
        with pytest.raises(ServiceUnavailable):
            backend_pid(pool)
        assert time.monotonic() - began < 0.2
