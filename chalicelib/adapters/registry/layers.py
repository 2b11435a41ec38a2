"""Finds one file in an image's merged filesystem by streaming its layers top-down.

Nothing is written to disk: each layer is read once as a stream (digest-verified, size-capped,
gunzipped with a bound on the unpacked size) into a small index of its entries, whiteouts and
opaque directories. After each layer we try to resolve the path through the layers seen so far,
so a file in the top layer costs one download. Rules (OCI image spec, "Representing changes"):
- an entry in a layer hides the same path in every lower layer;
- ``.wh.<name>`` deletes ``<name>`` from lower layers, ``<dir>/.wh..wh..opq`` hides everything lower
  layers put in ``<dir>``; neither affects entries of its own layer;
- a non-directory entry hides everything lower layers put under that path;
- symlinks resolve in the merged view (absolute targets from the image root, ``..`` clamped at
  the root, at most 40 hops); a hard link resolves like a symlink to its absolute target.
Hand-written because no maintained Python library applies whiteouts (see the engineering notes).
"""

from __future__ import annotations

import posixpath
import tarfile
import zlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal, Protocol

from chalicelib.adapters.registry.errors import IMAGE_INVALID, IMAGE_TOO_LARGE, SCHEMA_INVALID, RegistryError
from chalicelib.adapters.registry.model import CHUNK, Descriptor, RegistryLimits

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
MAX_SYMLINK_HOPS = 40
FILE, DIRECTORY, SYMLINK, HARDLINK, OTHER = "file", "directory", "symlink", "hardlink", "other"


class BlobReader(Protocol):
    def read(self, size: int = -1) -> bytes: ...

    def drain(self) -> None: ...


OpenBlob = Callable[[Descriptor], AbstractContextManager[BlobReader]]


@dataclass(frozen=True)
class Entry:
    kind: str
    size: int = 0
    link: str | None = None  # normalised absolute target of a symlink or hard link


@dataclass
class LayerIndex:
    entries: dict[str, Entry] = field(default_factory=dict)
    whiteouts: set[str] = field(default_factory=set)
    opaque: set[str] = field(default_factory=set)
    contents: dict[str, bytes] = field(default_factory=dict)

    def hides(self, path: str) -> bool:
        """Whether this layer hides ``path`` of lower layers (it has no entry at ``path`` itself)."""
        if path in self.whiteouts:
            return True
        for ancestor in _ancestors(path):
            if ancestor in self.whiteouts or ancestor in self.opaque:
                return True
            entry = self.entries.get(ancestor)
            if entry is not None and entry.kind != DIRECTORY:
                return True
        return False


@dataclass(frozen=True)
class Found:
    path: str
    layer: int  # position counted from the top (0 = topmost layer)
    entry: Entry


@dataclass(frozen=True)
class Missing:
    why: str


class _Pending(Enum):
    """The answer depends on layers not read yet (an enum member, so ``is PENDING`` narrows types)."""

    PENDING = "pending"


PENDING = _Pending.PENDING
Pending = Literal[_Pending.PENDING]


