"""Reconciliation between the cluster and the catalog: what a watcher sees after a full list.

A watcher sends the complete set of RemediationWorkflow resources in its scope (one namespace, or all);
the catalog disables the workflows whose source resource in that scope is not among them, and names
the resources whose generation it has not registered (``stale``), so the watcher forwards them again.
Reconciliation never enables anything: a resource that comes back registers normally.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.contracts import RECONCILE_REQUEST
from chalicelib.domain.errors import FieldError, ValidationFailed


@dataclass(frozen=True)
class LiveResource:
    uid: str
    namespace: str
    name: str
    generation: int


@dataclass(frozen=True)
class Reconciliation:
    namespace: str | None  # None: every namespace
    live: tuple[LiveResource, ...]

    @property
    def scope(self) -> str:
        return self.namespace or "*"


def parse_reconciliation(body: Mapping[str, Any]) -> Reconciliation:
    """The request checked against its contract; every live resource in the scope, each uid once."""
    RECONCILE_REQUEST.check(body)
    namespace = body["scope"]["namespace"]
    # JSON Schema's integer admits 353.0: the generation is stored and compared as an integer.
    live = tuple(LiveResource(r["uid"], r["namespace"], r["name"], int(r["generation"])) for r in body["live"])
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, resource in enumerate(live):
        if namespace is not None and resource.namespace != namespace:
            errors.append(FieldError(f"$.live[{index}].namespace", f"is outside the scope (namespace {namespace})"))
        if resource.uid in seen:
            errors.append(FieldError(f"$.live[{index}].uid", "is listed twice"))
        seen.add(resource.uid)
    if errors:
        raise ValidationFailed(RECONCILE_REQUEST.detail, errors[:100])
    return Reconciliation(namespace, live)
