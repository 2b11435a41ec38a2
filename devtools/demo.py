"""``make demo``: the whole flow on this machine, step by step, with each step's outcome.

    .venv/bin/python -m devtools.demo        (``make demo`` installs docker-registry first)

1. a local OCI registry (Debian's docker-registry on a free loopback port, in-memory storage);
2. one image per example resource (examples/resources/*.yaml), built in Python (no container engine):
   a script layer and a layer holding /playbook-schema.json, made from examples/workflows/<id>.json;
3. an embedded PostgreSQL + pgvector, as ``make run`` starts it, migrated;
4. the catalog API (``make run``'s server, devserver/local_server.py) on a free loopback port,
   told to trust the registry with ``INSECURE_REGISTRIES``, and an API key with three scopes;
5. every example resource, its image pointed at the local registry by tag, sent to the invoke
   endpoint ``POST /api/v1/registrations`` (as the watcher does) and followed until it finished;
6. a search with an incident; 7. parameter validation, one invalid and one valid set;
8. an execution, and the Tekton PipelineRun its cluster's runner will create;
9. the in-cluster runner: the watcher (its runner, with a key bound to the target's cluster) against an in-memory
   Kubernetes API server (tests/support/kube_emulator.py) claims the execution and creates its PipelineRun there;
   the demo plays Tekton (the run starts, then succeeds) and the outcome comes back to the catalog as ``succeeded``
   with the run's times.

Everything lives in a fresh temporary folder and on free ports, so it can run again at once (also
beside ``make run``); the server and the registry stop when it ends, the database is stopped and
the folder deleted as the process exits (also on Ctrl-C). The example files are not changed: they
keep pointing at ghcr.io for a real cluster. Server log lines are at WARNING unless ``LOG_LEVEL`` is set.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import sys
import tempfile
import textwrap
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from devtools import oci
from devtools.registry import LocalRegistry, RegistryNotInstalled, start_registry
from tests.support.kube_emulator import PIPELINE_RUNS, KubeEmulator

PROJECT_DIR = Path(__file__).resolve().parent.parent
RESOURCES_DIR = PROJECT_DIR / "examples" / "resources"
WORKFLOWS_DIR = PROJECT_DIR / "examples" / "workflows"
STEPS = 9
REGISTRATION_TIMEOUT = 60.0
RUN_TIMEOUT = 30.0
SCOPES = ["registrations:write", "catalog:read", "executions:write"]
# The key of the cluster's watcher: bound to its cluster, so its runner claims and reports only that cluster's
# executions (docs/watcher.md, "One watcher per cluster, each with its own cluster-bound key").
CLUSTER = "demo-cluster"
RUNNER_SCOPES = ["registrations:write", "catalog:read", "executions:run"]
RUN_NAMESPACE = "kubernaut-workflows"
# Settings that would take the demo off this machine or change its flow; the demo sets its own.
OVERRIDDEN = ("DATABASE_URL", "DATABASE_SECRET_ARN", "DATABASE_IAM_AUTH", "DISPATCHER", "REGISTRATION_QUEUE_URL",
              "EMBEDDING_PROVIDER", "EMBEDDING_DIMENSIONS", "REGISTRY_CREDENTIALS", "INSECURE_REGISTRIES",
              "PRIVATE_REGISTRIES", "REGISTRY_ALLOWLIST", "SIGNATURE_POLICY_FILE", "CATALOG_DATA_DIR", "DEV_API_KEY")

INCIDENT = {
    "id": "INC-1042",
    "signal_type": "OOMKilled",
    "severity": "critical",
    "environment": "production",
    "component": "deployment",
    "business_context": {"business_category": "payments"},
}
QUERY = "Pod payments-api-7d9f4 in namespace payments was OOMKilled: container api exceeded its 256Mi memory limit"
SEARCH_LABELS = {key: INCIDENT[key] for key in ("signal_type", "severity", "environment", "component")}
EXPECTED_WORKFLOW = "oomkill-increase-memory"
INVALID_PARAMETERS = {"TARGET_NAMESPACE": "Payments!", "MEMORY_LIMIT": "lots", "ADMIN_PASSWORD": "hunter2"}
VALID_PARAMETERS = {"TARGET_NAMESPACE": "payments", "TARGET_DEPLOYMENT": "payments-api", "MEMORY_LIMIT": "512Mi"}
# The resource the remediation acts on, in its cluster: one active execution per target.
TARGET = {"kind": "Deployment", "namespace": "payments", "name": "payments-api", "cluster": CLUSTER}


class DemoFailed(Exception):
    """A step did not have the outcome the flow needs; the message says what happened."""


@dataclass(frozen=True)
class DemoWorkflow:
    source: Path  # the example resource
    workflow_id: str
    version: str
    reference: str  # the image in the local registry, by tag
    digest: str  # the manifest digest pushed under that tag


def step(number: int, title: str) -> None:
    print(f"\n[{number}/{STEPS}] {title}", flush=True)


def say(text: str, indent: int = 6) -> None:
    print(textwrap.indent(text, " " * indent), flush=True)


def build_and_push(registry: LocalRegistry) -> list[DemoWorkflow]:
    """One image per example resource, tagged as the resource's image is, in the local registry."""
    from chalicelib.domain.images import parse_image_reference

    pushed = []
    for source in sorted(RESOURCES_DIR.glob("*.yaml")):
        resource = yaml.safe_load(source.read_text())
        spec = resource["spec"]
        workflow_id = spec.get("workflowId") or resource["metadata"]["name"]
        example = WORKFLOWS_DIR / f"{workflow_id}.json"
        if not example.exists():
            raise DemoFailed(f"{source.name}: no {example.relative_to(PROJECT_DIR)} to make its /playbook-schema.json")
        workflow = json.loads(example.read_text())
        # The file carries the parameters, and a title, description and labels that the resource's own
        # fields override at registration (docs/playbook-schema.md).
        schema = {"schema_version": "1.0", **{key: workflow[key] for key in (
            "workflow_id", "version", "title", "description", "labels", "parameters")}}  # fmt: skip
        # A stand-in: a real image holds the remediation script and the tools it needs.
        script = f'#!/bin/sh\n# {workflow["title"]}\necho "{workflow_id}: the demo image only shows the flow"\n'
        image = oci.image(
            oci.layer({"usr/local/bin/remediate": script.encode()}),
            oci.schema_layer(json.dumps(schema, indent=2).encode()),
        )
        original = parse_image_reference(spec["image"])
        tag = original.tag or spec["version"]
        digest = registry.pusher.push_image(original.repository, tag, image)
        pushed.append(DemoWorkflow(source, workflow_id, spec["version"], registry.reference(original.repository, tag),
                                   digest))  # fmt: skip
    if not pushed:
        raise DemoFailed(f"no example resources in {RESOURCES_DIR.relative_to(PROJECT_DIR)}")
    return pushed


