"""Concurrent creates, as from many Lambda instances at once: each thread has its own connection."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib.container import services
from chalicelib.domain.errors import CatalogError
from chalicelib.domain.workflows import parse_new_version
from tests.support.catalog import workflow


def run_concurrently(bodies: list[dict[str, Any]]) -> list[str]:
    """Creates each body on its own thread (and so its own connection); returns 201/200/409 per body."""

    def create(body: dict[str, Any]) -> str:
        try:
            result = services().workflows.create_version(parse_new_version(body), "concurrency-test")
            return "201" if result.created else "200"
        except CatalogError as error:
            return str(error.status)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(create, bodies))


def test_twenty_identical_creates_give_one_201_and_nineteen_200(db: Any) -> None:
    outcomes = run_concurrently([workflow("1.0.0") for _ in range(20)])
    assert sorted(outcomes) == ["200"] * 19 + ["201"]
    with db.reading() as cur:
        cur.execute("SELECT count(*) AS n FROM workflow_versions")
        assert cur.fetchone()["n"] == 1


def test_concurrent_different_content_gives_one_201_and_409s(db: Any) -> None:
    outcomes = run_concurrently([workflow("1.0.0", title=f"title {i}") for i in range(20)])
    assert sorted(outcomes) == ["201"] + ["409"] * 19


def test_concurrent_versions_of_one_workflow_all_land(db: Any) -> None:
    outcomes = run_concurrently([workflow(f"1.{i}.0") for i in range(20)])
    assert outcomes == ["201"] * 20
    assert services().workflows.get_workflow("oomkill-increase-memory")["latest"]["version"] == "1.19.0"
