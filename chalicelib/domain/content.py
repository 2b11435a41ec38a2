"""Content identity of a workflow version: SHA-256 of canonical JSON of the content fields."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

CONTENT_FIELDS = ("title", "description", "labels", "container_image", "parameters")
# A composite workflow's content also has its steps (docs/composite-workflows.md); a single-image
# version's hash is unchanged by their existence.
COMPOSITE_FIELDS = ("steps", "finally")


def canonical_json(value: Any) -> str:
    """Sorted keys, no insignificant whitespace, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(content: Mapping[str, Any]) -> str:
    fields = CONTENT_FIELDS + COMPOSITE_FIELDS if content.get("steps") is not None else CONTENT_FIELDS
    body = {key: content[key] for key in fields}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()
