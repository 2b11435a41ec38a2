"""A small OCI distribution client on ``requests``: resolve a reference, pick a platform, stream blobs.

Hand-written on purpose (see "A real OCI registry on loopback" in the engineering notes): oras-py
re-serialises manifests (so digests change), rejects indexes and caches one token for every scope;
python-dxf refuses credentials over plain HTTP; neither applies whiteouts. What we need is small:
GET manifests with the right Accept header and verify their digest, choose a platform from an
index, stream layer blobs with digest and size checks, answer Basic/Bearer challenges per scope,
retry transient failures with backoff and fail permanent ones at once.

Transport: HTTPS, except plain HTTP for the hosts listed in INSECURE_REGISTRIES (loopback is not
trusted implicitly). Every connection goes through ``RegistryTransport`` (transport.py), which
applies the egress rule (chalicelib/domain/egress.py) and follows redirects; a registry outside
REGISTRY_ALLOWLIST is refused here, before any connection.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
import urllib3.exceptions

from chalicelib.adapters.registry.auth import Authenticator, CredentialSource
from chalicelib.adapters.registry.errors import IMAGE_INVALID, IMAGE_PULL_FAILED, REGISTRY_NOT_ALLOWED, RegistryError
from chalicelib.adapters.registry.layers import Missing, find_file
from chalicelib.adapters.registry.model import CHUNK, GZIP_LAYERS, TAR_LAYERS, Descriptor, RegistryLimits
from chalicelib.adapters.registry.transport import RegistryTransport
from chalicelib.domain.images import DOCKER_HUB, ImageReference

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
ACCEPT = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])
HASHES = {"sha256": 64, "sha512": 128}
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    body: bytes

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass(frozen=True)
class ResolvedImage:
    reference: ImageReference
    digest: str  # what the reference points at now (an index or a manifest); what gets pinned
    manifest_digest: str  # the image manifest for our platform (== digest unless an index)
    layers: tuple[Descriptor, ...]  # bottom first

    @property
    def pinned(self) -> str:
        return self.reference.pinned(self.digest)


class RegistryClient:
    def __init__(
        self,
        credentials: CredentialSource,
        transport: RegistryTransport | None = None,
        platform: str = "linux/amd64",
        limits: RegistryLimits | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``transport`` carries the egress rule; without one, only public registries over HTTPS."""
        self.limits = limits or RegistryLimits()
        self.platform = platform
        self._transport = transport or RegistryTransport()
        self._rules = self._transport.rules
        self._timeout = (self.limits.connect_timeout, self.limits.read_timeout)
        self._auth = Authenticator(credentials, self._transport, self._timeout)
        self._sleep = sleep

    # -- references ---------------------------------------------------------------------------

    def resolve(self, reference: ImageReference) -> ResolvedImage:
        """Resolves the reference to a digest and the layers of the configured platform's image."""
        top = self.get_manifest(reference, reference.digest or reference.tag or "latest")
        chosen = top
        if top.media_type in INDEX_TYPES:
            entry = self._pick_platform(reference, top.json())
            chosen = self.get_manifest(reference, entry["digest"])
            if chosen.media_type not in MANIFEST_TYPES:
                raise RegistryError(
                    IMAGE_INVALID,
                    f"Image {reference}: the {self.platform} entry of the index is not an image manifest.",
                )
        layers = self._layers(reference, chosen.json())
        return ResolvedImage(reference=reference, digest=top.digest, manifest_digest=chosen.digest, layers=layers)

    def read_file(self, reference: ImageReference, path: str) -> tuple[ResolvedImage, bytes | Missing]:
        """Resolves the image and reads one file of its merged filesystem (layers top-down)."""
        resolved = self.resolve(reference)
        found = find_file(lambda d: self.open_blob(reference, d), resolved.layers, path, self.limits)
        return resolved, found

    def get_manifest(self, reference: ImageReference, tag_or_digest: str) -> Manifest:
        """The manifest at a tag or digest, digest-verified over the exact bytes served."""
        path = f"/v2/{reference.repository}/manifests/{tag_or_digest}"
        response = self._request(reference, path, {"Accept": ACCEPT})
        with response:
            if response.status_code == 404:
                what = f"tag '{tag_or_digest}'" if ":" not in tag_or_digest else f"digest {tag_or_digest}"
                raise RegistryError(
                    IMAGE_PULL_FAILED,
                    f"Image {reference}: no {what} in repository {reference.repository} of {reference.registry}.",
                    not_found=True,
                )
            self._raise_for_status(reference, response, "manifest")
            body = _read_capped(response, self.limits.max_manifest_bytes, f"Image {reference}: the manifest")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        expected = tag_or_digest if ":" in tag_or_digest else response.headers.get("Docker-Content-Digest")
        if expected and expected.startswith("sha256:") and expected != digest:
            raise RegistryError(
                IMAGE_PULL_FAILED,
                f"Image {reference}: the registry served a manifest whose digest is {digest}, not {expected}.",
            )
        try:
            document = json.loads(body)
        except ValueError:
            raise RegistryError(IMAGE_INVALID, f"Image {reference}: the manifest is not JSON.") from None
        if not isinstance(document, dict):
            raise RegistryError(IMAGE_INVALID, f"Image {reference}: the manifest is not a JSON object.")
        if document.get("schemaVersion") == 1:
            raise RegistryError(
                IMAGE_INVALID,
                f"Image {reference}: Docker schema 1 manifests are not supported; push it with a current client.",
            )
        media_type = document.get("mediaType") or response.headers.get("Content-Type", "").split(";")[0].strip()
        if media_type not in MANIFEST_TYPES | INDEX_TYPES:
            media_type = OCI_INDEX if "manifests" in document else OCI_MANIFEST if "layers" in document else media_type
        if media_type not in MANIFEST_TYPES | INDEX_TYPES:
            raise RegistryError(IMAGE_INVALID, f"Image {reference}: unsupported manifest media type '{media_type}'.")
        return Manifest(digest=digest, media_type=media_type, body=body)

    def _pick_platform(self, reference: ImageReference, index: dict[str, Any]) -> dict[str, Any]:
        os_name, arch, *rest = self.platform.split("/")
        variant = rest[0] if rest else None
        offered = []
        for entry in index.get("manifests") or []:
            platform = entry.get("platform") or {}
            offered.append(
                "/".join(filter(None, [platform.get("os"), platform.get("architecture"), platform.get("variant")]))
            )
            if (
                platform.get("os") == os_name
                and platform.get("architecture") == arch
                and variant in (None, platform.get("variant"))
            ):
                _check_digest(reference, entry.get("digest"))
                return entry
        raise RegistryError(
            IMAGE_PULL_FAILED,
            f"Image {reference} has no {self.platform} image; the index offers {', '.join(offered) or 'nothing'} "
            "(IMAGE_PLATFORM chooses the platform).",
        )

    def _layers(self, reference: ImageReference, manifest: dict[str, Any]) -> tuple[Descriptor, ...]:
        layers = []
        for position, raw in enumerate(manifest.get("layers") or [], start=1):
            if not isinstance(raw, dict) or not isinstance(raw.get("size"), int) or raw["size"] < 0:
                raise RegistryError(
                    IMAGE_INVALID, f"Image {reference}: layer {position} has no valid size in the manifest."
                )
            _check_digest(reference, raw.get("digest"))
            media_type = str(raw.get("mediaType", ""))
            if media_type not in GZIP_LAYERS | TAR_LAYERS:
                raise RegistryError(
                    IMAGE_INVALID,
                    f"Image {reference}: layer {position} has media type '{media_type}'; "
                    "only tar and tar+gzip layers are supported.",
                )
            layers.append(Descriptor(media_type, raw["digest"], raw["size"]))
        if not layers:
            raise RegistryError(IMAGE_INVALID, f"Image {reference}: the manifest lists no layers.")
        return tuple(layers)

    # -- blobs --------------------------------------------------------------------------------

    @contextmanager
    def open_blob(self, reference: ImageReference, descriptor: Descriptor) -> Iterator[VerifiedStream]:
        """A stream of the blob that fails unless its bytes match the descriptor's size and digest."""
        response = self._request(reference, f"/v2/{reference.repository}/blobs/{descriptor.digest}", {})
        with response:
            if response.status_code == 404:
                raise RegistryError(
                    IMAGE_PULL_FAILED,
                    f"Image {reference}: blob {descriptor.digest} is missing from the registry.",
                    not_found=True,
                )
            self._raise_for_status(reference, response, "blob")
            yield VerifiedStream(response, descriptor, str(reference))

    # -- HTTP ---------------------------------------------------------------------------------

    def base_url(self, host: str) -> str:
        if host == DOCKER_HUB:
            return "https://registry-1.docker.io"
        scheme = "http" if self._rules.plain_http(host) else "https"
        return f"{scheme}://{host}"

    def _request(self, reference: ImageReference, path: str, headers: dict[str, str]) -> requests.Response:
        """A streamed GET with auth, retrying connection failures, timeouts, 429 and 5xx with backoff."""
        host = reference.registry
        if not self._rules.registry_allowed(host):
            raise RegistryError(
                REGISTRY_NOT_ALLOWED,
                f"Registry {host} is not allowed: it matches no pattern of REGISTRY_ALLOWLIST, so the catalog "
                f"does not contact it; add a pattern matching {host} to REGISTRY_ALLOWLIST to allow it.",
            )
        scope = f"repository:{reference.repository}:pull"
        url = self.base_url(host) + path
        headers = {**headers, **self._auth.headers(host, scope)}
        answered = False
        attempt = 0
        problem = ""
        while attempt < self.limits.attempts:
            attempt += 1
            try:
                response = self._transport.get(url, registry=host, headers=headers, timeout=self._timeout, stream=True)
            except requests.Timeout:
                problem = f"did not answer within {self.limits.read_timeout:g}s"
            except requests.ConnectionError:
                problem = "is unreachable (connection failed)"
            else:
                if response.status_code == 401 and not answered:
                    # One challenge round trip per (host, scope); it does not count as an attempt.
                    challenge = response.headers.get("WWW-Authenticate")
                    response.close()
                    headers.update(self._auth.answer(host, scope, challenge))
                    answered = True
                    attempt -= 1
                    continue
                if response.status_code not in TRANSIENT_STATUSES:
                    return response
                problem = f"answered HTTP {response.status_code}"
                response.close()
            if attempt < self.limits.attempts:
                self._sleep(self.limits.backoff_seconds * (2 ** (attempt - 1)) * (0.5 + random.random() / 2))
        raise RegistryError(
            IMAGE_PULL_FAILED,
            f"Registry {host} {problem} ({self.limits.attempts} attempts) while pulling {reference}.",
            transient=True,
        )

    def _raise_for_status(self, reference: ImageReference, response: requests.Response, what: str) -> None:
        if response.status_code == 200:
            return
        if response.status_code in (401, 403):
            raise RegistryError(
                IMAGE_PULL_FAILED,
                f"Registry {reference.registry} denied pulling {reference} (HTTP {response.status_code}); "
                "check the credentials configured for it and their permissions.",
            )
        raise RegistryError(
            IMAGE_PULL_FAILED,
            f"Registry {reference.registry} answered HTTP {response.status_code} for the {what} of {reference}.",
        )


