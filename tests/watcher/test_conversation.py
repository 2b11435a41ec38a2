"""The watcher's conversation with the Kubernetes API server and the catalog, request by request.

The API-server side is scripted with pytest-httpserver because no kube-apiserver can run here. The
catalog side is also a pytest-httpserver here so that its answers (503, 400, running/succeeded) can
be scripted; the real catalog can run here and tests/watcher/test_end_to_end.py uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.support.fake_api import COLLECTION, Script, Store, gone, resource, serve, stream, wait_until
from tests.support.fake_catalog import API_KEY, DIGEST, FakeCatalog, json_response
from watcher.app import Watcher


def test_list_watch_bookmark_timeout_error_gone_relist_resume(
    kube_server: HTTPServer, catalog_server: HTTPServer, start_watcher: Callable[..., Watcher]
) -> None:
    store, catalog = Store(), FakeCatalog()
    store.put(resource("oom"))

    def first_list(request: Request) -> Response:
        return store.list_answer()

    def bookmark_then_timeout(request: Request) -> Response:
        return stream([{"type": "BOOKMARK", "object": {"kind": "RemediationWorkflow",
                                                       "apiVersion": "kubernaut.ai/v1alpha1",
                                                       "metadata": {"resourceVersion": "500"}}}])

    def server_error(request: Request) -> Response:
        return json_response(500, {"kind": "Status", "code": 500, "reason": "InternalError"})

    def expired(request: Request) -> Response:
        return gone()

    def relist_after_a_gap(request: Request) -> Response:
        # The first registration finishes before the API server answers; "bad" was created while
        # the watch was broken, so only the relist reveals it.
        store.wait_for(lambda s: s.status("oom").get("phase") == "Registered")
        store.put(resource("bad"))
        return store.list_answer()

    def spec_change_then_delete(request: Request) -> Response:
        def events() -> Any:
            yield {"type": "MODIFIED", "object": store.change_spec("oom", version="2.0.0")}
            # Two resources go to two workers; wait for oom's generation-2 delivery so the order is fixed.
            wait_until(lambda: len(catalog.posts) >= 4)
            store.wait_for(lambda s: s.status("bad").get("phase") == "Failed")
            yield {"type": "DELETED", "object": store.delete("bad")}
        return stream(events())

    script = Script([first_list, bookmark_then_timeout, server_error, expired, relist_after_a_gap,
                     spec_change_then_delete])
    serve(kube_server, store, script)
    catalog.serve(catalog_server)

    start_watcher(kube_server.url_for(""), catalog_server.url_for(""), watch_timeout=5)
    wait_until(lambda: len(catalog.posts) == 5 and store.status("oom").get("observedGeneration") == 2
               and store.status("oom").get("phase") == "Registered")
    wait_until(lambda: len(script.requests) == 7)  # the watch after the last scripted one is open
    script.released.set()

    # Every request to the API server's collection, in order.
    requests = [(path, {k: v for k, v in args.items() if k != "timeoutSeconds"}) for path, args in script.requests]
    list_ = (COLLECTION, {"limit": "500"})

    def watch(resource_version: str) -> tuple[str, dict[str, str]]:
        return COLLECTION, {"watch": "True", "resourceVersion": resource_version, "allowWatchBookmarks": "True"}

    first_rv = "11"  # the store's revision when the first list was answered
    assert requests == [
        list_,
        watch(first_rv),      # answered with a bookmark, then the server timed the watch out
        watch("500"),         # resumed from the bookmark; the server failed with a 500
        watch("500"),         # after a backoff, the same resourceVersion again; answered 410 Gone
        list_,                # so the watcher relisted ...
        watch(requests[5][1]["resourceVersion"]),  # ... and watched from the list's resourceVersion
        watch(requests[6][1]["resourceVersion"]),  # resumed from the DELETED event's resourceVersion
    ]
    assert int(requests[5][1]["resourceVersion"]) < int(requests[6][1]["resourceVersion"])
    for _, args in script.requests:
        if "watch" in args:  # server-side timeout randomised in [watch_timeout, 2 * watch_timeout]
            assert 5 <= int(args["timeoutSeconds"]) <= 10

    # The catalog saw each delivery once (plus the retried 503), authenticated and correlated.
    deliveries = [(body["event"], body["object"]["metadata"]["name"], body["object"]["metadata"]["generation"])
                  for body, _ in catalog.posts]
    # Two workers deliver "bad" (revealed by the relist) and oom's generation 2 at the same time, so only the
    # order per resource is fixed.
    assert len(deliveries) == 5
    assert [d for d in deliveries if d[1] == "oom"] == [("ADDED", "oom", 1), ("ADDED", "oom", 1), ("MODIFIED", "oom", 2)]
    assert [d for d in deliveries if d[1] == "bad"] == [("ADDED", "bad", 1), ("DELETED", "bad", 1)]
    for body, headers in catalog.posts:
        assert headers["Authorization"] == f"Bearer {API_KEY}"
        assert headers["X-Correlation-Id"].startswith(body["object"]["metadata"]["uid"])
        assert body["object"]["spec"]["image"].startswith("ghcr.io/acme/")
    assert catalog.gets == ["reg-oom-1-added", "reg-oom-1-added", "reg-oom-2-modified", "reg-oom-2-modified"]

    # Status patches: merge patches of the status subresource only, in order per resource.
    for _, content_type, query, body in store.patches:
        assert content_type == "application/merge-patch+json"
        assert query == "fieldManager=remediation-workflow-watcher"
        assert set(body) == {"status"}
    oom = [body["status"] for name, _, _, body in store.patches if name == "oom"]
    assert [(s["phase"], s["observedGeneration"]) for s in oom] == [
        ("Pending", 1), ("Registered", 1), ("Pending", 2), ("Registered", 2)]
    assert oom[0]["registrationId"] == "reg-oom-1-added" and oom[0]["imageDigest"] is None
    final = store.status("oom")
    assert final["imageDigest"] == DIGEST and final["shortDigest"] == "sha256:" + "ab" * 6
    assert final["catalogVersion"] == "2.0.0" and final["workflowId"] == "oom"
    (ready,) = final["conditions"]
    assert (ready["type"], ready["status"], ready["reason"], ready["observedGeneration"]) == ("Ready", "True",
                                                                                            "Registered", 2)
    bad = [body["status"] for name, _, _, body in store.patches if name == "bad"]
    assert [s["phase"] for s in bad] == ["Failed"]
    assert bad[0]["conditions"][0]["reason"] == "Invalid"
    assert "$.spec.labels.Team: label keys are lower_snake_case" in bad[0]["message"]