def demo_resource(workflow: DemoWorkflow) -> dict[str, Any]:
    """The example resource as the Kubernetes API server would hand it to the watcher, its image in the
    local registry by tag (the catalog resolves the tag to a digest once, at registration)."""
    resource = yaml.safe_load(workflow.source.read_text())
    resource["metadata"].update(namespace="demo", uid=str(uuid.uuid4()), generation=1, resourceVersion="1")
    resource["spec"]["image"] = workflow.reference
    return resource


class Api:
    """The catalog's HTTP API with one bearer key; an unexpected status is a DemoFailed naming the problem."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, body: object = None, expect: int = 200) -> Any:
        response = self.session.request(method, self.base_url + path, json=body, timeout=30)
        if response.status_code != expect:
            raise DemoFailed(f"{method} {path} answered {response.status_code} (expected {expect}): {response.text}")
        return response.json()


def register(api: Api, workflow: DemoWorkflow) -> dict[str, Any]:
    """POST the ADDED event, then GET the registration until it has finished."""
    started = time.monotonic()
    accepted = api.call("POST", "/api/v1/registrations", {"event": "ADDED", "object": demo_resource(workflow)},
                        expect=202)  # fmt: skip
    path = f"/api/v1/registrations/{accepted['registration_id']}"
    while True:
        registration = api.call("GET", path)
        if registration["status"] in ("succeeded", "failed"):
            registration["seconds"] = time.monotonic() - started
            return registration
        if time.monotonic() - started > REGISTRATION_TIMEOUT:
            raise DemoFailed(f"{workflow.workflow_id}: registration still {registration['status']} after "
                             f"{REGISTRATION_TIMEOUT:.0f} s")  # fmt: skip
        time.sleep(0.05)


def short(digest: str | None) -> str:
    return (digest or "-")[:19]


def run(temp: Path) -> None:
    step(1, "Local OCI registry (Debian's docker-registry, in-memory storage)")
    with start_registry() as registry:
        say(f"serving on {registry.base_url}")

        step(2, "Workflow images built in Python and pushed (no container engine)")
        workflows = build_and_push(registry)
        for workflow in workflows:
            say(f"{workflow.reference:<72} {short(workflow.digest)}")
        say("each: a script layer, then a layer with /playbook-schema.json (see docs/playbook-schema.md)")

        step(3, "Embedded PostgreSQL + pgvector (as make run starts it)")
        os.environ.update(
            CATALOG_DATA_DIR=str(temp / "var"), DISPATCHER="inline", EMBEDDING_PROVIDER="default",
            # Loopback is not trusted implicitly: the registry is reached because it is listed.
            INSECURE_REGISTRIES=registry.host,
        )  # fmt: skip
        from chalicelib.config import settings
        from chalicelib.container import reset_services, services
        from chalicelib.stores.embedded import start_embedded
        from chalicelib.stores.migrations import apply_migrations

        os.environ["DATABASE_URL"] = start_embedded(temp / "var" / "pgdata", delete_on_exit=True)
        settings.cache_clear()
        reset_services()
        applied = apply_migrations(services().db)
        services().search.ensure_ready()
        say(f"data in {temp / 'var' / 'pgdata'}; {len(applied)} migrations applied; the catalog is empty")

        step(4, "Catalog API (make run's server) on a free loopback port")
        from chalice.config import Config

        from app import app
        from devserver.local_server import LocalServer

        key_id, key = services().api_keys.create("demo agent", SCOPES)
        runner_key_id, runner_key = services().api_keys.create(f"watcher of {CLUSTER}", RUNNER_SCOPES, None, CLUSTER)
        with LocalServer(app, Config.create(chalice_stage="local"), "127.0.0.1", 0).running() as server:
            say(f"serving on {server.url} with INSECURE_REGISTRIES={registry.host}")
            say(f"API key {key_id} with scopes {' '.join(SCOPES)}")
            say(f"API key {runner_key_id} with scopes {' '.join(RUNNER_SCOPES)}, bound to cluster {CLUSTER}")
            api = Api(server.url, key)
            try:
                execution = flow(api, workflows)
                run_in_cluster(api, server.url, runner_key, execution, temp)
            finally:
                services().executions.stop_waiting()  # a claim still waiting ends with the server


def flow(api: Api, workflows: list[DemoWorkflow]) -> dict[str, Any]:
    step(5, "Register examples/resources/*.yaml: POST /api/v1/registrations, then GET it until it finishes")
    say(f"{'workflow version':<31} {'registration id':<36} {'image digest':<19} outcome")
    failed = []
    for workflow in workflows:
        registration = register(api, workflow)
        outcome = registration["status"]
        if outcome == "succeeded" and registration["image_digest"] != workflow.digest:
            outcome = f"succeeded with digest {registration['image_digest']}, not the pushed one"
            failed.append(workflow.workflow_id)
        elif outcome != "succeeded":
            error = registration.get("error") or {}
            outcome = f"failed: {error.get('type')}: {error.get('detail')}"
            failed.append(workflow.workflow_id)
        say(f"{workflow.workflow_id + ' ' + workflow.version:<31} {registration['registration_id']} "
            f"{short(registration['image_digest'])} {outcome} in {registration['seconds']:.2f} s")  # fmt: skip
    if failed:
        raise DemoFailed(f"registrations that did not succeed: {', '.join(failed)}")
    say(f"{len(workflows)} registrations succeeded; each image digest is the one pushed in step 2")

    step(6, "Search with an incident: POST /api/v1/playbooks/search")
    found = api.call("POST", "/api/v1/playbooks/search", {"query": QUERY, "labels": SEARCH_LABELS, "top_k": 3})
    say(f"query: {QUERY}")
    say("labels (hard filters): " + " ".join(f"{key}={value}" for key, value in SEARCH_LABELS.items()))
    for result in found["results"]:
        parts = result["explanation"]
        say(f"#{result['rank']} {result['workflow_id']} {result['version']} score {result['score']:.3f} = semantic "
            f"{parts['semantic']:.3f} + text {parts['text']:.3f} + label_boost {parts['label_boost']:.3f}")
    say(f"{found['total']} of {len(workflows)} workflows pass the label filters; the agent takes the first")
    verdict = "the agent may act on the first result" if found["confident"] else "the agent asks a human first"
    say(f"confident: {str(found['confident']).lower()} ({verdict})")
    if not found["results"] or found["results"][0]["workflow_id"] != EXPECTED_WORKFLOW:
        raise DemoFailed(f"expected {EXPECTED_WORKFLOW} first, got {[r['workflow_id'] for r in found['results']]}")
    chosen = found["results"][0]
    versions = f"/api/v1/playbooks/{chosen['workflow_id']}/versions/{chosen['version']}"

    step(7, f"Validate parameters: POST {versions}/validate")
    schema = api.call("GET", versions)["parameters"]
    required = set(schema.get("required", []))
    say("parameters (* required): " + ", ".join(name + "*" * (name in required) for name in schema["properties"]))
    checked = api.call("POST", f"{versions}/validate", {"parameters": INVALID_PARAMETERS})
    say(f"{json.dumps(INVALID_PARAMETERS)} -> valid: {str(checked['valid']).lower()}")
    for error in checked["errors"]:
        say(f"{error['path']}: {error['message']}", indent=8)
    if checked["valid"]:
        raise DemoFailed("the invalid parameters were accepted")
    checked = api.call("POST", f"{versions}/validate", {"parameters": VALID_PARAMETERS})
    say(f"{json.dumps(VALID_PARAMETERS)} -> valid: {str(checked['valid']).lower()}")
    say(f"with defaults: {json.dumps(checked['parameters'], sort_keys=True)}", indent=8)
    if not checked["valid"]:
        raise DemoFailed(f"the valid parameters were refused: {checked['errors']}")

    step(8, "Execute: POST /api/v1/executions")
    body = {"workflow_id": chosen["workflow_id"], "version": chosen["version"], "parameters": VALID_PARAMETERS,
            "incident": INCIDENT, "target": TARGET}  # fmt: skip
    execution: dict[str, Any] = api.call("POST", "/api/v1/executions", body, expect=201)
    say(f"execution {execution['execution_id']} {execution['status']}; the PipelineRun the runner of cluster "
        f"{CLUSTER} will create:")
    say(yaml.safe_dump(execution["pipeline_run"], sort_keys=False).rstrip(), indent=8)
    return execution


def run_in_cluster(api: Api, catalog_url: str, runner_key: str, execution: dict[str, Any], temp: Path) -> None:
    """Step 9: the watcher's runner, on an in-memory cluster, runs the execution; the demo plays Tekton."""
    import kubernetes.client

    from watcher.app import Watcher
    from watcher.config import WatcherConfig

    step(9, f"The in-cluster runner: cluster {CLUSTER}'s watcher claims it, Tekton runs it, the outcome comes back")
    execution_id = execution["execution_id"]
    path = f"/api/v1/executions/{execution_id}"
    name = execution["pipeline_run"]["metadata"]["name"]
    key_file = temp / "runner-api-key"
    key_file.write_text(runner_key)
    cluster = KubeEmulator()
    with cluster.serving() as kube_url:
        say(f"an in-memory Kubernetes API server (cluster {CLUSTER}) on {kube_url}")
        config = WatcherConfig(catalog_url=catalog_url, api_key_file=str(key_file), namespace="payments",
                               health_port=0, run_namespace=RUN_NAMESPACE, runner_id="demo-runner",
                               claim_wait_seconds=20, claim_interval_seconds=0)  # a long poll: a server here
        watcher = Watcher(config, kubernetes.client.ApiClient(kubernetes.client.Configuration(host=kube_url)))
        watcher.start()
        try:
            run = cluster.wait_for(RUN_NAMESPACE, name, lambda obj: True, timeout=RUN_TIMEOUT, plural=PIPELINE_RUNS)
            say(f"claimed by runner demo-runner; PipelineRun {RUN_NAMESPACE}/{name} created (uid "
                f"{run['metadata']['uid']})")
            wait_status(api, path, "running")
            say("reported running")
            started = cluster.mark_running(RUN_NAMESPACE, name)["status"]["startTime"]
            time.sleep(1.0)  # the remediation runs
            finished = cluster.mark_succeeded(RUN_NAMESPACE, name)["status"]["completionTime"]
            say(f"Tekton (played by the demo): started {started}, Succeeded at {finished}")
            record = wait_status(api, path, "succeeded")
        finally:
            watcher.stop(grace_seconds=5)
    say(f"execution {execution_id} {record['status']} (reason {record['reason']}); started_at "
        f"{record['started_at']}, finished_at {record['finished_at']}, {record['duration_seconds']:.0f} s")
    say("history: " + " -> ".join(event["to"] for event in record["events"]))


