"""A RemediationWorkflow event from the watcher, validated against the CRD's own openAPIV3Schema.

The schema comes from the CRD file (chalicelib/adapters/crd.py reads it; the domain reads no
files). The CRD's one CEL rule (no workflowId means the name must be a workflow id) and what the
API server cannot check (label keys) are checked with the catalog's own domain rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.contracts import REGISTRATION_EVENT, Contract
from chalicelib.domain.errors import ErrorCollector, ValidationFailed
from chalicelib.domain.images import parse_image_reference
from chalicelib.domain.labels import LabelValue, normalize_labels, validate_labels
from chalicelib.domain.limits import DEFAULT_CLUSTER, MAX_GENERATION
from chalicelib.domain.ownership import Owner
from chalicelib.domain.validation import schema_errors
from chalicelib.domain.versions import normalize_version
from chalicelib.domain.vocabularies import ResourceEventType
from chalicelib.domain.workflows import is_workflow_id

API_VERSION = "kubernaut.ai/v1alpha1"
KIND = "RemediationWorkflow"
EVENTS = tuple(ResourceEventType)
DELETED = ResourceEventType.DELETED


@dataclass(frozen=True)
class WorkflowResource:
    """The fields of a RemediationWorkflow the catalog uses, validated and normalised."""

    uid: str
    generation: int
    namespace: str
    name: str
    workflow_id: str
    version: str
    image: str | None  # None for a composite workflow (steps)
    title: str | None
    description: str | None
    labels: dict[str, LabelValue]
    enabled: bool
    # A composite workflow (docs/composite-workflows.md): its parameter schema and steps as the resource
    # writes them (workflowId, runAfter); registering it pulls nothing.
    parameters: dict[str, Any] | None = None
    steps: list[dict[str, Any]] | None = None
    finally_steps: list[dict[str, Any]] | None = None
    # The cluster the resource lives in: the delivering key's (never the body's); registrations recorded before
    # clusters existed were all of the default one.
    cluster: str = DEFAULT_CLUSTER

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def source(self) -> dict[str, Any]:
        """Where a workflow registered from this resource comes from (reconciliation compares it with the cluster)."""
        return {"uid": self.uid, "cluster": self.cluster, "namespace": self.namespace, "name": self.name,
                "generation": self.generation}

    @property
    def origin(self) -> Owner:
        """The owner a workflow first registered from this resource gets, and the one its later events must match."""
        return Owner.resource(self.cluster, self.namespace)

    def to_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid, "generation": self.generation, "namespace": self.namespace, "name": self.name,
            "workflow_id": self.workflow_id, "version": self.version, "image": self.image, "title": self.title,
            "description": self.description, "labels": self.labels, "enabled": self.enabled,
            "parameters": self.parameters, "steps": self.steps, "finally_steps": self.finally_steps,
            "cluster": self.cluster,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkflowResource:
        # Registrations recorded before composites existed have no parameters/steps: the defaults apply.
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


@dataclass(frozen=True)
class ResourceEvent:
    event: str
    resource: WorkflowResource


def parse_event(body: Mapping[str, Any], resource: Contract) -> ResourceEvent:
    """Validates ``{"event", "object"}``, the object against ``resource`` (the CRD's own schema, see
    chalicelib/adapters/crd.py) and what the API server cannot check; raises ValidationFailed listing every
    problem."""
    problems = ErrorCollector()
    problems.extend(REGISTRATION_EVENT.errors(body))
    if isinstance(body.get("object"), Mapping):
        problems.extend(schema_errors(resource.json_schema, body["object"], root="$.object"))
    problems.raise_if_any(resource.detail)
    parsed = _resource(body["object"], problems)
    if parsed is None:  # _resource recorded why
        raise ValidationFailed("The resource is not a valid RemediationWorkflow; see errors.", problems.errors)
    return ResourceEvent(body["event"], parsed)


def _resource(obj: Mapping[str, Any], problems: ErrorCollector) -> WorkflowResource | None:
    if obj.get("apiVersion") != API_VERSION:
        problems.add("$.object.apiVersion", f"must be {API_VERSION}")
    if obj.get("kind") != KIND:
        problems.add("$.object.kind", f"must be {KIND}")
    metadata = obj.get("metadata") or {}
    for key in ("uid", "name", "namespace"):
        if not isinstance(metadata.get(key), str) or not metadata[key]:
            problems.add(f"$.object.metadata.{key}", "is required (send the object as the API server returns it)")
    generation = metadata.get("generation")
    if not isinstance(generation, int) or isinstance(generation, bool) or not 1 <= generation <= MAX_GENERATION:
        problems.add("$.object.metadata.generation", "is required: a positive integer (int64)")
        generation = 0
    spec = obj["spec"]
    workflow_id = spec.get("workflowId", metadata.get("name"))
    where = "$.object.spec.workflowId" if "workflowId" in spec else "$.object.metadata.name"
    if not is_workflow_id(workflow_id):
        problems.add(where, "must be a DNS-1123 label: lowercase letters, digits and '-', 1-63 characters "
                            "(and not a reserved id)")
    version = ""
    try:
        version = normalize_version(spec.get("version"))
    except ValueError as exc:
        problems.add("$.object.spec.version", str(exc))
    if "image" in spec:
        try:
            parse_image_reference(spec.get("image"))
        except ValueError as exc:
            problems.add("$.object.spec.image", str(exc))
    _composite_rules(spec, problems)
    problems.extend(validate_labels(spec.get("labels"), "$.object.spec.labels"))
    if problems.errors:
        return None
    return WorkflowResource(
        uid=metadata["uid"],
        generation=generation,
        namespace=metadata["namespace"],
        name=metadata["name"],
        workflow_id=workflow_id,
        version=version,
        image=spec.get("image"),
        title=spec.get("title"),
        description=spec.get("description"),
        labels=normalize_labels(spec["labels"]),
        enabled=spec.get("enabled", True),
        parameters=spec.get("parameters"),
        steps=spec.get("steps"),
        finally_steps=spec.get("finally"),
    )


def _composite_rules(spec: Mapping[str, Any], problems: ErrorCollector) -> None:
    """The CRD's CEL rules on image and steps (no CEL evaluator here; the API server applies them in a cluster)."""
    if ("image" in spec) == ("steps" in spec):
        problems.add("$.object.spec.image", "a RemediationWorkflow names either an image or steps (a composite "
                                            "workflow), exactly one of them")
    if "steps" in spec:
        for key in ("title", "description"):
            if key not in spec:
                problems.add(f"$.object.spec.{key}", "is required with steps: a composite has no image to read it from")
    if "finally" in spec and "steps" not in spec:
        problems.add("$.object.spec.finally", "belongs to a composite workflow: set spec.steps too")


