"""Migrations: applied once, in order, safely when several runners start together."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from chalicelib.stores.db import Database, dsn_factory
from chalicelib.stores.migrations import apply_migrations, migration_files
from tests.support.database import fresh_database


def test_concurrent_runners_apply_each_migration_exactly_once(database_url: str) -> None:
    url = fresh_database(database_url, "migration_race")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: apply_migrations(Database(dsn_factory(url))), range(4)))
    names = [path.name for path in migration_files()]
    assert sorted(results, key=len)[-1] == names  # one runner applied all of them
    assert sum(len(r) for r in results) == len(names)  # the others found nothing to do
    assert apply_migrations(Database(dsn_factory(url))) == []
