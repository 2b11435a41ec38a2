"""The watcher's pure parts: status computation, the work queue, configuration."""

from __future__ import annotations

import logging
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from watcher import reconciler as st
from watcher.catalog import Auth, CatalogUnavailable, answered_at
from watcher.config import ConfigError, load_config, setup_logging
from watcher.informer import Cache, Informer, WorkQueue
from watcher.resources import ResourceEvents, needs_work

DIGEST = "sha256:" + "0123456789ab" + "f" * 52


@pytest.mark.parametrize(
    ("error_type", "reason"),
    [("image-pull-failed", "ImagePullFailed"), ("https://catalog.example/problems/schema-missing", "SchemaMissing"),
     ("signature_invalid", "SignatureInvalid"), ("content-conflict", "ContentConflict"), (None, "RegistrationFailed"),
     ("", "RegistrationFailed"), ("500-error", "RegistrationFailed")],
)
def test_condition_reason_comes_from_the_error_type(error_type: str | None, reason: str) -> None:
    assert st.reason_from(error_type) == reason


def test_failed_registration_explains_why_and_keeps_what_it_knew() -> None:
    registration = {"registration_id": "r1", "status": "failed", "workflow_id": "oom", "version": "1.0.0",
                    "image_digest": DIGEST,
                    "error": {"type": "schema-missing", "title": "No schema", "detail": "no /playbook-schema.json"}}
    status = st.outcome(registration, 3, True, {})
    assert status["phase"] == "Failed" and status["message"] == "no /playbook-schema.json"
    assert status["conditions"][0]["reason"] == "SchemaMissing" and status["conditions"][0]["status"] == "False"
    assert status["shortDigest"] == "sha256:0123456789ab" and status["observedGeneration"] == 3


def test_disabled_resource_registers_with_phase_disabled() -> None:
    registration = {"registration_id": "r1", "status": "succeeded", "workflow_id": "oom", "version": "1.0.0",
                    "image_digest": DIGEST}
    assert st.outcome(registration, 1, False, {})["phase"] == "Disabled"
    assert st.outcome(registration, 1, True, {})["phase"] == "Registered"


def test_pending_clears_the_previous_generations_digest() -> None:
    status = st.pending(2, "r2", "oom", "2.0.0", {"imageDigest": DIGEST, "shortDigest": "sha256:0123"})
    assert status["imageDigest"] is None and status["shortDigest"] is None  # merge-patch null removes them


