"""Following registrations never holds a worker: slow registrations do not delay anything else.

Scripted API server and catalog as in test_conversation.py (no kube-apiserver can run here).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.support.fake_api import Script, Store, resource, serve, stream, wait_until
from tests.support.fake_catalog import FakeCatalog
from watcher.app import WORKERS, Watcher


def test_slow_registrations_do_not_delay_an_unrelated_delivery(
    kube_server: HTTPServer, catalog_server: HTTPServer, start_watcher: Callable[..., Watcher]
) -> None:
    store, catalog = Store(), FakeCatalog()
    catalog.post_failures = 0
    slow = [f"slow{n}" for n in range(2 * WORKERS)]  # twice as many running registrations as workers
    for name in slow:
        store.put(resource(name))
    quick_created: list[float] = []

    def first_list(request: Request) -> Response:
        return store.list_answer()

    def an_unrelated_resource_while_all_are_running(request: Request) -> Response:
        def events() -> Iterator[dict[str, Any]]:
            # Every slow registration is accepted, Pending and was looked at: a worker that waited for its
            # registration would be busy now, and all of them would be.
            store.wait_for(lambda s: all(s.status(name).get("phase") == "Pending" for name in slow))
            wait_until(lambda: all(catalog.polls.get(f"reg-{name}-1-added", 0) >= 1 for name in slow))
            quick_created.append(time.monotonic())
            yield {"type": "ADDED", "object": store.put(resource("quick"))}
        return stream(events())

    script = Script([first_list, an_unrelated_resource_while_all_are_running])
    serve(kube_server, store, script)
    catalog.serve(catalog_server)
    watcher = start_watcher(kube_server.url_for(""), catalog_server.url_for(""))
    watcher.reconciler.max_poll_seconds = 1.0  # so the slow ones finish soon once released

    # "quick" needs two looks (running, then succeeded: 0.5 s + 1 s apart). Workers that each followed a
    # registration until it finished would hold "quick" until a slow one ends, which here is never.
    store.wait_for(lambda s: s.status("quick").get("phase") == "Registered", timeout=6)
    assert time.monotonic() - quick_created[0] < 6
    assert all(store.status(name)["phase"] == "Pending" for name in slow)
    # Requeued with a growing delay, not polled in a loop.
    assert max(catalog.polls[f"reg-{name}-1-added"] for name in slow) <= 8

    catalog.slow_jobs_finish.set()
    store.wait_for(lambda s: all(s.status(name).get("phase") == "Registered" for name in slow), timeout=10)
    script.released.set()
    # Same outcome as when workers waited: each resource posted once, Pending then the outcome.
    posted = sorted(body["object"]["metadata"]["name"] for body, _ in catalog.posts)
    assert posted == sorted([*slow, "quick"])
    for name in [*slow, "quick"]:
        phases = [body["status"]["phase"] for patched, _, _, body in store.patches if patched == name]
        assert phases == ["Pending", "Registered"], name
