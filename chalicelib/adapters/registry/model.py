"""Plain values shared by the registry client and the layer reader: limits and blob descriptors."""

from __future__ import annotations

from dataclasses import dataclass

GZIP_LAYERS = frozenset(
    {
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    }
)
TAR_LAYERS = frozenset(
    {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.docker.image.rootfs.diff.tar",
    }
)
CHUNK = 64 * 1024


@dataclass(frozen=True)
class RegistryLimits:
    """Bounds on what one registration may download and unpack."""

    connect_timeout: float = 3.05
    read_timeout: float = 20.0
    attempts: int = 3  # per request, for transient failures
    backoff_seconds: float = 0.2  # doubled after each failed attempt, with jitter
    max_manifest_bytes: int = 4 * 1024 * 1024
    max_layer_bytes: int = 512 * 1024 * 1024  # compressed size of one layer
    max_total_bytes: int = 2 * 1024 * 1024 * 1024  # compressed size of all layers downloaded
    max_unpacked_layer_bytes: int = 4 * 1024 * 1024 * 1024  # gzip-bomb guard
    max_file_bytes: int = 64 * 1024  # /playbook-schema.json


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    @property
    def gzipped(self) -> bool:
        return self.media_type in GZIP_LAYERS
