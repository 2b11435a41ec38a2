"""A watcher (re)started while a registration is in flight follows it instead of registering again.

Scripted API server and catalog as in test_conversation.py (no kube-apiserver can run here).
"""

from __future__ import annotations

from collections.abc import Callable

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.support.fake_api import Script, Store, resource, serve, wait_until
from tests.support.fake_catalog import DIGEST, FakeCatalog
from watcher.app import Watcher


def test_pending_registration_is_followed_not_reposted_until_it_finishes(
    kube_server: HTTPServer, catalog_server: HTTPServer, start_watcher: Callable[..., Watcher]
) -> None:
    store, catalog = Store(), FakeCatalog()
    catalog.post_failures = 0
    # What a previous watcher left behind: accepted by the catalog, Pending, then the pod died.
    in_flight = resource("oom")
    in_flight["status"] = {"phase": "Pending", "observedGeneration": 1, "registrationId": "reg-oom-1-added"}
    store.put(in_flight)
    # Up to date: nothing to send for it.
    done = resource("crash")
    done["status"] = {"phase": "Registered", "observedGeneration": 1, "registrationId": "reg-crash-1-added"}
    store.put(done)

    def first_list(request: Request) -> Response:
        return store.list_answer()

    script = Script([first_list])
    serve(kube_server, store, script)
    catalog.serve(catalog_server)

    # The catalog's job is still running at the first look: the key is requeued and looked at again.
    start_watcher(kube_server.url_for(""), catalog_server.url_for(""))
    store.wait_for(lambda s: s.status("oom").get("phase") == "Registered", timeout=10)
    script.released.set()

    assert catalog.posts == []
    assert catalog.gets == ["reg-oom-1-added", "reg-oom-1-added"]
    assert [name for name, *_ in store.patches] == ["oom"]
    status = store.status("oom")
    assert (status["registrationId"], status["imageDigest"], status["observedGeneration"]) == (
        "reg-oom-1-added", DIGEST, 1)


def test_catalog_outage_is_retried_until_it_answers(
    kube_server: HTTPServer, catalog_server: HTTPServer, start_watcher: Callable[..., Watcher]
) -> None:
    store, catalog = Store(), FakeCatalog()
    catalog.post_failures = 6  # more than one call's retries (5 attempts): the work queue retries later
    store.put(resource("oom"))
    script = Script([lambda request: store.list_answer()])
    serve(kube_server, store, script)
    catalog.serve(catalog_server)

    watcher = start_watcher(kube_server.url_for(""), catalog_server.url_for(""))
    watcher.reconciler.catalog.backoff = 0.01
    store.wait_for(lambda s: s.status("oom").get("phase") == "Registered", timeout=20)
    script.released.set()
    assert len(catalog.posts) == 7
    wait_until(lambda: watcher.health.ready()[0])


def test_a_pending_registration_the_catalog_lost_is_delivered_again(
    kube_server: HTTPServer, catalog_server: HTTPServer, start_watcher: Callable[..., Watcher]
) -> None:
    store, catalog = Store(), FakeCatalog()
    catalog.post_failures = 0
    lost = resource("oom")
    lost["status"] = {"phase": "Pending", "observedGeneration": 1, "registrationId": "0b7f-lost"}
    store.put(lost)
    script = Script([lambda request: store.list_answer()])
    serve(kube_server, store, script)
    catalog.serve(catalog_server)

    start_watcher(kube_server.url_for(""), catalog_server.url_for(""))
    store.wait_for(lambda s: s.status("oom").get("phase") == "Registered")
    script.released.set()
    assert [body["event"] for body, _ in catalog.posts] == ["MODIFIED"]
    assert catalog.gets[0] == "0b7f-lost"
    assert store.status("oom")["registrationId"] == "reg-oom-1-modified"
