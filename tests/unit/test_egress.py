"""The egress rule as truth tables: address ranges, listed destinations, the allowlist, the settings.

The guard's resolve -> check step runs here through its resolver seam (a dict plays DNS), so public
addresses are exercised without any test reaching the internet; connections are in
tests/registry/test_egress.py.
"""

from __future__ import annotations

import pytest

from chalicelib.adapters.egress import EgressGuard, EgressRefused
from chalicelib.config import load_settings
from chalicelib.domain.config_error import ConfigError
from chalicelib.domain.egress import EgressRules, non_public_kind, parse_destination

ADDRESSES = [
    # address,                     kind (None: public)
    ("8.8.8.8", None),
    ("1.1.1.1", None),
    ("93.184.215.14", None),
    ("100.63.255.255", None),  # just below the shared range
    ("100.128.0.0", None),  # just above it
    ("172.15.255.255", None),
    ("172.32.0.0", None),
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.10", "private"),
    ("100.64.0.1", "shared"),
    ("100.127.255.254", "shared"),
    ("127.0.0.1", "loopback"),
    ("127.0.0.2", "loopback"),
    ("127.255.255.254", "loopback"),
    ("169.254.169.254", "link-local"),  # AWS, GCP and Azure instance metadata
    ("169.254.0.1", "link-local"),
    ("192.0.0.8", "reserved"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("198.18.0.1", "reserved"),
    ("192.88.99.1", "reserved"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    # IPv6
    ("2606:4700:4700::1111", None),
    ("2a00:1450:4001:82a::200e", None),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("fd00:ec2::254", "unique-local"),  # the EC2 metadata service over IPv6
    ("fd00::1", "unique-local"),
    ("fc00::1", "unique-local"),
    ("fec0::1", "reserved"),
    ("ff02::1", "multicast"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("2001::1", "reserved"),  # Teredo
    ("2002:a00:1::1", "reserved"),  # 6to4
    ("100::1", "reserved"),
    ("64:ff9b:1::1", "private"),
    ("::10.0.0.1", "reserved"),  # IPv4-compatible, deprecated
    ("4000::1", "reserved"),  # outside global unicast
    # IPv4 carried in IPv6 is judged as the IPv4 address it reaches
    ("::ffff:8.8.8.8", None),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.1.2.3", "private"),
    ("::ffff:169.254.169.254", "link-local"),
    ("::ffff:100.64.0.1", "shared"),
    ("::ffff:0.0.0.0", "unspecified"),
    ("64:ff9b::8.8.8.8", None),
    ("64:ff9b::10.0.0.1", "private"),
    ("64:ff9b::169.254.169.254", "link-local"),
]


@pytest.mark.parametrize(("address", "kind"), ADDRESSES)
def test_address_truth_table(address: str, kind: str | None) -> None:
    assert non_public_kind(address) == kind


DESTINATIONS = [
    ("registry.example.com", ("registry.example.com", None)),
    ("Registry.Example.COM:5000", ("registry.example.com", 5000)),
    ("registry.example.com.:443", ("registry.example.com", 443)),
    ("localhost:5000", ("localhost", 5000)),
    ("10.0.0.5", ("10.0.0.5", None)),
    ("10.0.0.5:5000", ("10.0.0.5", 5000)),
    ("[fd00::1]", ("fd00::1", None)),
    ("[FD00:0:0::1]:5000", ("fd00::1", 5000)),
]


@pytest.mark.parametrize(("text", "parsed"), DESTINATIONS)
def test_destinations_parse_to_a_normalized_host_and_port(text: str, parsed: tuple[str, int | None]) -> None:
    assert parse_destination(text) == parsed


@pytest.mark.parametrize(
    "text", ["", "fd00::1", "[example.com]", "host:0", "host:65536", "host:port", "a_b.example", "-x.example", "a/b"]
)
def test_bad_destinations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_destination(text)


LISTING = [
    # entry in the list,        scheme,  host,              port, may reach non-public addresses
    ("PRIVATE", "reg.internal", "https", "reg.internal", 443, True),
    ("PRIVATE", "reg.internal", "https", "reg.internal", 5000, False),  # no port: the default only
    ("PRIVATE", "reg.internal:5000", "https", "reg.internal", 5000, True),
    ("PRIVATE", "reg.internal:5000", "https", "reg.internal", 443, False),
    ("PRIVATE", "reg.internal:5000", "https", "other.internal", 5000, False),
    ("PRIVATE", "REG.internal", "https", "reg.INTERNAL", 443, True),
    ("PRIVATE", "[fd00::1]:5000", "https", "fd00:0::1", 5000, True),
    ("INSECURE", "reg.internal", "http", "reg.internal", 80, True),
    ("INSECURE", "reg.internal", "http", "reg.internal", 5000, False),
    ("INSECURE", "reg.internal:5000", "http", "reg.internal", 5000, True),
    ("INSECURE", "reg.internal:5000", "https", "reg.internal", 5000, True),
    ("INSECURE", "127.0.0.1:5000", "http", "127.0.0.1", 5001, False),
]


@pytest.mark.parametrize(("which", "entry", "scheme", "host", "port", "allowed"), LISTING)
def test_listed_destinations_with_and_without_port(
    which: str, entry: str, scheme: str, host: str, port: int, allowed: bool
) -> None:
    rules = EgressRules.from_lists(
        insecure=[entry] if which == "INSECURE" else [], private=[entry] if which == "PRIVATE" else []
    )
    guard = EgressGuard(rules, resolve=lambda _host, _port: ["10.0.0.5"])
    if allowed:
        assert guard.addresses(scheme, host, port) == ["10.0.0.5"]
    else:
        with pytest.raises(EgressRefused):
            guard.addresses(scheme, host, port)


def test_plain_http_only_towards_insecure_registries_and_before_any_lookup() -> None:
    looked_up: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return ["93.184.215.14"]

    guard = EgressGuard(EgressRules.from_lists(private=["cdn.example.com:80"]), resolve=resolve)
    with pytest.raises(EgressRefused) as refused:
        guard.addresses("http", "cdn.example.com", 80)  # public, and PRIVATE-listed, but not INSECURE
    assert refused.value.plain_http and refused.value.destination == "cdn.example.com:80"
    assert looked_up == []
    assert guard.addresses("https", "cdn.example.com", 443) == ["93.184.215.14"]


def test_the_registry_a_reference_names_uses_plain_http_only_when_listed_insecure() -> None:
    rules = EgressRules.from_lists(insecure=["reg.internal", "10.0.0.5:5000"], private=["private.internal"])
    assert rules.plain_http("reg.internal") and rules.plain_http("reg.internal:80")
    assert rules.plain_http("10.0.0.5:5000")
    assert not rules.plain_http("reg.internal:5000")
    assert not rules.plain_http("private.internal")
    assert not rules.plain_http("127.0.0.1:5000")  # loopback is not trusted implicitly


# Public address handling through the resolver seam: what a name resolves to decides, not the name.
RESOLVED = [
    # name,                  addresses,                                  allowed
    ("registry.example.com", ["93.184.215.14"], True),
    ("registry.example.com", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"], True),
    ("registry.example.com", ["127.0.0.1"], False),  # a public-looking name on loopback
    ("registry.example.com", ["93.184.215.14", "10.0.0.7"], False),  # one refused address refuses the name
    ("registry.example.com", ["2606:4700::1", "fd00:ec2::254"], False),
    ("metadata.google.internal", ["169.254.169.254"], False),
    ("registry.example.com", ["::ffff:10.0.0.7"], False),
    ("registry.example.com", ["::ffff:93.184.215.14"], True),
    ("8.8.8.8", ["8.8.8.8"], True),
    ("0.0.0.0", ["0.0.0.0"], False),
]


@pytest.mark.parametrize(("name", "addresses", "allowed"), RESOLVED)
def test_the_check_is_on_the_resolved_addresses(name: str, addresses: list[str], allowed: bool) -> None:
    guard = EgressGuard(EgressRules(), resolve=lambda _host, _port: addresses)
    if allowed:
        assert guard.addresses("https", name, 443) == addresses
    else:
        with pytest.raises(EgressRefused) as refused:
            guard.addresses("https", name, 443)
        assert not refused.value.plain_http
        assert refused.value.destination == f"{name}:443"  # names the destination, never the addresses


ALLOWLIST = [
    # patterns,                              registry,                allowed
    (None, "anything.example.com:5000", True),
    (["ghcr.io"], "ghcr.io", True),
    (["ghcr.io"], "GHCR.io", True),
    (["ghcr.io"], "ghcr.io:443", False),
    (["ghcr.io"], "evil-ghcr.io", False),
    (["*.dkr.ecr.eu-west-1.amazonaws.com"], "123456789012.dkr.ecr.eu-west-1.amazonaws.com", True),
    (["*.dkr.ecr.eu-west-1.amazonaws.com"], "123456789012.dkr.ecr.us-east-1.amazonaws.com", False),
    (["registry.internal:*"], "registry.internal:5000", True),
    (["registry.internal:*"], "registry.internal", False),
    (["docker.io", "ghcr.io"], "docker.io", True),
]


@pytest.mark.parametrize(("patterns", "registry", "allowed"), ALLOWLIST)
def test_allowlist_truth_table(patterns: list[str] | None, registry: str, allowed: bool) -> None:
    assert EgressRules.from_lists(allowlist=patterns).registry_allowed(registry) is allowed


def test_settings_parse_the_three_lists() -> None:
    settings = load_settings(
        {
            "INSECURE_REGISTRIES": " 127.0.0.1:5000 , registry.local ",
            "PRIVATE_REGISTRIES": "registry.internal.example.com,[fd00::5]:8443",
            "REGISTRY_ALLOWLIST": "ghcr.io, *.dkr.ecr.*.amazonaws.com ,registry.internal.example.com",
        }
    )
    assert settings.insecure_registries == ("127.0.0.1:5000", "registry.local")
    assert settings.private_registries == ("registry.internal.example.com", "[fd00::5]:8443")
    assert settings.registry_allowlist == ("ghcr.io", "*.dkr.ecr.*.amazonaws.com", "registry.internal.example.com")
    defaults = load_settings({})
    assert (defaults.insecure_registries, defaults.private_registries, defaults.registry_allowlist) == ((), (), None)
    assert load_settings({"REGISTRY_ALLOWLIST": ""}).registry_allowlist is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INSECURE_REGISTRIES", "http://registry.local:5000"),
        ("INSECURE_REGISTRIES", "registry.local:99999"),
        ("PRIVATE_REGISTRIES", "fd00::1"),
        ("PRIVATE_REGISTRIES", "registry.internal/acme"),
        ("REGISTRY_ALLOWLIST", "ghcr.io/acme/*"),
        ("REGISTRY_ALLOWLIST", " , "),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})