def test_transition_time_moves_only_when_the_condition_status_changes() -> None:
    before = {"conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": "2020-01-01T00:00:00Z"}]}
    assert st.rejected(1, "Invalid", "x", before)["conditions"][0]["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    changed = st.pending(1, "r", None, None, before)["conditions"][0]["lastTransitionTime"]
    assert changed != "2020-01-01T00:00:00Z"


def test_an_identical_status_is_not_patched_again() -> None:
    desired = st.rejected(1, "Invalid", "bad label", {})
    stored = {key: value for key, value in desired.items() if value is not None}
    stored["conditions"] = [{**desired["conditions"][0], "lastTransitionTime": "2020-01-01T00:00:00Z"}]
    assert st.is_current(stored, desired)
    assert not st.is_current(stored, st.rejected(2, "Invalid", "bad label", {}))


@pytest.mark.parametrize(
    ("obj_status", "generation", "lagging"),
    [(None, 1, True), ({"observedGeneration": 1, "phase": "Registered"}, 1, False),
     ({"observedGeneration": 1, "phase": "Registered"}, 2, True),
     ({"observedGeneration": 1, "phase": "Pending"}, 1, True),
     ({"observedGeneration": 1, "phase": "Failed"}, 1, False)],
)
def test_needs_work_when_status_lags_or_is_pending(obj_status: dict | None, generation: int, lagging: bool) -> None:
    obj = {"metadata": {"name": "a", "namespace": "n", "generation": generation}, "status": obj_status}
    assert needs_work(obj) is lagging


def test_work_queue_keeps_the_latest_item_and_never_hands_a_key_to_two_workers() -> None:
    queue = WorkQueue()
    queue.add(("n", "a"), "v1")
    queue.add(("n", "a"), "v2")
    queue.add(("n", "b"), "b1")
    assert len(queue) == 2
    assert queue.get(0.1) == (("n", "a"), "v2")
    queue.add(("n", "a"), "v3")  # changed while a worker holds it
    assert queue.get(0.1) == (("n", "b"), "b1")
    assert queue.get(0.05) is None  # "a" waits until the first worker is done
    queue.done(("n", "a"))
    assert queue.get(0.1) == (("n", "a"), "v3")


def test_a_delayed_add_waits_and_keeps_one_entry_per_key() -> None:
    queue = WorkQueue()
    queue.add_after(("n", "a"), "first", 0.6)
    queue.add_after(("n", "a"), "second", 0.2)  # earlier: replaces the time and the item
    queue.add_after(("n", "a"), "third", 5.0)  # later: keeps the earlier time, takes the newer item
    started = time.monotonic()
    assert queue.get(0) is None  # nothing is due yet
    assert queue.get(3.0) == (("n", "a"), "third")  # get() wakes up when the entry is due
    assert 0.15 <= time.monotonic() - started < 3.0
    queue.done(("n", "a"))
    assert queue.get(0.8) is None  # the superseded entries never come back


def test_a_delayed_add_never_replaces_a_newer_item() -> None:
    queue = WorkQueue()
    queue.add_after(("n", "a"), "retry", 0.05)
    queue.add(("n", "a"), "newer")
    time.sleep(0.1)  # the delayed entry is due while the newer item still waits
    assert queue.get(0.1) == (("n", "a"), "newer")
    queue.done(("n", "a"))
    assert queue.get(0) is None


def test_a_failed_item_is_retried_after_a_delay() -> None:
    queue = WorkQueue()
    queue.add(("n", "a"), "v1")
    assert queue.get(0.1) == (("n", "a"), "v1")
    assert queue.done(("n", "a"), failed="v1") == 1.0
    assert queue.get(0) is None
    assert queue.get(2.0) == (("n", "a"), "v1")


def test_a_running_registration_is_looked_at_with_a_doubling_delay_up_to_the_cap() -> None:
    reconciler = st.Reconciler(catalog=None, api=None, cache=Cache(), events=None, stop=threading.Event())  # type: ignore[arg-type]
    delays = [reconciler._next_poll(("n", "a"), "r1") for _ in range(7)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert reconciler._next_poll(("n", "b"), "r9") == 0.5  # per resource
    assert reconciler._next_poll(("n", "a"), "r2") == 0.5  # a new registration starts again


def test_cache_keeps_the_newest_resource_version() -> None:
    cache = Cache()
    cache.store({"metadata": {"name": "a", "namespace": "n", "resourceVersion": "20"}, "v": "new"})
    cache.store({"metadata": {"name": "a", "namespace": "n", "resourceVersion": "19"}, "v": "old"})
    assert cache.get(("n", "a"))["v"] == "new"


def test_resync_queues_only_lagging_resources() -> None:
    cache, queue = Cache(), WorkQueue()
    cache.replace([
        {"metadata": {"name": "done", "namespace": "n", "generation": 1}, "status": {"observedGeneration": 1}},
        {"metadata": {"name": "lag", "namespace": "n", "generation": 2}, "status": {"observedGeneration": 1}},
    ])
    assert ResourceEvents(cache, queue).resync() == 1
    assert queue.get(0.1)[0] == ("n", "lag")


@pytest.mark.parametrize(
    ("env", "variable"),
    [({"CATALOG_URL": ""}, "CATALOG_URL"), ({"CATALOG_AUTH": "basic"}, "CATALOG_AUTH"),
     ({"CATALOG_API_KEY_FILE": "/nonexistent"}, "CATALOG_API_KEY_FILE"), ({"RESYNC_SECONDS": "soon"}, "RESYNC_SECONDS"),
     ({"RESYNC_SECONDS": "0"}, "RESYNC_SECONDS"), ({"HEALTH_PORT": "70000"}, "HEALTH_PORT"),
     ({"CATALOG_AUTH": "sigv4", "AWS_REGION": ""}, "AWS_REGION"), ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
     ({"RUNNER_ENABLED": "maybe"}, "RUNNER_ENABLED"), ({"RUN_NAMESPACE": "Kubernaut_Workflows"}, "RUN_NAMESPACE"),
     ({"RUNNER_CONCURRENCY": "0"}, "RUNNER_CONCURRENCY"), ({"RUNNER_CONCURRENCY": "11"}, "RUNNER_CONCURRENCY"),
     ({"RUNNER_CONCURRENCY": "2.5"}, "RUNNER_CONCURRENCY"), ({"RUNNER_ID": "pod\n1"}, "RUNNER_ID"),
     ({"RUNNER_ID": "x" * 254}, "RUNNER_ID"), ({"CLAIM_WAIT_SECONDS": "21"}, "CLAIM_WAIT_SECONDS"),
     ({"CLAIM_WAIT_SECONDS": "1.5"}, "CLAIM_WAIT_SECONDS"), ({"CLAIM_INTERVAL_SECONDS": "-1"}, "CLAIM_INTERVAL_SECONDS"),
     ({"CLAIM_INTERVAL_SECONDS": "301"}, "CLAIM_INTERVAL_SECONDS")],
)
def test_bad_configuration_names_the_variable(env: dict[str, str], variable: str, key_file: Path) -> None:
    base = {"CATALOG_URL": "https://catalog.example", "CATALOG_API_KEY_FILE": str(key_file)}
    with pytest.raises(ConfigError, match=variable):
        load_config({**base, **env})


def test_configuration_defaults(key_file: Path) -> None:
    config = load_config({"CATALOG_URL": "https://catalog.example/", "CATALOG_API_KEY_FILE": str(key_file)})
    assert (config.catalog_url, config.auth, config.namespace, config.resync_seconds, config.health_port) == (
        "https://catalog.example", "bearer", "", 300.0, 8080)
    # The runner is on, in its own namespace, four at once, under the pod's name (stable across its restarts).
    assert (config.runner_enabled, config.run_namespace, config.runner_concurrency, config.runner_id) == (
        True, "kubernaut-workflows", 4, socket.gethostname())
    # Claims that do not wait, every 5 s while idle: what a catalog on Lambda bills least for (docs/deploy.md).
    assert (config.claim_wait_seconds, config.claim_interval_seconds) == (0, 5.0)
    off = load_config({"CATALOG_URL": "https://c.example", "CATALOG_API_KEY_FILE": str(key_file),
                       "RUNNER_ENABLED": "False", "RUNNER_CONCURRENCY": "10", "RUNNER_ID": "cluster-a-runner",
                       "CLAIM_WAIT_SECONDS": "20", "CLAIM_INTERVAL_SECONDS": "0"})
    assert (off.runner_enabled, off.runner_concurrency, off.runner_id) == (False, 10, "cluster-a-runner")
    assert (off.claim_wait_seconds, off.claim_interval_seconds) == (20, 0.0)


def test_sigv4_signs_for_execute_api_with_the_pods_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    config = load_config({"CATALOG_URL": "https://abc.execute-api.eu-west-1.amazonaws.com/api",
                          "CATALOG_AUTH": "sigv4", "AWS_REGION": "eu-west-1"})
    headers = Auth(config).headers("POST", config.catalog_url + "/api/v1/registrations", b"{}")
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]
    assert "X-Amz-Date" in headers


def test_sigv4_without_credentials_is_retried_later_not_a_crash(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    config = load_config({"CATALOG_URL": "https://abc.execute-api.eu-west-1.amazonaws.com/api",
                          "CATALOG_AUTH": "sigv4", "AWS_REGION": "eu-west-1"})
    with pytest.raises(CatalogUnavailable, match="no AWS credentials"):
        Auth(config).headers("POST", config.catalog_url + "/api/v1/registrations", b"{}")


def test_readiness_follows_the_informers_and_liveness_names_a_dead_or_stuck_loop() -> None:
    import requests

    from watcher.app import HealthServer, Loop

    stop = threading.Event()
    informers = [Informer(name, lister=None, cache=Cache(), handler=None, stop=stop)  # type: ignore[arg-type]
                 for name in ("remediationworkflows", "pipelineruns")]
    resources, runs = informers
    resource_loop, claim_loop = threading.Thread(target=stop.wait), threading.Thread(target=stop.wait)
    resource_loop.start()
    claim_loop.start()
    claimed_at = [time.monotonic()]
    health = HealthServer(informers, [Loop("resource watch loop", resource_loop, lambda: resources.heartbeat, 60),
                                      Loop("runner watch loop", resource_loop, lambda: runs.heartbeat, 60),
                                      Loop("runner claim loop", claim_loop, lambda: claimed_at[0], 60)], port=0)
    health.start()
    base = f"http://127.0.0.1:{health.port}"
    try:
        def probe(path: str) -> tuple[int, str]:
            response = requests.get(base + path, timeout=5)
            return response.status_code, response.text

        assert probe("/healthz") == (200, "alive: resource watch loop, runner watch loop, runner claim loop")
        assert probe("/readyz") == (503, "initial list of remediationworkflows not done")
        resources.synced.set()
        assert probe("/readyz") == (503, "initial list of pipelineruns not done")  # the runner's informer too
        runs.synced.set()
        assert probe("/readyz") == (200, "watching")
        runs._failures = 3  # three failed watches in a row
        assert probe("/readyz") == (503, "the API server keeps failing (pipelineruns)")
        runs._failures = 0
        resources.heartbeat = time.monotonic() - 61
        assert probe("/healthz") == (503, "resource watch loop made no progress")
        resources.heartbeat = time.monotonic()
        claimed_at[0] = time.monotonic() - 61
        assert probe("/healthz") == (503, "runner claim loop made no progress")
        claimed_at[0] = time.monotonic()
        # The runner's claim loop dies (a bug that escaped it): the liveness probe fails and says which loop.
        health.loops[2] = Loop("runner claim loop", threading.Thread(target=lambda: None), lambda: claimed_at[0], 60)
        health.loops[2].thread.start()
        health.loops[2].thread.join()
        assert probe("/healthz") == (503, "runner claim loop has died")
    finally:
        stop.set()
        resource_loop.join()
        claim_loop.join()
        health.stop()


def test_an_answers_date_is_read_in_utc_also_when_dated_minus_0000() -> None:
    """RFC 5322's "-0000" (UTC, source unknown) parses to a naive time, which a lease cannot be measured against."""
    for header in ("Mon, 07 Dec 2026 02:00:00 -0000", "Mon, 07 Dec 2026 02:00:00 GMT", "Mon, 07 Dec 2026 03:00:00 +0100"):
        assert answered_at(header) == datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    for missing in (None, "", "yesterday"):
        assert abs(answered_at(missing) - datetime.now(UTC)).total_seconds() < 5


def test_debug_logging_leaves_out_the_kubernetes_clients_response_bodies() -> None:
    """They hold the runner's Secrets (writeOnly values) when it creates or patches one."""
    root = logging.getLogger()
    saved = root.level, list(root.handlers)
    try:
        setup_logging("DEBUG")
        assert root.isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("kubernetes.client.rest").isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