def find_file(open_blob: OpenBlob, layers: Sequence[Descriptor], path: str, limits: RegistryLimits) -> bytes | Missing:
    """The content of ``path`` in the merged filesystem, or ``Missing`` saying why it is not there."""
    target = _normalise(path)
    top_down = list(reversed(layers))
    indexes: list[LayerIndex] = []
    wanted = {target}
    downloaded = 0
    for position, descriptor in enumerate(top_down):
        number = len(layers) - position  # 1-based from the bottom, as operators count layers
        if descriptor.size > limits.max_layer_bytes:
            raise RegistryError(
                IMAGE_TOO_LARGE,
                f"Layer {number} ({descriptor.digest}) is {descriptor.size} bytes; "
                f"the limit is {limits.max_layer_bytes}.",
            )
        downloaded += descriptor.size
        if downloaded > limits.max_total_bytes:
            raise RegistryError(
                IMAGE_TOO_LARGE, f"The layers read so far exceed the download limit of {limits.max_total_bytes} bytes."
            )
        indexes.append(read_layer(open_blob, descriptor, wanted, limits, number))
        outcome = resolve(indexes, target, complete=position == len(top_down) - 1, visited=wanted)
        if outcome is PENDING:
            continue
        if isinstance(outcome, Missing):
            return outcome
        assert isinstance(outcome, Found)
        if outcome.entry.kind != FILE:
            return Missing(f"/{target} is not a regular file in the image")
        if outcome.entry.size > limits.max_file_bytes:
            raise RegistryError(
                SCHEMA_INVALID, f"/{target} is {outcome.entry.size} bytes; the limit is {limits.max_file_bytes}."
            )
        layer_index = indexes[outcome.layer]
        if outcome.path not in layer_index.contents:
            # A symlink led to a file whose layer was read before we knew we wanted it.
            layer_number = len(layers) - outcome.layer
            layer_index = read_layer(open_blob, top_down[outcome.layer], {outcome.path}, limits, layer_number)
        return layer_index.contents[outcome.path]
    return Missing(f"/{target} is not in the image")


def resolve(
    indexes: Sequence[LayerIndex], path: str, complete: bool, visited: set[str] | None = None
) -> Found | Missing | Pending:
    """Resolves ``path`` (symlinks included) through layers given top first.

    Every path looked up is added to ``visited``, so that the next layer read keeps the content
    of a symlink's target without a second download.
    """
    parts = path.split("/")
    resolved: list[str] = []
    hops = 0
    i = 0
    while i < len(parts):
        current = "/".join([*resolved, parts[i]])
        if visited is not None:
            visited.add(current)
        found = _lookup(indexes, current, complete)
        if found is PENDING:
            return PENDING
        last = i == len(parts) - 1
        if found is None:
            if last:
                return Missing(f"/{path} is not in the image" if current == path else f"/{current} is not in the image")
            resolved.append(parts[i])  # a directory the archives create implicitly
            i += 1
            continue
        if isinstance(found, Missing):
            return found
        layer, entry = found
        if entry.kind in (SYMLINK, HARDLINK):
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                return Missing(f"/{path} is a symlink loop")
            base = "" if (entry.link or "").startswith("/") else "/".join(resolved)
            joined = posixpath.normpath("/" + posixpath.join(base, entry.link or "")).lstrip("/")
            parts = [*joined.split("/"), *parts[i + 1 :]] if joined else parts[i + 1 :]
            resolved, i = [], 0
            if not parts:
                return Missing(f"/{path} resolves to the root directory")
            continue
        if last:
            return Found("/".join([*resolved, parts[i]]), layer, entry)
        if entry.kind != DIRECTORY:
            return Missing(f"/{current} is not a directory")
        resolved.append(parts[i])
        i += 1
    return Missing(f"/{path} is not in the image")


def _lookup(indexes: Sequence[LayerIndex], path: str, complete: bool) -> tuple[int, Entry] | Missing | Pending | None:
    for position, index in enumerate(indexes):
        entry = index.entries.get(path)
        if entry is not None:
            return position, entry
        if index.hides(path):
            return Missing(
                f"/{path} was deleted by a later layer "
                "(a whiteout, an opaque directory or a file replacing its directory)"
            )
    return None if complete else PENDING


def read_layer(
    open_blob: OpenBlob, descriptor: Descriptor, wanted: set[str], limits: RegistryLimits, number: int
) -> LayerIndex:
    """Streams one layer into an index; keeps the content of ``wanted`` files up to the file limit."""
    index = LayerIndex()
    with open_blob(descriptor) as blob:
        stream: BlobReader = _Gunzip(blob, limits.max_unpacked_layer_bytes, number) if descriptor.gzipped else blob
        try:
            # typeshed asks any fileobj for read/write/seek/tell/close; stream mode ("r|") only reads.
            with tarfile.open(fileobj=stream, mode="r|") as archive:  # type: ignore[call-overload]
                for member in archive:
                    _index_member(archive, member, index, wanted, limits, number)
        except (tarfile.TarError, RegistryError) as exc:
            if isinstance(exc, RegistryError) and exc.reason != IMAGE_INVALID:
                raise
            # Bytes that are not what the manifest promised explain a broken archive best.
            blob.drain()
            if isinstance(exc, RegistryError):
                raise
            raise RegistryError(
                IMAGE_INVALID, f"Layer {number} ({descriptor.digest}) is not a valid tar archive: {exc}."
            ) from None
        blob.drain()  # verify the digest over every byte, including what follows the tar end marker
    return index


