"""Who owns a workflow (README, "Ownership, clusters and key limits"): pure rules, no I/O.

Every workflow has one owner: the origin of the RemediationWorkflow resource that first registered it
(its cluster, taken from the registering key, and its namespace), or the REST API for a workflow
created with ``POST /api/v1/playbooks``. Only the owner changes a workflow's versions: a registration
from any other origin fails and changes nothing, and REST cannot add versions to a resource-owned
workflow. Deleting the owning resource does not release it; only an admin key without limits moves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import WorkflowOwnedElsewhere
from chalicelib.domain.vocabularies import OwnerKind

RESOURCE, API = OwnerKind


@dataclass(frozen=True)
class Owner:
    kind: str
    cluster: str | None = None  # set for resource owners only
    namespace: str | None = None

    @classmethod
    def api(cls) -> Owner:
        return cls(API)

    @classmethod
    def resource(cls, cluster: str, namespace: str) -> Owner:
        return cls(RESOURCE, cluster, namespace)

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Owner:
        """An owner as the API writes it (already checked against the ``Owner`` contract)."""
        if body["kind"] == RESOURCE:
            return cls.resource(body["cluster"], body["namespace"])
        return cls.api()

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> Owner:
        """The owner recorded on a workflow row (``owner_kind``, ``owner_cluster``, ``owner_namespace``)."""
        return cls(row["owner_kind"], row["owner_cluster"], row["owner_namespace"])

    @classmethod
    def of_source(cls, source: Mapping[str, Any] | None) -> Owner:
        """The origin of a write: the resource a registration comes from (its ``source``), or the API (None)."""
        if source is None:
            return cls.api()
        return cls.resource(source["cluster"], source["namespace"])

    def to_dict(self) -> dict[str, str]:
        if self.kind == RESOURCE:
            return {"kind": RESOURCE, "cluster": str(self.cluster), "namespace": str(self.namespace)}
        return {"kind": API}

    @property
    def token(self) -> str:
        """How the workflow's history writes it: ``api`` or ``resource:<cluster>/<namespace>``."""
        return f"{RESOURCE}:{self.cluster}/{self.namespace}" if self.kind == RESOURCE else API

    def __str__(self) -> str:
        if self.kind == RESOURCE:
            return f"RemediationWorkflow resources of namespace '{self.namespace}' in cluster '{self.cluster}'"
        return "the REST API (POST /api/v1/playbooks)"


def check_owner(workflow_id: str, owner: Owner, origin: Owner) -> None:
    """Raises WorkflowOwnedElsewhere, naming the owner, when ``origin`` is not ``owner``."""
    if owner == origin:
        return
    if origin.kind == API:
        action = ("publish its versions through its resource, or ask an admin key without limits to move its owner "
                  f"(PATCH /api/v1/playbooks/{workflow_id} with owner and reason)")
    else:
        action = (f"this registration from {origin} changed nothing; rename the resource's workflowId, or ask an admin "
                  f"key without limits to move the owner (PATCH /api/v1/playbooks/{workflow_id} with owner and reason)")
    raise WorkflowOwnedElsewhere(f"Workflow '{workflow_id}' is owned by {owner}: {action}.")
