"""Workflow versions: the input model, its validation, and the lifecycle rules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.content import content_hash
from chalicelib.domain.errors import ErrorCollector, FieldError, InvalidTransition
from chalicelib.domain.images import parse_image_reference
from chalicelib.domain.labels import LabelValue, normalize_labels, validate_labels
from chalicelib.domain.parameter_schema import validate_parameter_schema
from chalicelib.domain.versions import normalize_version

WORKFLOW_ID = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
RESERVED_IDS = frozenset({"search", "versions"})
MAX_TITLE = 200
MAX_DESCRIPTION = 8000
MAX_REASON = 1000

DRAFT, ACTIVE, DEPRECATED = "draft", "active", "deprecated"
STATUSES = (DRAFT, ACTIVE, DEPRECATED)
CREATE_STATUSES = (ACTIVE, DRAFT)
# Allowed lifecycle moves; deprecated is terminal and nothing goes back to draft.
TRANSITIONS = {DRAFT: {ACTIVE, DEPRECATED}, ACTIVE: {DEPRECATED}, DEPRECATED: set()}

CREATE_FIELDS = {"workflow_id", "version", "title", "description", "labels", "container_image", "parameters", "status"}


@dataclass(frozen=True)
class NewVersion:
    """A validated, normalised workflow version ready to be stored."""

    workflow_id: str
    version: str
    title: str
    description: str
    labels: dict[str, LabelValue]
    container_image: str
    parameters: dict[str, Any]
    status: str = ACTIVE

    @property
    def content(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "description": self.description,
            "labels": self.labels,
            "container_image": self.container_image,
            "parameters": self.parameters,
        }

    @property
    def content_hash(self) -> str:
        return content_hash(self.content)


def check_workflow_id(value: object, path: str = "$.workflow_id") -> list[FieldError]:
    if not isinstance(value, str) or not WORKFLOW_ID.match(value):
        return [FieldError(path, "must be a DNS-1123 label: lowercase letters, digits and '-', 1-63 characters")]
    if value in RESERVED_IDS:
        return [FieldError(path, f"'{value}' is reserved")]
    return []


def parse_new_version(body: Mapping[str, Any]) -> NewVersion:
    """Validates a create request; raises ValidationFailed listing every problem."""
    problems = ErrorCollector()
    for key in sorted(set(body) - CREATE_FIELDS):
        problems.add(f"$.{key}", "unknown field")
    workflow_id = parse_workflow_id(body.get("workflow_id"), problems)
    version = ""
    try:
        version = normalize_version(body.get("version"))
    except ValueError as exc:
        problems.add("$.version", str(exc))
    title = _text(body, "title", MAX_TITLE, problems)
    description = _text(body, "description", MAX_DESCRIPTION, problems)
    labels = _labels(body.get("labels"), problems)
    image = _pinned_image(body.get("container_image"), problems)
    parameters = _parameter_schema(body.get("parameters"), problems)
    status = body.get("status", ACTIVE)
    if status not in CREATE_STATUSES:
        problems.add("$.status", 'must be "active" or "draft"')
    problems.raise_if_any("The workflow version is not valid; see errors.")
    return NewVersion(
        workflow_id=workflow_id,
        version=version,
        title=title.strip(),
        description=description.strip(),
        labels=labels,
        container_image=image,
        parameters=parameters,
        status=status,
    )


def _labels(labels: object, problems: ErrorCollector) -> dict[str, LabelValue]:
    """The normalised labels ({} once their problems are recorded)."""
    errors = validate_labels(labels)
    problems.extend(errors)
    # Valid labels are a mapping; the isinstance only tells the type checker so.
    return normalize_labels(labels) if not errors and isinstance(labels, Mapping) else {}


def _pinned_image(image: object, problems: ErrorCollector, path: str = "$.container_image") -> str:
    """The image reference, pinned by digest ("" once the problem is recorded)."""
    if not isinstance(image, str):
        problems.add(path, "is required: an image reference pinned by digest (...@sha256:<64 hex>)")
        return ""
    try:
        reference = parse_image_reference(image)
    except ValueError as exc:
        problems.add(path, str(exc))
        return ""
    if reference.digest is None:
        problems.add(path, "must be pinned by digest (...@sha256:<64 hex>); a tag alone can change")
        return ""
    return image


def _parameter_schema(schema: object, problems: ErrorCollector) -> dict[str, Any]:
    """The parameter schema ({} once its problems are recorded)."""
    if schema is None:
        problems.add("$.parameters", 'is required (a JSON Schema object; use {"type": "object"} for none)')
        return {}
    errors = validate_parameter_schema(schema)
    problems.extend(errors)
    # A valid schema is a mapping; the isinstance only tells the type checker so.
    return dict(schema) if not errors and isinstance(schema, Mapping) else {}


def parse_workflow_id(value: object, problems: ErrorCollector, path: str = "$.workflow_id") -> str:
    """The workflow id ("" once the problem is recorded)."""
    errors = check_workflow_id(value, path)
    problems.extend(errors)
    return value if not errors and isinstance(value, str) else ""


def _text(body: Mapping[str, Any], key: str, limit: int, problems: ErrorCollector) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.add(f"$.{key}", "is required and must be a non-empty string")
        return ""
    if len(value) > limit:
        problems.add(f"$.{key}", f"must be at most {limit} characters")
    return value


def check_transition(current: str, target: str) -> None:
    if target == current:
        return
    if target not in TRANSITIONS.get(current, set()):
        if current == DEPRECATED:
            raise InvalidTransition(
                f"Version is deprecated, which is final; publish a new version instead of moving it to '{target}'."
            )
        raise InvalidTransition(f"A version cannot go from '{current}' to '{target}'.")


def check_status(body: Mapping[str, Any], problems: ErrorCollector) -> str:
    """The target of a status change ("" once the problem is recorded; check_transition judges the move)."""
    target = body.get("status")
    if not isinstance(target, str) or target not in STATUSES:
        problems.add("$.status", 'must be "active" or "deprecated"')
        return ""
    return target


def check_enabled(body: Mapping[str, Any], problems: ErrorCollector) -> bool:
    """The requested ``enabled`` flag (False once the problem is recorded)."""
    enabled = body.get("enabled")
    if not isinstance(enabled, bool):
        problems.add("$.enabled", "must be true or false")
        return False
    return enabled


def check_reason(body: Mapping[str, Any], problems: ErrorCollector) -> str:
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        problems.add("$.reason", "is required: say why, it is kept in the history")
        return ""
    if len(reason) > MAX_REASON:
        problems.add("$.reason", f"must be at most {MAX_REASON} characters")
    return reason.strip()
