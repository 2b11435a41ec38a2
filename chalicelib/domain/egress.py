"""The egress rule for registry traffic: where a registration may make the catalog connect.

A registration names an image, and the catalog then connects wherever that name, the registry's
redirects and its token realm point. Inside a VPC that could be the database, the instance metadata
service or any private service, so (README, "Private registries and the egress rule"):

- a registry outside ``REGISTRY_ALLOWLIST`` (fnmatch patterns of the ``host[:port]`` references
  name) is never contacted;
- every connection goes to an address checked at connect time: an address that is not public is
  refused unless the destination ``host[:port]`` is listed in ``PRIVATE_REGISTRIES`` (HTTPS) or
  ``INSECURE_REGISTRIES`` (plain HTTP);
- plain HTTP is used only towards ``INSECURE_REGISTRIES``.

A listed entry without a port means the scheme's default port (443 for ``PRIVATE_REGISTRIES``, 80
for ``INSECURE_REGISTRIES``), as Docker reads ``insecure-registries``: listing a private host never
opens its other ports (a database, SSH) to registrations.

Pure: resolving names and connecting live in chalicelib/adapters/registry/transport.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

HTTP_PORT = 80
HTTPS_PORT = 443

# What is not public, by range (IANA special-purpose registries). Spelled out rather than taken from
# ``ipaddress``'s is_global/is_private, whose tables changed between Python patch releases.
_IPV4_RANGES: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(network), kind)
    for network, kind in (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared"),  # carrier-grade NAT
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),  # cloud metadata services (169.254.169.254)
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),  # IETF protocol assignments
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "reserved"),  # the retired 6to4 relay anycast
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "reserved"),  # benchmarking
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),  # the broadcast address included
    )
)
_IPV6_RANGES: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(network), kind)
    for network, kind in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("64:ff9b:1::/48", "private"),  # local-use NAT64 (inside ::/8, so before it)
        ("::/8", "reserved"),  # IPv4-compatible addresses included (IPv4-mapped ones are judged as IPv4)
        ("100::/64", "reserved"),  # discard-only
        ("2001::/23", "reserved"),  # IETF protocol assignments, Teredo included
        ("2001:db8::/32", "documentation"),
        ("2002::/16", "reserved"),  # 6to4, deprecated
        ("3fff::/20", "documentation"),
        ("fc00::/7", "unique-local"),  # the EC2 metadata service is fd00:ec2::254
        ("fe80::/10", "link-local"),
        ("fec0::/10", "reserved"),  # site-local, deprecated
        ("ff00::/8", "multicast"),
    )
)
_IPV6_GLOBAL_UNICAST = IPv6Network("2000::/3")  # everything else is unallocated or special
_NAT64 = IPv6Network("64:ff9b::/96")  # reaches the IPv4 address in its last 32 bits

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_DESTINATION = re.compile(r"^(?P<host>\[[^\]]*\]|[^:\[\]]+)(?::(?P<port>[0-9]{1,5}))?$")


def non_public_kind(address: str | IPv4Address | IPv6Address) -> str | None:
    """None for a public address, else the kind of range it lies in (``loopback``, ``private``, ...).

    An IPv6 address that carries an IPv4 one (IPv4-mapped ``::ffff:a.b.c.d``, NAT64
    ``64:ff9b::a.b.c.d``) reaches that IPv4 address, so it is judged as that address.
    Raises ValueError for text that is not an IP address.
    """
    ip = ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, IPv6Address):
        ip = ip_address(str(ip).split("%", 1)[0])  # a zone index (fe80::1%eth0) does not change the range
        assert isinstance(ip, IPv6Address)
        carried = ip.ipv4_mapped or (IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None)
        if carried is not None:
            return non_public_kind(carried)
        for network6, kind in _IPV6_RANGES:
            if ip in network6:
                return kind
        return None if ip in _IPV6_GLOBAL_UNICAST else "reserved"
    for network4, kind in _IPV4_RANGES:
        if ip in network4:
            return kind
    return None


def normalize_host(host: str) -> str:
    """The form hosts are compared in: lower case, no brackets or trailing dot, IPv6 compressed."""
    bare = host.strip("[]").rstrip(".").lower()
    try:
        return str(ip_address(bare))
    except ValueError:
        return bare


def parse_destination(text: str) -> tuple[str, int | None]:
    """``host[:port]`` (an IPv6 address in brackets) -> (normalized host, port or None).

    Raises ValueError saying what is wrong.
    """
    match = _DESTINATION.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not host[:port] (an IPv6 address goes in brackets)")
    raw_host, raw_port = match.group("host"), match.group("port")
    port = int(raw_port) if raw_port is not None else None
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"{text!r} has port {port}; ports are 1 to 65535")
    host = normalize_host(raw_host)
    if raw_host.startswith("["):
        try:
            IPv6Address(host)
        except ValueError:
            raise ValueError(f"{text!r}: only an IPv6 address goes in brackets") from None
        return host, port
    try:
        IPv4Address(host)
        return host, port
    except ValueError:
        pass
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in host.split(".")):
        raise ValueError(f"{text!r} is not a valid host name")
    return host, port


def destination(host: str, port: int) -> str:
    """``host:port`` for messages, an IPv6 address in brackets."""
    host = normalize_host(host)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class EgressRules:
    """INSECURE_REGISTRIES, PRIVATE_REGISTRIES and REGISTRY_ALLOWLIST, parsed."""

    insecure: frozenset[tuple[str, int]] = frozenset()  # (host, port): plain HTTP, any address
    private: frozenset[tuple[str, int]] = frozenset()  # (host, port): HTTPS, any address
    allowlist: tuple[str, ...] | None = None  # lower-case fnmatch patterns; None: any registry

    @classmethod
    def from_lists(
        cls, insecure: Iterable[str] = (), private: Iterable[str] = (), allowlist: Iterable[str] | None = None
    ) -> EgressRules:
        """From the settings' entries; ValueError for an entry that is not host[:port]."""
        return cls(
            insecure=frozenset(_listed(entry, HTTP_PORT) for entry in insecure),
            private=frozenset(_listed(entry, HTTPS_PORT) for entry in private),
            allowlist=None if allowlist is None else tuple(pattern.strip().lower() for pattern in allowlist),
        )

    def registry_allowed(self, registry: str) -> bool:
        """Whether a registration may name this registry (the ``host[:port]`` of its image reference)."""
        return self.allowlist is None or any(fnmatchcase(registry.lower(), pattern) for pattern in self.allowlist)

    def plain_http(self, registry: str) -> bool:
        """Whether the registry a reference names is reached over plain HTTP (listed in INSECURE_REGISTRIES)."""
        host, port = parse_destination(registry)
        return (host, port or HTTP_PORT) in self.insecure

    def plain_http_allowed(self, host: str, port: int) -> bool:
        return (normalize_host(host), port) in self.insecure

    def any_address_allowed(self, host: str, port: int) -> bool:
        """Whether this destination may resolve to addresses that are not public (it is listed)."""
        key = (normalize_host(host), port)
        return key in self.private or key in self.insecure


def _listed(entry: str, default_port: int) -> tuple[str, int]:
    host, port = parse_destination(entry.strip())
    return host, port or default_port