def composite_body(resource: WorkflowResource) -> dict[str, Any]:
    """The create body (docs/composite-workflows.md) of a composite resource: its steps in the API's terms."""
    body: dict[str, Any] = {
        "workflow_id": resource.workflow_id, "version": resource.version, "title": resource.title,
        "description": resource.description, "labels": resource.labels,
        "parameters": resource.parameters if resource.parameters is not None else {"type": "object"},
        "steps": [_api_step(step) for step in resource.steps or []], "status": "active",
    }
    if resource.finally_steps is not None:
        body["finally"] = [_api_step(step) for step in resource.finally_steps]
    return body


# The resource spells fields the Kubernetes way (camelCase); the API the catalog's way.
RESOURCE_STEP_FIELDS = {"workflowId": "workflow_id", "runAfter": "run_after"}


def _api_step(step: Mapping[str, Any]) -> dict[str, Any]:
    return {RESOURCE_STEP_FIELDS.get(key, key): value for key, value in step.items()}


def resource_path(path: str) -> str:
    """An API error path (``$.steps[0].workflow_id``) as the resource's field (``spec.steps[0].workflowId``)."""
    for resource_field, api_field in RESOURCE_STEP_FIELDS.items():
        path = re.sub(rf"(\.(?:steps|finally)\[\d+\])\.{api_field}\b", rf"\1.{resource_field}", path)
    return "spec." + path.removeprefix("$.")
