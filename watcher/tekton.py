"""The runner's pure part: what a claim asks to create, and what a PipelineRun's state means to the catalog.

Tekton's ``Succeeded`` condition decides the report: ``Unknown`` (and a PipelineRun Tekton has not
picked up yet, with no condition) is ``running``, ``True`` is ``succeeded``, ``False`` is ``failed``
with Tekton's reason and message; ``status.startTime`` and ``status.completionTime`` are the times.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

GROUP, VERSION, PLURAL, KIND = "tekton.dev", "v1", "pipelineruns", "PipelineRun"
EXECUTION_LABEL = "kubernaut.ai/execution-id"
PENDING, RUNNING, SUCCEEDED, FAILED = "pending", "running", "succeeded", "failed"  # the catalog's statuses
FINAL = (SUCCEEDED, FAILED)
MAX_MESSAGE, MAX_REASON = 4000, 1000  # the catalog's limits on a report's message and reason


class InvalidClaim(ValueError):
    """A claim item this runner cannot act on (the catalog's answer is not what the contract says)."""


@dataclass(frozen=True)
class Claim:
    execution_id: str
    pipeline_run: dict[str, Any]  # namespaced: ready to create
    # Namespaced, Opaque, its values in stringData; None when nothing is secret. Out of the repr: never printed.
    secret: dict[str, Any] | None = field(repr=False)
    lease_seconds: float
    # Claimed again after another runner's lease lapsed once it had reported the run started: its PipelineRun was
    # created then, so it is followed, never created again (a deleted one would run the remediation twice).
    running: bool = False

    @property
    def name(self) -> str:
        return str(self.pipeline_run["metadata"]["name"])


def parse_claim(item: Any, namespace: str, answered: datetime, default_lease: float) -> Claim:
    """Checks one claim item and places its objects in ``namespace`` (the catalog leaves the namespace to the
    runner). The Secret is rebuilt from its name, labels and values only, so a claim cannot create any other
    kind of Secret. Raises InvalidClaim."""
    if not isinstance(item, dict) or not isinstance(item.get("execution_id"), str) or not item["execution_id"]:
        raise InvalidClaim("the claim item has no execution_id")
    run = item.get("pipeline_run")
    meta = run.get("metadata") if isinstance(run, dict) else None
    if not isinstance(run, dict) or (run.get("apiVersion"), run.get("kind")) != (f"{GROUP}/{VERSION}", KIND) or \
            not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        raise InvalidClaim("pipeline_run is not a tekton.dev/v1 PipelineRun with a name")
    labels: dict[str, Any] = meta["labels"] if isinstance(meta.get("labels"), dict) else {}
    # The runner finds its PipelineRuns by this label: without it the run would never be reported.
    pipeline_run = {**run, "metadata": {**meta, "namespace": namespace,
                                        "labels": {**labels, EXECUTION_LABEL: labels.get(EXECUTION_LABEL)
                                                   or item["execution_id"]}}}
    status = item.get("status", PENDING)  # a catalog from before claims said it hands out only pending ones
    if status not in (PENDING, RUNNING):
        raise InvalidClaim(f"status {status!r} is neither pending nor running")
    return Claim(item["execution_id"], pipeline_run, _secret(item.get("secret"), namespace),
                 _lease_seconds(item.get("lease_expires_at"), answered, default_lease), running=status == RUNNING)


def _secret(secret: Any, namespace: str) -> dict[str, Any] | None:
    if secret is None:
        return None
    meta = secret.get("metadata") if isinstance(secret, dict) else None
    values = secret.get("stringData") if isinstance(secret, dict) else None
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not isinstance(values, dict) or \
            not all(isinstance(value, str) for value in values.values()):
        raise InvalidClaim("secret is not a v1 Secret with a name and stringData")
    labels = meta["labels"] if isinstance(meta.get("labels"), dict) else {}
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": meta["name"], "namespace": namespace, "labels": labels}, "stringData": values}


def _lease_seconds(expires_at: Any, answered: datetime, default: float) -> float:
    try:
        seconds = (parse_time(str(expires_at)) - answered).total_seconds()
    except ValueError:
        return default
    return seconds if seconds > 0 else default


def parse_time(text: str) -> datetime:
    """RFC 3339 (``Z`` or an offset); raises ValueError for anything else, a time without zone included."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"{text!r} has no time zone")
    return parsed


def owner_reference(run: dict[str, Any]) -> dict[str, Any]:
    """Makes an object a dependent of the PipelineRun (Kubernetes deletes it with the run). No
    ``blockOwnerDeletion``: setting it needs update rights on the run's finalizers, which the runner lacks."""
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "name": run["metadata"]["name"],
            "uid": run["metadata"]["uid"]}


def execution_id_of(run: dict[str, Any]) -> str | None:
    """The annotation holds the exact id; the label a valid label value (the same for a UUID)."""
    meta = run.get("metadata") or {}
    return (meta.get("annotations") or {}).get(EXECUTION_LABEL) or (meta.get("labels") or {}).get(EXECUTION_LABEL)


def report_for(run: dict[str, Any]) -> dict[str, Any]:
    """The ``PATCH /api/v1/executions/{id}`` body that says what the PipelineRun's state is."""
    status = run.get("status") or {}
    condition: dict[str, Any] = next((c for c in status.get("conditions") or [] if c.get("type") == "Succeeded"), {})
    meta = run["metadata"]
    state = {"True": SUCCEEDED, "False": FAILED}.get(str(condition.get("status")), RUNNING)
    body: dict[str, Any] = {"status": state,
                            "pipeline_run": {"namespace": meta["namespace"], "name": meta["name"],
                                             "uid": meta.get("uid")}}
    if status.get("startTime"):
        body["started_at"] = status["startTime"]
    if body["status"] in FINAL:
        if status.get("completionTime"):
            body["finished_at"] = status["completionTime"]
        # Running reports leave Tekton's changing progress message out: only a new state is worth a report.
        if condition.get("reason"):
            body["reason"] = str(condition["reason"])[:MAX_REASON]
        if condition.get("message"):
            body["message"] = str(condition["message"])[:MAX_MESSAGE]
    return body


def deleted_report(reference: dict[str, Any]) -> dict[str, Any]:
    """A PipelineRun deleted before it finished (e.g. by an operator stopping it) never will."""
    return {"status": FAILED, "reason": "PipelineRunDeleted", "pipeline_run": reference,
            "message": f"the PipelineRun {reference['namespace']}/{reference['name']} was deleted before it finished"}


def refused_report(what: str, detail: str) -> dict[str, Any]:
    """The API server refused to create the claim's objects (invalid), so the execution cannot run here."""
    return {"status": FAILED, "reason": "PipelineRunRejected",
            "message": f"the Kubernetes API server refused the {what}: {detail}"[:MAX_MESSAGE]}


def invalid_claim_report(error: InvalidClaim) -> dict[str, Any]:
    return {"status": FAILED, "reason": "InvalidClaim", "message": f"the runner cannot create it: {error}"}
