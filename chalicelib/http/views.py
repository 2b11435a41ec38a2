"""Response shapes (the output models at the edge): database rows -> API JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.http.endpoint import rfc3339

Row = Mapping[str, Any]  # a row as the stores return it


def version_view(row: Row) -> dict[str, Any]:
    return {
        "workflow_id": row["workflow_id"],
        "version": row["version"],
        "title": row["title"],
        "description": row["description"],
        "labels": row["labels"],
        "container_image": row["container_image"],
        "parameters": row["parameters"],
        "status": row["status"],
        "content_hash": row["content_hash"].strip(),
        "created_at": rfc3339(row["created_at"]),
        "created_by": row["created_by"],
        "enabled": row["enabled"],
        "is_latest": bool(row["is_latest"]),
        "signature": row.get("signature"),  # {"verified", "key_id"}; None when not checked
    }


def change_view(row: Row) -> dict[str, Any]:
    return {
        "field": row["field"],
        "from": row["from_value"],
        "to": row["to_value"],
        "reason": row["reason"],
        "changed_by": row["changed_by"],
        "changed_at": rfc3339(row["changed_at"]),
    }


def history_view(
    workflow_id: str, rows: Sequence[Row], changes: Sequence[Row], next_cursor: str | None
) -> dict[str, Any]:
    by_version: dict[str | None, list[dict[str, Any]]] = {}
    for change in changes:
        by_version.setdefault(change["version"], []).append(change_view(change))
    items = []
    for row in rows:
        item = version_view(row)
        item["status_changes"] = by_version.get(row["version"], [])
        items.append(item)
    return {
        "workflow_id": workflow_id,
        "items": items,
        "workflow_changes": by_version.get(None, []),
        "next_cursor": next_cursor,
    }


def workflow_view(result: Row) -> dict[str, Any]:
    workflow, latest = result["workflow"], result["latest"]
    body: dict[str, Any] = version_view(latest) if latest else {"workflow_id": workflow["workflow_id"]}
    body["enabled"] = workflow["enabled"]
    body["latest_version"] = latest["version"] if latest else None
    body["versions"] = [
        {"version": v["version"], "status": v["status"], "created_at": rfc3339(v["created_at"])}
        for v in result["versions"]
    ]
    return body
