"""List pages stop before a response would outgrow Lambda's 6 MB limit, and paging still covers all."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.http import paging
from tests.executions.helpers import create_workflow, started
from tests.integration.test_playbooks_api import BASE, create
from tests.support.api import ApiClient


def walk(client: ApiClient, path: str, key: Callable[[dict[str, Any]], str]) -> list[list[str]]:
    """Every page of a list (limit 200), as the keys of its items."""
    pages, cursor = [], None
    while True:
        separator = "&" if "?" in path else "?"
        body = client.get(f"{path}{separator}limit=200" + (f"&cursor={cursor}" if cursor else "")).json
        pages.append([key(item) for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def flat(pages: list[list[str]]) -> list[str]:
    return [key for page in pages for key in page]


@pytest.fixture
def small_budget(monkeypatch: pytest.MonkeyPatch) -> Callable[[list[Any]], None]:
    """Sets the budget to hold about two of the given items."""

    def set_for(items: list[Any]) -> None:
        one = max(len(json.dumps(item)) for item in items)
        monkeypatch.setattr(paging, "RESPONSE_BUDGET_BYTES", 2 * one + one // 2)

    return set_for


def test_workflow_list_and_history_split_by_size(client: ApiClient, small_budget: Any) -> None:
    for index in range(7):
        create(client, "1.0.0", workflow_id=f"wf-{index}")
    for minor in range(5):
        create(client, f"1.{minor + 1}.0", title=f"t{minor}")
    small_budget(client.get(f"{BASE}?limit=200").json["items"])
    pages = walk(client, BASE, lambda item: item["workflow_id"])
    assert len(pages) == 4 and all(len(page) <= 2 for page in pages)
    assert flat(pages) == ["oomkill-increase-memory"] + [f"wf-{i}" for i in range(7)]
    history = walk(client, f"{BASE}/oomkill-increase-memory/versions", lambda item: item["version"])
    assert len(history) > 1
    assert flat(history) == ["1.5.0", "1.4.0", "1.3.0", "1.2.0", "1.1.0"]


def test_execution_list_splits_by_size(client: ApiClient, small_budget: Any) -> None:
    create_workflow(client)
    ids = [started(client)["execution_id"] for _ in range(6)]
    small_budget(client.get("/api/v1/executions?limit=200").json["items"])
    pages = walk(client, "/api/v1/executions", lambda item: item["execution_id"])
    assert len(pages) == 3 and all(len(page) == 2 for page in pages)
    assert sorted(flat(pages)) == sorted(ids)
