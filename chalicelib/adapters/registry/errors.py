"""Why an image could not be read, in the reason vocabulary operators see on their resource."""

from __future__ import annotations

IMAGE_PULL_FAILED = "ImagePullFailed"
IMAGE_TOO_LARGE = "ImageTooLarge"
IMAGE_INVALID = "ImageInvalid"
SCHEMA_MISSING = "SchemaMissing"
SCHEMA_INVALID = "SchemaInvalid"
# The registry, a redirect or a token realm points where the egress rule forbids (chalicelib/domain/egress.py).
REGISTRY_NOT_ALLOWED = "RegistryNotAllowed"


class RegistryError(Exception):
    """A failure reading an image. ``transient`` ones (network, 5xx, 429) are worth retrying;
    ``not_found`` says the registry answered 404 for what was asked (a tag, digest or blob)."""

    def __init__(self, reason: str, detail: str, transient: bool = False, not_found: bool = False) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.transient = transient
        self.not_found = not_found
