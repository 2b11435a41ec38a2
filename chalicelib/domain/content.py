"""Content identity of a workflow version: SHA-256 of canonical JSON of the content fields."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

CONTENT_FIELDS = ("title", "description", "labels", "container_image", "parameters")


def canonical_json(value: Any) -> str:
    """Sorted keys, no insignificant whitespace, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(content: Mapping[str, Any]) -> str:
    body = {key: content[key] for key in CONTENT_FIELDS}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()
