"""Builds OCI / Docker images in memory: tar layers (gzip or plain), config, manifest, index.

Used by the tests, the benchmarks and ``make demo`` to make workflow images without a container
engine. The registry tests are about the exact bytes a registry serves, so images are assembled by
hand: every blob and manifest is hashed as the exact bytes that get pushed (devtools/registry.py).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Symlink:
    target: str


@dataclass(frozen=True)
class Hardlink:
    target: str


@dataclass(frozen=True)
class Directory:
    mode: int = 0o755


# A layer's entries in archive order: path -> file bytes, Symlink, Hardlink or Directory.
# Whiteouts are ordinary empty files named ".wh.<name>" (and ".wh..wh..opq" for an opaque directory).
Entries = dict[str, "bytes | Symlink | Hardlink | Directory"]


def whiteout(path: str) -> str:
    """The archive path that deletes ``path`` from lower layers."""
    head, _, name = path.rstrip("/").rpartition("/")
    return f"{head}/.wh.{name}" if head else f".wh.{name}"


def opaque(directory: str) -> str:
    """The archive path that hides everything lower layers put in ``directory``."""
    return f"{directory.rstrip('/')}/.wh..wh..opq"


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    def descriptor(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


@dataclass(frozen=True)
class Layer(Blob):
    diff_id: str = ""


def tar_bytes(entries: Entries) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, value in entries.items():
            info = tarfile.TarInfo(path)
            info.mtime = 0
            if isinstance(value, Symlink):
                info.type, info.linkname = tarfile.SYMTYPE, value.target
                tar.addfile(info)
            elif isinstance(value, Hardlink):
                info.type, info.linkname = tarfile.LNKTYPE, value.target
                tar.addfile(info)
            elif isinstance(value, Directory):
                info.type, info.mode = tarfile.DIRTYPE, value.mode
                tar.addfile(info)
            else:
                info.size, info.mode = len(value), 0o644
                tar.addfile(info, io.BytesIO(value))
    return out.getvalue()


def layer(entries: Entries, compressed: bool = True, docker: bool = False) -> Layer:
    """A layer blob; gzip with mtime 0 so the same entries always give the same digest."""
    raw = tar_bytes(entries)
    if not compressed:
        return Layer(OCI_LAYER_TAR, raw, diff_id=sha256_digest(raw))
    data = gzip.compress(raw, mtime=0)
    return Layer(DOCKER_LAYER_GZIP if docker else OCI_LAYER_GZIP, data, diff_id=sha256_digest(raw))


def schema_layer(document: dict | bytes, path: str = "playbook-schema.json", **kwargs: bool) -> Layer:
    data = document if isinstance(document, bytes) else json.dumps(document).encode()
    return layer({path: data}, **kwargs)


@dataclass(frozen=True)
class Image:
    """A single-platform image: config + manifest over ``layers`` (bottom first)."""

    layers: tuple[Layer, ...]
    os: str = "linux"
    architecture: str = "amd64"
    variant: str | None = None
    docker: bool = False
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def config(self) -> Blob:
        document: dict[str, object] = {
            "architecture": self.architecture,
            "os": self.os,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [item.diff_id for item in self.layers]},
        }
        if self.variant:
            document["variant"] = self.variant
        return Blob(DOCKER_CONFIG if self.docker else OCI_CONFIG, json.dumps(document, sort_keys=True).encode())

    @property
    def manifest(self) -> Blob:
        media_type = DOCKER_MANIFEST if self.docker else OCI_MANIFEST
        document: dict[str, object] = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": self.config.descriptor(),
            "layers": [item.descriptor() for item in self.layers],
        }
        if self.annotations:
            document["annotations"] = self.annotations
        return Blob(media_type, json.dumps(document, indent=2).encode())

    @property
    def digest(self) -> str:
        return self.manifest.digest

    @property
    def platform(self) -> dict[str, str]:
        platform = {"os": self.os, "architecture": self.architecture}
        if self.variant:
            platform["variant"] = self.variant
        return platform

    def blobs(self) -> list[Blob]:
        return [*self.layers, self.config]


@dataclass(frozen=True)
class Index:
    """A multi-platform index (or Docker manifest list) over images."""

    images: tuple[Image, ...]
    docker: bool = False

    @property
    def manifest(self) -> Blob:
        media_type = DOCKER_LIST if self.docker else OCI_INDEX
        entries = [{**image.manifest.descriptor(), "platform": image.platform} for image in self.images]
        document = {"schemaVersion": 2, "mediaType": media_type, "manifests": entries}
        return Blob(media_type, json.dumps(document, indent=2).encode())

    @property
    def digest(self) -> str:
        return self.manifest.digest


def image(*layers: Layer, **kwargs: object) -> Image:
    return Image(layers=tuple(layers), **kwargs)  # type: ignore[arg-type]


def playbook_schema(workflow_id: str = "oomkill-increase-memory", version: str = "1.0.0", **overrides: object) -> dict:
    """A valid /playbook-schema.json document (the example of docs/playbook-schema.md), with overrides."""
    document: dict[str, object] = {
        "schema_version": "1.0",
        "workflow_id": workflow_id,
        "version": version,
        "title": "Increase memory limit after OOMKill",
        "description": "Raises the memory limit of the owning Deployment when its pods are OOMKilled.",
        "labels": {
            "signal_type": "OOMKilled",
            "severity": ["critical"],
            "environment": ["*"],
            "component": "deployment",
        },
        "parameters": {
            "type": "object",
            "properties": {
                "TARGET_NAMESPACE": {
                    "type": "string",
                    "description": "Namespace of the workload",
                    "pattern": "^[a-z0-9-]{1,63}$",
                },
                "TARGET_DEPLOYMENT": {"type": "string", "description": "Deployment to patch"},
                "MEMORY_LIMIT": {
                    "type": "string",
                    "description": "New limit, e.g. 512Mi",
                    "pattern": "^[0-9]+(Mi|Gi)$",
                },
                "DRY_RUN": {"type": "boolean", "description": "Only print the patch", "default": False},
            },
            "required": ["TARGET_NAMESPACE", "TARGET_DEPLOYMENT", "MEMORY_LIMIT"],
            "additionalProperties": False,
        },
    }
    document.update(overrides)
    return {key: value for key, value in document.items() if value is not None}
