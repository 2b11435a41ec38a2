"""A RemediationWorkflow event from the watcher, validated against the CRD's own openAPIV3Schema.

The schema comes from the CRD file (chalicelib/adapters/crd.py reads it; the domain reads no
files). The CRD's one CEL rule (no workflowId means the name must be a workflow id) and what the
API server cannot check (label keys) are checked with the catalog's own domain rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.contracts import REGISTRATION_EVENT, Contract
from chalicelib.domain.errors import ErrorCollector, ValidationFailed
from chalicelib.domain.images import parse_image_reference
from chalicelib.domain.labels import LabelValue, normalize_labels, validate_labels
from chalicelib.domain.validation import schema_errors
from chalicelib.domain.versions import normalize_version
from chalicelib.domain.workflows import is_workflow_id

API_VERSION = "kubernaut.ai/v1alpha1"
KIND = "RemediationWorkflow"
EVENTS = ("ADDED", "MODIFIED", "DELETED")
DELETED = "DELETED"


@dataclass(frozen=True)
class WorkflowResource:
    """The fields of a RemediationWorkflow the catalog uses, validated and normalised."""

    uid: str
    generation: int
    namespace: str
    name: str
    workflow_id: str
    version: str
    image: str
    title: str | None
    description: str | None
    labels: dict[str, LabelValue]
    enabled: bool

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def source(self) -> dict[str, Any]:
        """Where a workflow registered from this resource comes from (reconciliation compares it with the cluster)."""
        return {"uid": self.uid, "namespace": self.namespace, "name": self.name, "generation": self.generation}

    def to_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid, "generation": self.generation, "namespace": self.namespace, "name": self.name,
            "workflow_id": self.workflow_id, "version": self.version, "image": self.image, "title": self.title,
            "description": self.description, "labels": self.labels, "enabled": self.enabled,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkflowResource:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


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
    if not isinstance(generation, int) or isinstance(generation, bool) or generation < 1:
        problems.add("$.object.metadata.generation", "is required: a positive integer")
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
    try:
        parse_image_reference(spec.get("image"))
    except ValueError as exc:
        problems.add("$.object.spec.image", str(exc))
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
        image=spec["image"],
        title=spec.get("title"),
        description=spec.get("description"),
        labels=normalize_labels(spec["labels"]),
        enabled=spec.get("enabled", True),
    )