def _check_digest(reference: ImageReference, digest: object) -> None:
    algorithm, _, hexdigest = str(digest).partition(":")
    if HASHES.get(algorithm) != len(hexdigest) or any(c not in "0123456789abcdef" for c in hexdigest):
        raise RegistryError(IMAGE_INVALID, f"Image {reference}: the manifest names an invalid digest '{digest}'.")


def _read_capped(response: requests.Response, limit: int, what: str) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise RegistryError(IMAGE_INVALID, f"{what} is larger than {limit} bytes.")
    try:
        body = response.raw.read(limit + 1, decode_content=True)
    except (urllib3.exceptions.HTTPError, OSError):
        raise RegistryError(
            IMAGE_PULL_FAILED, f"{what} could not be read (connection broke).", transient=True
        ) from None
    if len(body) > limit:
        raise RegistryError(IMAGE_INVALID, f"{what} is larger than {limit} bytes.")
    return body


class VerifiedStream:
    """File-like reader over a blob response; at end of stream, size and digest must match."""

    def __init__(self, response: requests.Response, descriptor: Descriptor, image: str) -> None:
        self._raw = response.raw
        self._descriptor = descriptor
        self._image = image
        algorithm = descriptor.digest.split(":", 1)[0]
        self._hash = hashlib.new(algorithm)
        self.count = 0
        self._done = False

    def read(self, size: int = -1) -> bytes:
        if self._done:
            return b""
        size = CHUNK if size is None or size < 0 else size
        try:
            data = self._raw.read(size, decode_content=False)
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError):
            raise RegistryError(
                IMAGE_PULL_FAILED,
                f"Image {self._image}: download of layer {self._descriptor.digest} was interrupted.",
                transient=True,
            ) from None
        if data:
            self.count += len(data)
            if self.count > self._descriptor.size:
                raise RegistryError(
                    IMAGE_PULL_FAILED,
                    f"Image {self._image}: layer {self._descriptor.digest} is larger than the manifest says.",
                )
            self._hash.update(data)
            return data
        self._done = True
        if self.count != self._descriptor.size:
            raise RegistryError(
                IMAGE_PULL_FAILED,
                f"Image {self._image}: layer {self._descriptor.digest} ended after "
                f"{self.count} of {self._descriptor.size} bytes.",
                transient=True,
            )
        actual = f"{self._descriptor.digest.split(':', 1)[0]}:{self._hash.hexdigest()}"
        if actual != self._descriptor.digest:
            raise RegistryError(
                IMAGE_PULL_FAILED,
                f"Image {self._image}: layer {self._descriptor.digest} has digest {actual}; refusing it.",
            )
        return b""

    def drain(self) -> None:
        """Reads to the end, so that the digest is verified even when the caller needs no more bytes."""
        while self.read(CHUNK):
            pass
