"""Migrations: applied once, in order, safely when several runners start together."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg2

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


def test_012_gives_todays_workflows_their_owner_from_their_source(database_url: str) -> None:
    """Workflows registered from a resource before clusters existed belong to its namespace in cluster "default";
    the others to the API."""
    url = fresh_database(database_url, "migration_ownership")
    files = migration_files()
    [ownership] = [path for path in files if path.name == "012_ownership.sql"]
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            for path in files[:files.index(ownership)]:
                cur.execute(path.read_text())
            cur.execute("""INSERT INTO workflows (workflow_id, source_uid, source_namespace, source_name,
                                                  source_generation, source_registered_at)
                           VALUES ('registered', 'uid-1', 'team-b', 'fix', 3, now()), ('rest-made', NULL, NULL, NULL,
                                   NULL, NULL)""")
            cur.execute("""INSERT INTO workflow_versions (workflow_id, version, major, minor, patch, prerelease_key,
                               title, description, labels, container_image, parameters, content_hash, status,
                               created_by, source)
                           VALUES ('registered', '1.0.0', 1, 0, 0, '~', 't', 'd', '{}', 'i@sha256:0', '{}',
                                   repeat('0', 64), 'active', 'watcher',
                                   '{"uid": "uid-1", "namespace": "team-b", "name": "fix", "generation": 3}')""")
        with conn, conn.cursor() as cur:
            cur.execute(ownership.read_text())
            cur.execute("SELECT workflow_id, owner_kind, owner_cluster, owner_namespace, source_cluster "
                        "FROM workflows ORDER BY workflow_id")
            assert cur.fetchall() == [("registered", "resource", "default", "team-b", "default"),
                                      ("rest-made", "api", None, None, None)]
            cur.execute("SELECT source ->> 'cluster' FROM workflow_versions")
            assert cur.fetchall() == [("default",)]
    finally:
        conn.close()
