"""Recommendation bodies shared by the recommendation and MCP tests."""

from __future__ import annotations

from typing import Any

RECOMMENDATIONS = "/api/v1/recommendations"
POST_SCOPE = ("recommendations:write",)


def recommendation(summary: str = "Restart the deployment with a heap dump when a memory leak causes OOMKills",
                   incident_id: str = "INC-1", signal_type: str = "OOMKilled", component: str | None = "deployment",
                   **changes: Any) -> dict[str, Any]:
    incident: dict[str, Any] = {"id": incident_id, "signal_type": signal_type, "severity": "critical",
                                "environment": "production"}
    if component is not None:
        incident["component"] = component
    body: dict[str, Any] = {
        "incident": incident,
        "summary": summary,
        "rationale": "The pods leak memory; raising the limit only delays the next OOMKill.",
        "proposed_steps": ["Capture a heap dump of the leaking pod", "Restart the deployment"],
        "confidence": 0.7,
    }
    body.update(changes)
    return body
