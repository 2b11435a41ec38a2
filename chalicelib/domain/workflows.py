"""Workflow versions: the input model, its validation, and the lifecycle rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.composite import Composition, parse_composition
from chalicelib.domain.content import content_hash
from chalicelib.domain.contracts import NEW_VERSION, ROLLBACK, STATUS_CHANGE, WORKFLOW_CHANGE
from chalicelib.domain.errors import FieldError, InvalidTransition, ValidationFailed
from chalicelib.domain.images import parse_image_reference
from chalicelib.domain.labels import LabelValue, normalize_labels
from chalicelib.domain.limits import RESERVED_WORKFLOW_IDS, WORKFLOW_ID_PATTERN
from chalicelib.domain.ownership import Owner
from chalicelib.domain.parameter_schema import validate_parameter_schema
from chalicelib.domain.patterns import search
from chalicelib.domain.versions import normalize_version
from chalicelib.domain.vocabularies import WorkflowStatus

DRAFT, ACTIVE, DEPRECATED = WorkflowStatus
STATUSES = tuple(WorkflowStatus)
CREATE_STATUSES = (ACTIVE, DRAFT)
# Allowed lifecycle moves; deprecated is terminal and nothing goes back to draft.
TRANSITIONS: dict[str, set[str]] = {DRAFT: {ACTIVE, DEPRECATED}, ACTIVE: {DEPRECATED}, DEPRECATED: set()}

@dataclass(frozen=True)
class NewVersion:
    """A validated, normalised workflow version ready to be stored."""

    workflow_id: str
    version: str
    title: str
    description: str
    labels: dict[str, LabelValue]
    container_image: str | None  # None for a composite workflow
    parameters: dict[str, Any]
    status: str = ACTIVE
    composition: Composition | None = None  # steps and finally of a composite workflow

    @property
    def content(self) -> dict[str, Any]:
        content = {
            "title": self.title,
            "description": self.description,
            "labels": self.labels,
            "container_image": self.container_image,
            "parameters": self.parameters,
        }
        if self.composition is not None:
            content.update(self.composition.to_content())
        return content

    @property
    def content_hash(self) -> str:
        return content_hash(self.content)


def is_workflow_id(value: object) -> bool:
    """Could ``value`` name a workflow? (Path segments that cannot are simply not found.)"""
    return isinstance(value, str) and search(WORKFLOW_ID_PATTERN, value) and value not in RESERVED_WORKFLOW_IDS


def parse_new_version(body: Mapping[str, Any]) -> NewVersion:
    """A create request checked against its contract and the rules a schema cannot say (SemVer bounds,
    image reference syntax, parameter-schema rules, what a composite's steps say by themselves); raises
    ValidationFailed listing every problem. What a composite's steps resolve to is the catalog's check
    (services/composites.py)."""
    # The contract's whole-body rules (exactly one of container_image and steps, finally only with steps) are
    # worded below per field, so its errors at "$" are left to those.
    errors = [error for error in NEW_VERSION.errors(body) if error.path != "$"]
    failed = {e.path for e in errors}
    version = ""
    if "$.version" not in failed:
        try:
            version = normalize_version(body["version"])
        except ValueError as exc:
            errors.append(FieldError("$.version", str(exc)))
    if "container_image" in body and "steps" in body:
        errors.append(FieldError("$.steps", "a version runs either one container_image or steps (a composite "
                                            "workflow), not both"))
    elif "container_image" not in body and "steps" not in body:
        errors.append(FieldError("$.container_image", "is required (or steps, for a composite workflow)"))
    elif "finally" in body and "steps" not in body:
        errors.append(FieldError("$.finally", "belongs to a composite workflow: give steps too"))
    if "container_image" in body and "$.container_image" not in failed:
        try:
            parse_image_reference(body["container_image"])
        except ValueError as exc:
            errors.append(FieldError("$.container_image", str(exc)))
    parameters_valid = not any(path == "$.parameters" or path.startswith("$.parameters.") for path in failed)
    if parameters_valid:
        errors.extend(validate_parameter_schema(body["parameters"]))
    composition = None
    if "steps" in body and not any(path.startswith(("$.steps", "$.finally")) for path in failed):
        composition, problems = parse_composition(body, body["parameters"] if parameters_valid else None)
        errors.extend(problems)
    if errors:
        raise ValidationFailed(NEW_VERSION.detail, errors)
    return NewVersion(
        workflow_id=body["workflow_id"],
        version=version,
        title=body["title"].strip(),
        description=body["description"].strip(),
        labels=normalize_labels(body["labels"]),
        container_image=body.get("container_image"),
        parameters=dict(body["parameters"]),
        status=body.get("status", ACTIVE),
        composition=composition,
    )


@dataclass(frozen=True)
class WorkflowChange:
    """A change of a workflow's flags (enabled, approval_required), its owner, its guard settings (each one given:
    a value, or None for the configured default) and/or its circuit (closed); None: unchanged."""

    enabled: bool | None
    approval_required: bool | None
    reason: str
    owner: Owner | None = None
    guards: Mapping[str, int | None] | None = None
    circuit: str | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> WorkflowChange:
        WORKFLOW_CHANGE.check(body)
        owner = Owner.from_dict(body["owner"]) if "owner" in body else None
        guards = None
        if "guards" in body:  # JSON Schema's integers include 1.0: store ints
            guards = {name: None if value is None else int(value) for name, value in body["guards"].items()}
        return cls(body.get("enabled"), body.get("approval_required"), body["reason"].strip(), owner, guards,
                   body.get("circuit"))


@dataclass(frozen=True)
class StatusChange:
    status: str
    reason: str

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> StatusChange:
        STATUS_CHANGE.check(body)
        return cls(body["status"], body["reason"].strip())


@dataclass(frozen=True)
class Rollback:
    to_version: str
    reason: str

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Rollback:
        ROLLBACK.check(body)
        try:
            to_version = normalize_version(body["to_version"])
        except ValueError as exc:
            raise ValidationFailed(ROLLBACK.detail, [FieldError("$.to_version", str(exc))]) from None
        return cls(to_version, body["reason"].strip())


def check_transition(current: str, target: str) -> None:
    if target == current:
        return
    if target not in TRANSITIONS.get(current, set()):
        if current == DEPRECATED:
            raise InvalidTransition(
                f"Version is deprecated, which is final; publish a new version instead of moving it to '{target}'."
            )
        raise InvalidTransition(f"A version cannot go from '{current}' to '{target}'.")
