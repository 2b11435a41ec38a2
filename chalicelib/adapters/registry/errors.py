"""Why an image could not be read, in the reason vocabulary operators see on their resource."""

from __future__ import annotations

from chalicelib.domain.vocabularies import RegistrationReason

IMAGE_PULL_FAILED = RegistrationReason.IMAGE_PULL_FAILED
IMAGE_TOO_LARGE = RegistrationReason.IMAGE_TOO_LARGE
IMAGE_INVALID = RegistrationReason.IMAGE_INVALID
SCHEMA_MISSING = RegistrationReason.SCHEMA_MISSING
SCHEMA_INVALID = RegistrationReason.SCHEMA_INVALID
REGISTRY_NOT_ALLOWED = RegistrationReason.REGISTRY_NOT_ALLOWED


class RegistryError(Exception):
    """A failure reading an image. ``transient`` ones (network, 5xx, 429) are worth retrying;
    ``not_found`` says the registry answered 404 for what was asked (a tag, digest or blob)."""

    def __init__(self, reason: str, detail: str, transient: bool = False, not_found: bool = False) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.transient = transient
        self.not_found = not_found
