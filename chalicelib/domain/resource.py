"""A RemediationWorkflow event from the watcher: validated against the CRD's own openAPIV3Schema.

One source of truth for what a valid resource is: the schema is read from the CRD file in
``crds/`` and evaluated with jsonschema (Draft 7 covers every keyword a structural schema may
use), after dropping the Kubernetes-only ``x-kubernetes-*`` extensions and mapping OpenAPI's
``nullable``. The CRD's one CEL rule (no workflowId means the name must be a workflow id) and
what the API server cannot check (label keys) are checked with the catalog's own domain rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator

from chalicelib.domain.errors import ErrorCollector, FieldError, ValidationFailed
from chalicelib.domain.images import parse_image_reference
from chalicelib.domain.labels import LabelValue, normalize_labels, validate_labels
from chalicelib.domain.versions import normalize_version
from chalicelib.domain.workflows import check_workflow_id

API_VERSION = "kubernaut.ai/v1alpha1"
KIND = "RemediationWorkflow"
EVENTS = ("ADDED", "MODIFIED", "DELETED")
DELETED = "DELETED"
CRD_FILE = "remediationworkflow.yaml"
# The packaged Lambda has no repository root: scripts/package.sh copies crds/ into chalicelib/crds/.
CRD_DIRS = (Path(__file__).resolve().parents[1] / "crds", Path(__file__).resolve().parents[2] / "crds")


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


def parse_event(body: Mapping[str, Any]) -> ResourceEvent:
    """Validates ``{"event", "object"}``; raises ValidationFailed listing every problem."""
    problems = ErrorCollector()
    for key in sorted(set(body) - {"event", "object"}):
        problems.add(f"$.{key}", "unknown field")
    event = body.get("event")
    if not isinstance(event, str) or event not in EVENTS:
        problems.add("$.event", f"must be one of {', '.join(EVENTS)}")
        event = ""
    obj = body.get("object")
    if not isinstance(obj, Mapping):
        problems.add("$.object", "is required: the RemediationWorkflow resource as the API server returns it")
        raise ValidationFailed("The registration event is not valid; see errors.", problems.errors)
    problems.extend(_schema_errors(obj))
    problems.raise_if_any("The resource does not satisfy the RemediationWorkflow CRD; see errors.")
    resource = _resource(obj, problems)
    if resource is None:  # _resource recorded why
        raise ValidationFailed("The resource is not a valid RemediationWorkflow; see errors.", problems.errors)
    return ResourceEvent(event, resource)


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
    problems.extend(check_workflow_id(workflow_id, where))
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


def _schema_errors(obj: Mapping[str, Any]) -> list[FieldError]:
    errors = []
    for error in sorted(resource_validator().iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
        path = "$.object" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        if error.validator == "required":  # point at the missing field, not at its parent
            missing = error.message.split("'")[1]
            errors.append(FieldError(f"{path}.{missing}", "is required"))
        else:
            errors.append(FieldError(path, error.message))
    return errors


@cache
def resource_validator() -> Draft7Validator:
    """A validator for the CRD's openAPIV3Schema (served version), read once per process."""
    path = next((d / CRD_FILE for d in CRD_DIRS if (d / CRD_FILE).is_file()), None)
    if path is None:
        raise RuntimeError(f"the CRD {CRD_FILE} is missing (looked in {', '.join(map(str, CRD_DIRS))})")
    crd = yaml.safe_load(path.read_text())
    served = [
        v for v in crd["spec"]["versions"] if v.get("served") and f"{crd['spec']['group']}/{v['name']}" == API_VERSION
    ]
    return Draft7Validator(openapi_to_json_schema(served[0]["schema"]["openAPIV3Schema"]))


def openapi_to_json_schema(node: Any) -> Any:
    """Maps the few OpenAPI-v3-only keywords of a structural schema to JSON Schema."""
    if isinstance(node, list):
        return [openapi_to_json_schema(item) for item in node]
    if not isinstance(node, Mapping):
        return node
    mapped = {key: openapi_to_json_schema(value) for key, value in node.items() if not key.startswith("x-kubernetes-")}
    if mapped.pop("nullable", False) and "type" in mapped:
        mapped["type"] = [mapped["type"], "null"]
    return mapped
