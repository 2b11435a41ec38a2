"""The resource's status for each stage of a registration: pure functions from catalog answers to a patch.

Condition ``Ready`` follows metav1.Condition; its reason is the catalog error type in CamelCase
(``image-pull-failed`` -> ``ImagePullFailed``), so new error kinds need no change here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

PENDING, REGISTERED, FAILED, DISABLED = "Pending", "Registered", "Failed", "Disabled"
MAX_MESSAGE = 4000
OWNED = ("phase", "observedGeneration", "message", "conditions", "registrationId", "workflowId", "catalogVersion",
         "imageDigest", "shortDigest")


def pending(generation: int, registration_id: str, workflow_id: str | None, version: str | None,
            current: dict[str, Any]) -> dict[str, Any]:
    return _status(current, generation, PENDING, "Unknown", "RegistrationPending",
                   f"registration {registration_id} queued", registrationId=registration_id,
                   workflowId=workflow_id, catalogVersion=version)


def rejected(generation: int, reason: str, message: str, current: dict[str, Any]) -> dict[str, Any]:
    """The catalog refused the resource before queueing anything (e.g. a label key the CRD cannot check)."""
    return _status(current, generation, FAILED, "False", reason, message)


def outcome(registration: dict[str, Any], generation: int, enabled: bool, current: dict[str, Any]) -> dict[str, Any]:
    """Status for a finished registration (``status`` succeeded or failed)."""
    digest = registration.get("image_digest")
    common = {"registrationId": registration.get("registration_id"), "workflowId": registration.get("workflow_id"),
              "catalogVersion": registration.get("version"), "imageDigest": digest, "shortDigest": short_digest(digest)}
    if registration.get("status") == "succeeded":
        if not enabled:
            return _status(current, generation, DISABLED, "False", "Disabled",
                           "registered; the workflow is disabled (spec.enabled is false)", **common)
        return _status(current, generation, REGISTERED, "True", "Registered",
                       f"registered as {common['workflowId']} {common['catalogVersion']} ({digest})", **common)
    error = registration.get("error") or {}
    message = error.get("detail") or error.get("title") or "registration failed"
    return _status(current, generation, FAILED, "False", reason_from(error.get("type")), message, **common)


def reason_from(error_type: object) -> str:
    """``https://.../problems/image-pull-failed`` or ``image-pull-failed`` -> ``ImagePullFailed``."""
    slug = str(error_type or "").rstrip("/").rsplit("/", 1)[-1]
    words = [word for word in re.split(r"[^A-Za-z0-9]+", slug) if word]
    reason = "".join(word[:1].upper() + word[1:] for word in words)
    return reason if reason[:1].isalpha() else "RegistrationFailed"


def short_digest(digest: str | None) -> str | None:
    if not digest or ":" not in digest:
        return digest
    algorithm, hex_part = digest.split(":", 1)
    return f"{algorithm}:{hex_part[:12]}"


def is_current(current: dict[str, Any], desired: dict[str, Any]) -> bool:
    """Would the patch change nothing? (Compared without the condition's transition time.)"""
    def strip(status: dict[str, Any]) -> dict[str, Any]:
        conditions = [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in status.get("conditions", [])]
        return {**status, "conditions": conditions}

    return all(strip(current).get(key) == value for key, value in strip(desired).items())


def _status(current: dict[str, Any], generation: int, phase: str, ready: str, reason: str, message: str,
            **extra: Any) -> dict[str, Any]:
    message = message[:MAX_MESSAGE]
    previous = next((c for c in current.get("conditions", []) if c.get("type") == "Ready"), {})
    # Standard condition semantics: the transition time moves only when the condition's status does.
    changed_at = previous.get("lastTransitionTime") if previous.get("status") == ready else None
    condition = {"type": "Ready", "status": ready, "reason": reason, "message": message,
                 "observedGeneration": generation, "lastTransitionTime": changed_at or _now()}
    # Every field the watcher owns is set; None removes a stale value (merge-patch semantics), e.g. the
    # digest of the previous generation while a new one is pending.
    status = dict.fromkeys(OWNED)
    status.update(phase=phase, observedGeneration=generation, message=message, conditions=[condition], **extra)
    return status


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
