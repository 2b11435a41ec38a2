"""Reconciliation with the catalog after every complete list and on every resync.

Scripted API server and catalog as in test_conversation.py: no kube-apiserver can run here, and the
catalog's side of ``POST /api/v1/registrations/reconcile`` is built separately, so its answers
(disabled, stale, a catalog without the endpoint) are scripted by tests/support/fake_catalog.py.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.support.fake_api import GROUP_PATH, Script, Store, gone, resource, serve, wait_until
from tests.support.fake_catalog import API_KEY, FakeCatalog
from watcher.app import Watcher
from watcher.livesync import LiveSync


def registered(name: str, namespace: str = "team-a") -> dict[str, Any]:
    """A resource whose status says generation 1 is registered: nothing to deliver for it."""
    obj = resource(name, namespace=namespace)
    obj["status"] = {"phase": "Registered", "observedGeneration": 1, "registrationId": f"reg-{name}-1-added"}
    return obj


def live(*names: str, namespace: str = "team-a") -> list[dict[str, Any]]:
    return [{"uid": f"uid-{name}", "namespace": namespace, "name": name, "generation": 1} for name in names]


def test_the_live_set_is_reported_after_the_first_list_and_after_a_relist(
    kube_server: HTTPServer, catalog_server: HTTPServer, start_watcher: Callable[..., Watcher]
) -> None:
    store, catalog = Store(), FakeCatalog()
    catalog.post_failures = 0
    store.put(registered("oom"))
    store.put(registered("disk"))

    def first_list(request: Request) -> Response:
        return store.list_answer()

    def gone_after_the_first_reconciliation(request: Request) -> Response:
        wait_until(lambda: len(catalog.reconciles) == 1)
        store.delete("disk")  # while the watch is broken: only the relist shows it
        return gone()

    def relist(request: Request) -> Response:
        return store.list_answer()

    script = Script([first_list, gone_after_the_first_reconciliation, relist])
    serve(kube_server, store, script)
    catalog.serve(catalog_server)
    start_watcher(kube_server.url_for(""), catalog_server.url_for(""))
    wait_until(lambda: len(catalog.reconciles) == 2 and len(catalog.posts) == 1)
    script.released.set()

    assert [body for body, _, _ in catalog.reconciles] == [
        {"scope": {"namespace": None}, "live": live("disk", "oom")},  # all namespaces: null
        {"scope": {"namespace": None}, "live": live("oom")},
    ]
    for _, headers, _ in catalog.reconciles:
        assert headers["Authorization"] == f"Bearer {API_KEY}"
        assert headers["X-Correlation-Id"].startswith("reconcile.")
    # The deletion the relist revealed is still forwarded as an event.
    assert [(body["event"], body["object"]["metadata"]["name"]) for body, _ in catalog.posts] == [("DELETED", "disk")]


def test_the_scope_is_the_watched_namespace_and_every_resync_reconciles(
    kube_server: HTTPServer, catalog_server: HTTPServer, start_watcher: Callable[..., Watcher]
) -> None:
    store, catalog = Store(), FakeCatalog()
    store.put(registered("oom", namespace="team-b"))
    script = Script([lambda request: store.list_answer()])
    kube_server.expect_request(f"{GROUP_PATH}/namespaces/team-b/remediationworkflows",
                               method="GET").respond_with_handler(script)
    catalog.serve(catalog_server)
    start_watcher(kube_server.url_for(""), catalog_server.url_for(""), namespace="team-b", resync_seconds=1.0)
    wait_until(lambda: len(catalog.reconciles) >= 2)
    script.released.set()

    assert [path for path, args in script.requests if "watch" not in args] == [
        f"{GROUP_PATH}/namespaces/team-b/remediationworkflows"]  # listed once: the second came from the resync
    for body, _, _ in catalog.reconciles[:2]:
        assert body == {"scope": {"namespace": "team-b"}, "live": live("oom", namespace="team-b")}


def test_stale_resources_are_delivered_again_and_the_outcome_is_logged(
    kube_server: HTTPServer, catalog_server: HTTPServer, start_watcher: Callable[..., Watcher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="watcher")
    store, catalog = Store(), FakeCatalog()
    catalog.post_failures = 0
    store.put(registered("oom"))
    store.put(registered("disk"))
    # The catalog lost oom's generation (e.g. restored from a backup) and disabled a workflow whose
    # resource was deleted while no watcher ran.
    catalog.stale, catalog.disabled = ["uid-oom"], ["cert-renewal"]
    script = Script([lambda request: store.list_answer()])
    serve(kube_server, store, script)
    catalog.serve(catalog_server)
    start_watcher(kube_server.url_for(""), catalog_server.url_for(""))

    store.wait_for(lambda s: s.status("oom").get("registrationId") == "reg-oom-1-modified"
                   and s.status("oom").get("phase") == "Registered")
    script.released.set()
    # Delivered although its status said it was done; the other resource is left alone.
    assert [(body["event"], body["object"]["metadata"]["name"], body["object"]["metadata"]["generation"])
            for body, _ in catalog.posts] == [("MODIFIED", "oom", 1)]
    assert {name for name, *_ in store.patches} == {"oom"}

    (line,) = [record for record in caplog.records if record.getMessage() == "reconciled"]
    fields = line.fields  # type: ignore[attr-defined]
    assert fields["correlation_id"].startswith("reconcile.")
    assert {key: value for key, value in fields.items() if key != "correlation_id"} == {
        "scope": "*", "live_count": 2, "disabled_count": 1, "stale_count": 1, "disabled": ["cert-renewal"],
        "stale": ["uid-oom"]}


def test_a_failing_reconciliation_is_retried_with_backoff_and_delays_no_delivery(
    kube_server: HTTPServer, catalog_server: HTTPServer, start_watcher: Callable[..., Watcher],
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="watcher")
    monkeypatch.setattr(LiveSync, "first_retry_seconds", 0.1)
    store, catalog = Store(), FakeCatalog()
    catalog.post_failures = 0
    catalog.reconcile_missing = True  # a catalog that does not serve the endpoint (yet)
    store.put(resource("oom"))
    script = Script([lambda request: store.list_answer()])
    serve(kube_server, store, script)
    catalog.serve(catalog_server)
    start_watcher(kube_server.url_for(""), catalog_server.url_for(""))

    store.wait_for(lambda s: s.status("oom").get("phase") == "Registered")
    wait_until(lambda: len(catalog.reconciles) >= 4)
    catalog.reconcile_missing = False
    wait_until(lambda: any(record.getMessage() == "reconciled" for record in caplog.records))
    script.released.set()

    # Retried with a doubling delay (jittered between half and all of it): 0.1, 0.2, 0.4 s.
    times = [at for _, _, at in catalog.reconciles]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert gaps[2] > 2 * gaps[0], gaps
    failures = [record for record in caplog.records if record.getMessage() == "reconciliation failed, will retry"]
    assert len(failures) >= 3 and "no such route" in failures[0].fields["error"]  # type: ignore[attr-defined]
