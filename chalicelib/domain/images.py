"""Container image references: ``[host[:port]/]repository[:tag][@sha256:<64 hex>]``.

Parsed by hand because the grammar is small and stable (distribution/reference) and the only
maintained Python parsers come bundled inside registry clients we do not use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*(?::[0-9]{{1,5}})?$|^\[[0-9a-fA-F:]+\](?::[0-9]{{1,5}})?$")
MAX_REFERENCE_LENGTH = 512


@dataclass(frozen=True)
class ImageReference:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``host/repository``, the string signature-policy patterns match."""
        return f"{self.registry}/{self.repository}"

    def pinned(self, digest: str) -> str:
        """The reference pinned to ``digest``, keeping the tag for readers."""
        tag = f":{self.tag}" if self.tag else ""
        return f"{self.name}{tag}@{digest}"

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.name}{tag}{digest}"


def parse_image_reference(text: str) -> ImageReference:
    """Parses an image reference or raises ValueError saying what is wrong with it."""
    if not isinstance(text, str) or not text or len(text) > MAX_REFERENCE_LENGTH:
        raise ValueError(f"must be an image reference of at most {MAX_REFERENCE_LENGTH} characters")
    if text != text.strip() or any(c.isspace() for c in text):
        raise ValueError("must not contain whitespace")
    rest, digest = text, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST.fullmatch(digest):
            raise ValueError("digest must be sha256: followed by 64 lowercase hex characters")
    tag = None
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise ValueError(f"'{tag}' is not a valid tag")
    parts = rest.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost" or parts[0].startswith("[")):
        registry, path = parts[0], parts[1:]
        if not _HOST.fullmatch(registry):
            raise ValueError(f"'{registry}' is not a valid registry host")
    else:
        registry, path = DOCKER_HUB, parts
        if len(path) == 1:
            path = ["library", *path]
    for component in path:
        if not _COMPONENT.fullmatch(component):
            raise ValueError(f"'{component}' is not a valid repository path component (lowercase, digits, . _ -)")
    return ImageReference(registry=registry, repository="/".join(path), tag=tag, digest=digest)