def wait_status(api: Api, path: str, status: str) -> dict[str, Any]:
    """GET the execution until it has ``status`` (DemoFailed after RUN_TIMEOUT)."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        record: dict[str, Any] = api.call("GET", path)
        if record["status"] == status:
            return record
        if time.monotonic() > deadline:
            raise DemoFailed(f"{path}: still {record['status']} after {RUN_TIMEOUT:.0f} s, not {status}")
        time.sleep(0.1)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    for name in OVERRIDDEN:
        os.environ.pop(name, None)
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # the server's JSON lines would bury the steps
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # no metric line per registration
    temp = Path(tempfile.mkdtemp(prefix="catalog-demo-"))
    # Registered first, so it runs last: after the embedded database has stopped (its own atexit).
    atexit.register(shutil.rmtree, temp, ignore_errors=True)
    signal.signal(signal.SIGTERM, _interrupt)  # cleaned up like Ctrl-C
    print(f"Remediation Workflow Catalog demo: the whole flow on this machine, loopback only (temp folder {temp})")
    try:
        run(temp)
    except RegistryNotInstalled as exc:
        print(f"\ncannot start: {exc}", file=sys.stderr)
        return 2
    except DemoFailed as exc:
        print(f"\ndemo FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    print("\nDone: registered, searched, validated, executed and run in the cluster. The server and the registry are "
          f"stopped; the embedded database stops and {temp} is deleted as the demo exits.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