def _index_member(
    archive: tarfile.TarFile,
    member: tarfile.TarInfo,
    index: LayerIndex,
    wanted: set[str],
    limits: RegistryLimits,
    number: int,
) -> None:
    path = _member_path(member.name, number)
    if not path:
        return  # the root directory itself
    directory, name = posixpath.split(path)
    if name == OPAQUE_MARKER:
        index.opaque.add(directory)
        return
    if name.startswith(WHITEOUT_PREFIX):
        index.whiteouts.add(posixpath.join(directory, name[len(WHITEOUT_PREFIX) :]))
        return
    if member.isreg():
        index.entries[path] = Entry(FILE, size=member.size)
        if path in wanted and member.size <= limits.max_file_bytes:
            handle = archive.extractfile(member)
            index.contents[path] = handle.read() if handle else b""
    elif member.isdir():
        index.entries[path] = Entry(DIRECTORY)
    elif member.issym():
        index.entries[path] = Entry(SYMLINK, link=member.linkname)
    elif member.islnk():
        index.entries[path] = Entry(HARDLINK, link="/" + _member_path(member.linkname, number))
    else:
        index.entries[path] = Entry(OTHER)


def _member_path(name: str, number: int) -> str:
    """The archive path relative to the image root ("" for the root); refuses paths that climb out of it."""
    if "\x00" in name:
        raise RegistryError(IMAGE_INVALID, f"Layer {number} has an entry name containing a NUL byte.")
    normal = posixpath.normpath(name.lstrip("/")) if name.lstrip("/") else "."
    if normal == ".." or normal.startswith("../"):
        raise RegistryError(IMAGE_INVALID, f"Layer {number} has an entry outside the image root: {name!r}.")
    return "" if normal == "." else normal


def _normalise(path: str) -> str:
    return posixpath.normpath("/" + path).lstrip("/")


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


class _Gunzip:
    """Decompresses a gzip stream (all members) and stops past ``limit`` unpacked bytes (gzip bombs)."""

    def __init__(self, source: BlobReader, limit: int, number: int) -> None:
        self._source = source
        self._limit = limit
        self._number = number
        self._inflate = zlib.decompressobj(wbits=31)
        self._buffer = b""
        self._unpacked = 0
        self._eof = False

    def read(self, size: int = -1) -> bytes:
        size = CHUNK if size is None or size < 0 else size
        while len(self._buffer) < size and not self._eof:
            self._fill(size)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _fill(self, size: int) -> None:
        if self._inflate.unconsumed_tail:
            chunk = self._inflate.unconsumed_tail
        elif self._inflate.unused_data:
            # The next gzip member (concatenated members are valid gzip).
            chunk = self._inflate.unused_data
            self._inflate = zlib.decompressobj(wbits=31)
        else:
            chunk = self._source.read(CHUNK)
            if not chunk:
                if not self._inflate.eof and self._unpacked:
                    raise RegistryError(IMAGE_INVALID, f"Layer {self._number} ends in the middle of its gzip stream.")
                self._eof = True
                return
        try:
            out = self._inflate.decompress(chunk, max(size, CHUNK))
        except zlib.error:
            raise RegistryError(IMAGE_INVALID, f"Layer {self._number} is not valid gzip.") from None
        self._unpacked += len(out)
        if self._unpacked > self._limit:
            raise RegistryError(IMAGE_TOO_LARGE, f"Layer {self._number} unpacks to more than {self._limit} bytes.")
        self._buffer += out

    def drain(self) -> None:
        self._source.drain()
