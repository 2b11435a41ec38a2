"""The one text form of a point in time the catalog hands out: RFC 3339 in UTC with milliseconds and ``Z``
(API responses and notification payloads alike)."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
