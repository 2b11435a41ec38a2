"""Finding /playbook-schema.json in images pushed to a real docker-registry on loopback."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from chalicelib.adapters.registry import (
    BasicCredentials,
    ConfiguredCredentials,
    Missing,
    RegistryClient,
    RegistryError,
    RegistryLimits,
)
from chalicelib.domain.images import parse_image_reference
from tests.support import oci
from tests.support.registry import LocalRegistry, down_host, hanging_server, insecure

SCHEMA = "/playbook-schema.json"
FAST = RegistryLimits(connect_timeout=0.5, read_timeout=0.5, attempts=2, backoff_seconds=0.01)
_names = itertools.count()


def repo() -> str:
    return f"acme/extract-{next(_names)}"


def client(
    host: str, limits: RegistryLimits = FAST, credentials: dict | None = None, platform: str = "linux/amd64"
) -> RegistryClient:
    """A client that reaches the loopback registry at ``host`` (listed in INSECURE_REGISTRIES)."""
    return RegistryClient(ConfiguredCredentials(credentials or {}), insecure(host), platform=platform, limits=limits)


def pull(
    registry: LocalRegistry, image: oci.Image | oci.Index, reader: RegistryClient | None = None
) -> bytes | Missing:
    name = repo()
    if isinstance(image, oci.Index):
        registry.pusher.push_index(name, "1.0.0", image)
    else:
        registry.pusher.push_image(name, "1.0.0", image)
    reader = reader or client(registry.host)
    _, found = reader.read_file(parse_image_reference(registry.reference(name, "1.0.0")), SCHEMA)
    return found


def doc(marker: str) -> bytes:
    return json.dumps(oci.playbook_schema(title=marker)).encode()


def test_simple_image_gives_the_file_and_a_digest_pinned_reference(oci_registry):
    image = oci.image(oci.layer({"bin/fix.sh": b"#!/bin/sh\n"}), oci.schema_layer(doc("simple")))
    name = repo()
    oci_registry.pusher.push_image(name, "1.0.0", image)
    reader = client(oci_registry.host)
    resolved = reader.resolve(parse_image_reference(oci_registry.reference(name, "1.0.0")))
    assert resolved.digest == image.digest
    assert resolved.pinned == f"{oci_registry.host}/{name}:1.0.0@{image.digest}"
    assert [layer.digest for layer in resolved.layers] == [layer.digest for layer in image.layers]
    assert pull(oci_registry, image) == doc("simple")


def test_a_later_layer_overwrites_the_file(oci_registry):
    image = oci.image(oci.schema_layer(doc("old")), oci.layer({"etc/x": b"1"}), oci.schema_layer(doc("new")))
    assert pull(oci_registry, image) == doc("new")


def test_a_whiteout_deletes_the_file(oci_registry):
    image = oci.image(oci.schema_layer(doc("old")), oci.layer({oci.whiteout("playbook-schema.json"): b""}))
    outcome = pull(oci_registry, image)
    assert isinstance(outcome, Missing)
    assert "deleted by a later layer" in outcome.why


def test_an_opaque_directory_hides_what_lower_layers_put_in_it(oci_registry):
    image = oci.image(
        oci.layer({"opt/wf/": oci.Directory(), "opt/wf/schema.json": doc("lower")}),
        oci.layer({"playbook-schema.json": oci.Symlink("/opt/wf/schema.json")}),
        oci.layer({"opt/wf/": oci.Directory(), oci.opaque("opt/wf"): b"", "opt/wf/README": b"nothing here"}),
    )
    outcome = pull(oci_registry, image)
    assert isinstance(outcome, Missing)


def test_an_opaque_directory_keeps_entries_of_its_own_layer(oci_registry):
    image = oci.image(
        oci.layer({"opt/wf/": oci.Directory(), "opt/wf/schema.json": doc("lower")}),
        oci.layer({"playbook-schema.json": oci.Symlink("opt/wf/schema.json")}),
        oci.layer({"opt/wf/": oci.Directory(), oci.opaque("opt/wf"): b"", "opt/wf/schema.json": doc("same-layer")}),
    )
    assert pull(oci_registry, image) == doc("same-layer")


def test_a_file_re_added_after_deletion_is_found(oci_registry):
    image = oci.image(
        oci.schema_layer(doc("first")),
        oci.layer({oci.whiteout("playbook-schema.json"): b""}),
        oci.schema_layer(doc("again")),
    )
    assert pull(oci_registry, image) == doc("again")


def test_symlinks_resolve_in_the_merged_filesystem(oci_registry):
    image = oci.image(
        oci.layer({"opt/": oci.Directory(), "opt/wf/": oci.Directory(), "opt/wf/schema.json": doc("via-link")}),
        oci.layer({"etc/": oci.Directory(), "etc/current": oci.Symlink("../opt/wf")}),
        oci.layer({"playbook-schema.json": oci.Symlink("etc/current/../../../opt/wf/schema.json")}),
    )
    assert pull(oci_registry, image) == doc("via-link")
    through_dir_link = oci.image(
        oci.layer({"opt/wf/": oci.Directory(), "opt/wf/schema.json": doc("dir-link")}),
        oci.layer(
            {"etc/current": oci.Symlink("/opt/wf"), "playbook-schema.json": oci.Symlink("/etc/current/schema.json")}
        ),
    )
    assert pull(oci_registry, through_dir_link) == doc("dir-link")


def test_a_symlink_loop_is_reported_not_followed_forever(oci_registry):
    image = oci.image(
        oci.layer({"a": oci.Symlink("b"), "b": oci.Symlink("a"), "playbook-schema.json": oci.Symlink("a")})
    )
    outcome = pull(oci_registry, image)
    assert isinstance(outcome, Missing) and "loop" in outcome.why


def test_a_hard_link_resolves_to_its_target(oci_registry):
    image = oci.image(
        oci.layer({"opt/schema.json": doc("hard"), "playbook-schema.json": oci.Hardlink("opt/schema.json")})
    )
    assert pull(oci_registry, image) == doc("hard")


def test_uncompressed_and_docker_media_type_layers(oci_registry):
    plain = oci.image(oci.layer({"x": b"1"}), oci.schema_layer(doc("plain"), compressed=False))
    assert pull(oci_registry, plain) == doc("plain")
    docker = oci.image(oci.layer({"x": b"1"}, docker=True), oci.schema_layer(doc("docker"), docker=True), docker=True)
    assert pull(oci_registry, docker) == doc("docker")


def test_a_multi_arch_index_gives_the_configured_platform(oci_registry):
    amd = oci.image(oci.schema_layer(doc("amd64")))
    arm = oci.image(oci.schema_layer(doc("arm64")), architecture="arm64", variant="v8")
    index = oci.Index((arm, amd))
    assert pull(oci_registry, index) == doc("amd64")
    assert pull(oci_registry, index, client(oci_registry.host, platform="linux/arm64")) == doc("arm64")

    name = repo()
    oci_registry.pusher.push_index(name, "multi", oci.Index((arm, amd), docker=True))
    resolved = client(oci_registry.host, platform="linux/arm64/v8").resolve(
        parse_image_reference(oci_registry.reference(name, "multi"))
    )
    assert resolved.digest == oci.Index((arm, amd), docker=True).digest  # the pin keeps every platform
    assert resolved.manifest_digest == arm.digest
    with pytest.raises(RegistryError, match="no linux/s390x image; the index offers linux/arm64/v8, linux/amd64"):
        client(oci_registry.host, platform="linux/s390x").resolve(
            parse_image_reference(oci_registry.reference(name, "multi"))
        )


def test_no_schema_file(oci_registry):
    outcome = pull(oci_registry, oci.image(oci.layer({"bin/fix.sh": b"#!/bin/sh\n"})))
    assert outcome == Missing("/playbook-schema.json is not in the image")


def test_a_directory_at_the_schema_path_is_not_a_schema(oci_registry):
    outcome = pull(oci_registry, oci.image(oci.layer({"playbook-schema.json/": oci.Directory()})))
    assert isinstance(outcome, Missing) and "not a regular file" in outcome.why


def test_a_schema_over_64_kib_is_refused(oci_registry):
    big = json.dumps(oci.playbook_schema(description="x" * 70_000)).encode()
    with pytest.raises(RegistryError) as caught:
        pull(oci_registry, oci.image(oci.schema_layer(big)))
    assert caught.value.reason == "SchemaInvalid"
    assert "limit is 65536" in caught.value.detail


def test_a_layer_over_the_cap_is_not_downloaded(oci_registry):
    image = oci.image(oci.layer({"blob": bytes(range(256)) * 64}, compressed=False), oci.schema_layer(doc("top")))
    limits = RegistryLimits(max_layer_bytes=4096, attempts=1)
    # The top layer has the file: the big one below is never needed, so the cap does not bite.
    assert pull(oci_registry, image, client(oci_registry.host, limits)) == doc("top")
    under = oci.image(oci.schema_layer(doc("bottom")), oci.layer({"blob": bytes(range(256)) * 64}, compressed=False))
    with pytest.raises(RegistryError) as caught:
        pull(oci_registry, under, client(oci_registry.host, limits))
    assert caught.value.reason == "ImageTooLarge"
    assert "Layer 2" in caught.value.detail and "the limit is 4096" in caught.value.detail


def test_total_download_cap(oci_registry):
    image = oci.image(oci.schema_layer(doc("bottom")), oci.layer({"a": b"a" * 3000}, compressed=False))
    with pytest.raises(RegistryError) as caught:
        pull(oci_registry, image, client(oci_registry.host, RegistryLimits(max_total_bytes=4000)))
    assert caught.value.reason == "ImageTooLarge"


def test_a_gzip_bomb_stops_at_the_unpacked_limit(oci_registry):
    bomb = oci.layer({"zeros": bytes(8 * 1024 * 1024)})
    assert len(bomb.data) < 64 * 1024  # tiny on the wire
    image = oci.image(oci.schema_layer(doc("bottom")), bomb)
    with pytest.raises(RegistryError) as caught:
        pull(oci_registry, image, client(oci_registry.host, RegistryLimits(max_unpacked_layer_bytes=1024 * 1024)))
    assert caught.value.reason == "ImageTooLarge" and "unpacks to more than" in caught.value.detail


def test_an_entry_outside_the_image_root_is_refused(oci_registry):
    image = oci.image(oci.layer({"../../etc/passwd": b"root::0:0::/:/bin/sh\n", "playbook-schema.json": doc("x")}))
    with pytest.raises(RegistryError) as caught:
        pull(oci_registry, image)
    assert caught.value.reason == "ImageInvalid" and "outside the image root" in caught.value.detail


def test_unknown_tag_fails_at_once_as_permanent(oci_registry):
    reader = client(oci_registry.host)
    with pytest.raises(RegistryError) as caught:
        reader.resolve(parse_image_reference(oci_registry.reference("acme/nothing-here", "9.9.9")))
    assert caught.value.reason == "ImagePullFailed" and not caught.value.transient
    assert "no tag '9.9.9' in repository acme/nothing-here" in caught.value.detail


def test_a_digest_reference_is_fetched_by_digest(oci_registry):
    image = oci.image(oci.schema_layer(doc("by-digest")))
    name = repo()
    oci_registry.pusher.push_image(name, "1.0.0", image)
    reference = parse_image_reference(f"{oci_registry.host}/{name}@{image.digest}")
    assert client(oci_registry.host).resolve(reference).digest == image.digest


def test_basic_auth_registry(basic_auth_registry):
    image = oci.image(oci.schema_layer(doc("private")))
    user, password = basic_auth_registry.auth
    creds = {basic_auth_registry.host: {"username": user, "password": password}}
    assert pull(basic_auth_registry, image, client(basic_auth_registry.host, credentials=creds)) == doc("private")

    with pytest.raises(RegistryError, match="requires authentication and no credentials are configured"):
        pull(basic_auth_registry, image)
    wrong = {basic_auth_registry.host: {"username": user, "password": "wrong"}}
    with pytest.raises(RegistryError) as caught:
        pull(basic_auth_registry, image, client(basic_auth_registry.host, credentials=wrong))
    assert "denied" in caught.value.detail and "wrong" not in caught.value.detail


def test_a_registry_that_hangs_times_out_as_a_transient_failure():
    with hanging_server() as host:
        started = time.monotonic()
        with pytest.raises(RegistryError) as caught:
            client(host).resolve(parse_image_reference(f"{host}/acme/slow:1.0.0"))
        elapsed = time.monotonic() - started
    assert caught.value.transient and caught.value.reason == "ImagePullFailed"
    assert "did not answer within 0.5s (2 attempts)" in caught.value.detail
    assert elapsed < 3


def test_a_registry_that_is_down_is_a_transient_failure():
    host = down_host()
    with pytest.raises(RegistryError) as caught:
        client(host).resolve(parse_image_reference(f"{host}/acme/gone:1.0.0"))
    assert caught.value.transient and "unreachable" in caught.value.detail


def test_credentials_never_appear_in_reprs():
    assert "hunter2" not in repr(BasicCredentials("robot", "hunter2"))
