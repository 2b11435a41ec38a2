"""The egress rule on real connections: loopback listeners that record every connection they accept.

127.0.0.2 plays a registry, 127.0.0.3 an internal service or a CDN. Names that do not exist in DNS
(``*.example.test``) resolve through the transport's resolver seam; "public" addresses are reached
through its dial seam, which routes them to a loopback listener, because no test may reach the
internet. Everything else (urllib3, TLS with SNI and certificate checks, HTTP) is real.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from chalicelib.adapters.registry import ConfiguredCredentials, RegistryClient, RegistryError, RegistryLimits
from chalicelib.adapters.registry.errors import REGISTRY_NOT_ALLOWED
from chalicelib.adapters.registry.transport import MAX_REDIRECTS, RegistryTransport
from chalicelib.domain.egress import EgressRules
from chalicelib.domain.images import parse_image_reference
from tests.support import oci
from tests.support.listeners import BlobStore, Listener, Network, ScriptedRegistry, free_port_on, listening
from tests.support.tls import TestAuthority

SCHEMA = b'{"schema_version": "1.0"}'
LIMITS = RegistryLimits(connect_timeout=1, read_timeout=2, attempts=2, backoff_seconds=0.01)
PUBLIC = "93.184.215.14"  # a public address; the dial seam routes it to a loopback listener
METADATA = "169.254.169.254"


@pytest.fixture
def net() -> Network:
    return Network()


@pytest.fixture
def no_env_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests prefers REQUESTS_CA_BUNDLE over session.verify; the tests verify against their own CA.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def reader(net: Network, ca_file: object = None, **lists: list[str]) -> RegistryClient:
    session = requests.Session()
    if ca_file is not None:
        session.verify = str(ca_file)
    transport = RegistryTransport(EgressRules.from_lists(**lists), session, net.resolve, net.dial)
    return RegistryClient(ConfiguredCredentials({}), transport, limits=LIMITS)


def pull(client: RegistryClient, registry: str, repository: str = "acme/fix") -> bytes:
    _, found = client.read_file(parse_image_reference(f"{registry}/{repository}:1.0.0"), "/playbook-schema.json")
    assert isinstance(found, bytes)
    return found


def refused(client: RegistryClient, registry: str, repository: str = "acme/fix") -> RegistryError:
    with pytest.raises(RegistryError) as caught:
        client.read_file(parse_image_reference(f"{registry}/{repository}:1.0.0"), "/playbook-schema.json")
    assert caught.value.reason == REGISTRY_NOT_ALLOWED, caught.value.detail
    assert not caught.value.transient  # a refusal is final: never retried
    return caught.value


@pytest.fixture
def image() -> oci.Image:
    return oci.image(oci.layer({"bin/fix.sh": b"#!/bin/sh\n"}), oci.schema_layer(SCHEMA))


@pytest.fixture
def registry(image: oci.Image) -> Iterator[tuple[Listener, ScriptedRegistry]]:
    script = ScriptedRegistry({"acme/fix": image})
    with listening("127.0.0.2", script) as listener:
        yield listener, script


@pytest.fixture
def internal() -> Iterator[Listener]:
    """An internal service the catalog must never reach (it would answer, to show it is never asked)."""
    with listening("127.0.0.3") as listener:
        yield listener


def test_a_loopback_registry_is_not_trusted_implicitly(net, registry):
    listener, _ = registry
    error = refused(reader(net), listener.host)
    assert listener.accepted == []
    assert f"Registry {listener.host} is not allowed" in error.detail
    assert "PRIVATE_REGISTRIES (HTTPS) or INSECURE_REGISTRIES (plain HTTP)" in error.detail


def test_a_listed_registry_is_pulled_from(net, registry):
    listener, _ = registry
    assert pull(reader(net, insecure=[listener.host]), listener.host) == SCHEMA
    assert listener.accepted and listener.requests


def test_a_refusal_does_not_tell_whether_anything_listens(net, registry):
    listener, _ = registry
    down = f"127.0.0.2:{free_port_on('127.0.0.2')}"
    listening_detail = refused(reader(net), listener.host).detail
    down_detail = refused(reader(net), down).detail
    assert listening_detail.replace(listener.host, "HOST") == down_detail.replace(down, "HOST")
    assert listener.accepted == []

    # Listed destinations keep the operator-readable detail.
    with pytest.raises(RegistryError) as caught:
        pull(reader(net, insecure=[down]), down)
    assert caught.value.transient and "unreachable" in caught.value.detail
    with pytest.raises(RegistryError) as caught:
        pull(reader(net, insecure=[listener.host]), listener.host, "acme/absent")
    assert "no tag '1.0.0' in repository acme/absent" in caught.value.detail


def test_the_check_is_on_the_address_connected_to_not_the_name(net, registry):
    listener, _ = registry
    name = f"registry.example.test:{listener.port}"
    net.names["registry.example.test"] = [listener.ip]  # a public-looking name on loopback
    error = refused(reader(net), name)
    assert listener.accepted == [] and net.dialed == []
    assert listener.ip not in error.detail  # never the resolved address

    # Listed, the same name is reached at the address it resolved to (no such name exists in DNS),
    # while the request still names the original host.
    assert pull(reader(net, insecure=[name]), name) == SCHEMA
    assert set(net.dialed) == {(listener.ip, listener.port)}
    assert {request.header("Host") for request in listener.requests} == {name}


def test_one_refused_address_refuses_the_name(net, registry):
    listener, _ = registry
    net.names["registry.example.test"] = [PUBLIC, listener.ip]
    refused(reader(net), f"registry.example.test:{listener.port}")
    assert net.dialed == [] and listener.accepted == []


def test_a_public_registry_is_reached_over_verified_tls_on_its_own_name(net, image, tmp_path, no_env_ca_bundle):
    authority = TestAuthority(tmp_path)
    script = ScriptedRegistry({"acme/fix": image})
    with listening("127.0.0.2", script, tls=authority.server_context("registry.example.test")) as listener:
        net.route("registry.example.test", PUBLIC, listener)
        name = f"registry.example.test:{listener.port}"
        assert pull(reader(net, authority.ca_file), name) == SCHEMA
        assert set(net.dialed) == {(PUBLIC, listener.port)}  # connected to the checked address
        assert set(listener.server_names) == {"registry.example.test"}  # SNI carries the original name
        assert {request.header("Host") for request in listener.requests} == {name}

    # A certificate for another name is refused: hostname verification stays on the original name.
    with listening("127.0.0.2", script, tls=authority.server_context("other.example.test")) as impostor:
        net.route("registry.example.test", PUBLIC, impostor)
        with pytest.raises(RegistryError) as caught:
            pull(reader(net, authority.ca_file), f"registry.example.test:{impostor.port}")
        assert caught.value.reason == "ImagePullFailed"
        assert impostor.accepted and impostor.requests == []  # TLS failed before any request


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_a_redirect_to_a_refused_host_is_never_followed(net, registry, internal, scheme):
    listener, script = registry
    script.blob_redirect = f"{scheme}://{internal.host}/latest/meta-data/iam/security-credentials"
    error = refused(reader(net, insecure=[listener.host]), listener.host)
    assert internal.accepted == []
    assert f"Registry {listener.host} redirected the catalog to {internal.host}, which is not allowed" in error.detail
    assert "meta-data" not in error.detail


def test_a_redirect_to_the_metadata_service_is_never_dialed(net, registry):
    listener, script = registry
    script.blob_redirect = f"https://{METADATA}/latest/meta-data"
    refused(reader(net, insecure=[listener.host]), listener.host)
    assert (METADATA, 443) not in net.dialed

    net.names["metadata.google.internal"] = [METADATA]
    script.blob_redirect = "https://metadata.google.internal/computeMetadata/v1"
    refused(reader(net, insecure=[listener.host]), listener.host)
    assert all(address[0] == listener.ip for address in net.dialed)


def test_a_redirect_to_a_public_cdn_is_followed_without_the_credentials(net, image, tmp_path, no_env_ca_bundle):
    authority = TestAuthority(tmp_path)
    store = BlobStore()
    store.add(image)
    script = ScriptedRegistry({"acme/fix": image}, basic=("robot", "pw"))
    with (
        listening("127.0.0.2", script) as registry_listener,
        listening("127.0.0.3", store, tls=authority.server_context("cdn.example.test")) as cdn,
    ):
        net.route("cdn.example.test", PUBLIC, cdn)
        script.blob_redirect = f"https://cdn.example.test:{cdn.port}/blobs"
        session = requests.Session()
        session.verify = str(authority.ca_file)
        rules = EgressRules.from_lists(insecure=[registry_listener.host])
        client = RegistryClient(
            ConfiguredCredentials({registry_listener.host: {"username": "robot", "password": "pw"}}),
            RegistryTransport(rules, session, net.resolve, net.dial),
            limits=LIMITS,
        )
        assert pull(client, registry_listener.host) == SCHEMA
    assert cdn.requests, "the blob came from the CDN"
    assert all(request.header("Authorization") is None for request in cdn.requests)
    assert any(request.header("Authorization") for request in registry_listener.requests)
    assert (PUBLIC, cdn.port) in net.dialed


def test_a_redirect_to_plain_http_is_refused_unless_listed_insecure(net, registry, internal):
    listener, script = registry
    net.route("cdn.example.test", PUBLIC, internal)
    script.blob_redirect = f"http://cdn.example.test:{internal.port}/blobs"
    error = refused(reader(net, insecure=[listener.host]), listener.host)
    assert "plain HTTP is used only towards hosts listed in INSECURE_REGISTRIES" in error.detail
    assert internal.accepted == [] and (PUBLIC, internal.port) not in net.dialed


def test_redirects_stop_after_the_hop_limit(net, registry):
    listener, script = registry
    script.manifest_redirects["1.0.0"] = f"{listener.url}/v2/acme/fix/manifests/1.0.0"  # to itself, forever
    with pytest.raises(RegistryError) as caught:
        pull(reader(net, insecure=[listener.host]), listener.host)
    assert (
        caught.value.reason == "ImagePullFailed"
        and f"redirected more than {MAX_REDIRECTS} times" in caught.value.detail
    )
    assert len(listener.requests) == MAX_REDIRECTS + 1


@pytest.mark.parametrize("location", ["http://[::1/x", "http://127.0.0.3:port/x", "ftp://127.0.0.3/x"])
def test_a_malformed_or_non_http_redirect_is_a_failure_not_a_crash(net, registry, location):
    listener, script = registry
    script.manifest_redirects["1.0.0"] = location
    with pytest.raises(RegistryError) as caught:
        pull(reader(net, insecure=[listener.host]), listener.host)
    expected = "RegistryNotAllowed" if location.startswith("ftp") else "ImagePullFailed"
    assert caught.value.reason == expected and not caught.value.transient
    assert all(address[0] == listener.ip for address in net.dialed)


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_a_token_realm_on_a_refused_host_is_never_contacted(net, registry, internal, scheme):
    listener, script = registry
    script.token_realm = f"{scheme}://{internal.host}/token"
    error = refused(reader(net, insecure=[listener.host]), listener.host)
    assert internal.accepted == []
    assert f"The token service of registry {listener.host} is at {internal.host}, which is not allowed" in error.detail

    # The same realm on the listed registry itself works.
    script.token_realm = f"{listener.url}/token"
    assert pull(reader(net, insecure=[listener.host]), listener.host) == SCHEMA


def test_a_registry_outside_the_allowlist_is_never_contacted(net, registry):
    listener, _ = registry
    outside = reader(net, insecure=[listener.host], allowlist=["ghcr.io", "127.0.0.2:1"])
    error = refused(outside, listener.host)
    assert listener.accepted == [] and net.dialed == []
    assert "REGISTRY_ALLOWLIST" in error.detail
    inside = reader(net, insecure=[listener.host], allowlist=["ghcr.io", "127.0.0.2:*"])
    assert pull(inside, listener.host) == SCHEMA
