"""HTTP for registry traffic under the egress rule (chalicelib/domain/egress.py).

Checked at the socket, not on the URL: checking a host name before requests connects leaves a DNS
rebinding gap (urllib3 would resolve the name again and may get another answer). So the urllib3
connection classes here resolve the name once, check every address, refuse the destination if any
address is refused, and connect to a checked address, while the connection keeps the original host
name for SNI, certificate verification and the Host header. Every connection requests makes through
a ``RegistryTransport`` session goes this way: registry API calls, each redirect hop, the token realm.

Redirects are followed here, hop by hop (never by requests), at most ``MAX_REDIRECTS`` of them;
each hop is a new request, so its destination meets the same check, and credentials are not sent
on once a hop leaves the origin they were meant for. Proxy settings from the environment are not
used: through a proxy, the address connected to would be the proxy's, not the destination's.

Two seams for tests (no test may reach the internet): ``resolve`` (name -> addresses) and ``dial``
(connect to a checked address), both the system's by default.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import DEFAULT_POOLBLOCK, HTTPAdapter
from urllib3 import PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from chalicelib.adapters.registry.errors import IMAGE_PULL_FAILED, REGISTRY_NOT_ALLOWED, RegistryError
from chalicelib.domain.egress import EgressRules, destination, non_public_kind

MAX_REDIRECTS = 5  # registries send blobs to one CDN or object-storage URL; chains are short
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
TOKEN_SERVICE = "token service"

Resolver = Callable[[str, int], Sequence[str]]


class Dialer(Protocol):
    """Opens a TCP connection to an already checked address (urllib3's create_connection)."""

    def __call__(
        self, address: tuple[str, int], timeout: Any, source_address: tuple[str, int] | None, socket_options: Any
    ) -> socket.socket: ...


def resolve_with_system(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for the name, in its order, each once."""
    infos = socket.getaddrinfo(host, port, urllib3_connection.allowed_gai_family(), socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class EgressRefused(Exception):
    """The egress rule refused a destination before any connection to it.

    Not an OSError on purpose: urllib3 and requests let it through unwrapped and unretried.
    """

    def __init__(self, host: str, port: int, plain_http: bool) -> None:
        super().__init__(destination(host, port))
        self.destination = destination(host, port)
        self.plain_http = plain_http


class EgressGuard:
    """Resolves, checks and connects: the only way a RegistryTransport session opens a socket."""

    def __init__(self, rules: EgressRules, resolve: Resolver = resolve_with_system, dial: Dialer | None = None) -> None:
        self._rules = rules
        self._resolve = resolve
        self._dial: Dialer = dial or urllib3_connection.create_connection

    def addresses(self, scheme: str, host: str, port: int) -> list[str]:
        """The checked addresses to connect to; EgressRefused when the rule refuses the destination."""
        if scheme != "https" and not self._rules.plain_http_allowed(host, port):
            raise EgressRefused(host, port, plain_http=True)
        addresses = list(self._resolve(host, port))
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "the name resolved to no address")
        if not self._rules.any_address_allowed(host, port) and any(non_public_kind(a) for a in addresses):
            raise EgressRefused(host, port, plain_http=False)
        return addresses

    def connect(
        self, scheme: str, host: str, port: int, timeout: Any, source_address: Any, socket_options: Any
    ) -> socket.socket:
        """A socket to one of the checked addresses, tried in the resolver's order."""
        failure: OSError | None = None
        for address in self.addresses(scheme, host, port):
            try:
                return self._dial((address, port), timeout, source_address, socket_options)
            except OSError as error:
                failure = error
        assert failure is not None  # addresses() returns at least one address
        raise failure


class _GuardedHTTPConnection(HTTPConnection):
    _egress_scheme = "http"

    def __init__(self, *args: Any, egress_guard: EgressGuard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._egress_guard = egress_guard

    def _new_conn(self) -> socket.socket:
        # urllib3's own _new_conn, with the guard's checked connect in place of create_connection.
        try:
            return self._egress_guard.connect(
                self._egress_scheme, self._dns_host, self.port, self.timeout, self.source_address, self.socket_options
            )
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error
        except TimeoutError as error:
            message = f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            raise ConnectTimeoutError(self, message) from error
        except OSError as error:
            raise NewConnectionError(self, f"Failed to establish a new connection: {error}") from error


class _GuardedHTTPSConnection(_GuardedHTTPConnection, HTTPSConnection):
    """TLS as urllib3 does it (SNI and hostname check on ``self.host``), over the guard's socket."""

    _egress_scheme = "https"


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedPoolManager(PoolManager):
    def __init__(self, egress_guard: EgressGuard, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._egress_guard = egress_guard
        self.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}

    def _new_pool(
        self, scheme: str, host: str, port: int, request_context: dict[str, Any] | None = None
    ) -> HTTPConnectionPool:
        # Extra pool arguments reach every connection the pool opens (urllib3's conn_kw).
        context = dict(self.connection_pool_kw if request_context is None else request_context)
        context["egress_guard"] = self._egress_guard
        return super()._new_pool(scheme, host, port, context)


class _GuardedAdapter(HTTPAdapter):
    def __init__(self, egress_guard: EgressGuard) -> None:
        self._egress_guard = egress_guard  # before super().__init__, which builds the pool manager
        super().__init__()

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = DEFAULT_POOLBLOCK, **pool_kwargs: Any
    ) -> None:
        self._pool_connections = connections
        self._pool_maxsize = maxsize
        self._pool_block = block
        self.poolmanager = _GuardedPoolManager(
            self._egress_guard, num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["proxies"] = None  # see the module docstring: the guard must see the real destination
        return super().send(request, *args, **kwargs)


class RegistryTransport:
    """GETs for registry traffic: a session whose every connection is egress-checked, redirects by hand."""

    def __init__(
        self,
        rules: EgressRules | None = None,
        session: requests.Session | None = None,
        resolve: Resolver = resolve_with_system,
        dial: Dialer | None = None,
    ) -> None:
        self.rules = rules or EgressRules()
        self.session = session or requests.Session()
        adapter = _GuardedAdapter(EgressGuard(self.rules, resolve, dial))
        self.session.adapters.clear()  # no other adapter may match a URL first
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def get(
        self,
        url: str,
        *,
        registry: str,
        timeout: tuple[float, float],
        service: str = "",
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """GET ``url`` for ``registry`` (its ``service``, e.g. the token service, for messages).

        Raises RegistryError ``RegistryNotAllowed`` when the rule refuses a destination on the way;
        connection failures are left to the caller as requests exceptions, as before.
        """
        current = dict(headers or {})
        origin = _origin(url, registry, service)
        for hop in range(MAX_REDIRECTS + 1):
            try:
                response = self.session.get(
                    url, headers=current, params=params, auth=auth, timeout=timeout, stream=stream,
                    allow_redirects=False,
                )  # fmt: skip
            except EgressRefused as refused:
                raise RegistryError(REGISTRY_NOT_ALLOWED, _refusal(registry, service, refused, hop)) from None
            except ValueError:  # requests' InvalidURL and InvalidSchema, or a Location it cannot parse
                raise _unusable(registry, service) from None
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                return response
            response.close()
            try:
                url = urljoin(response.url, location)
            except ValueError:
                raise _unusable(registry, service) from None
            hop_origin = _origin(url, registry, service)
            if hop_origin[0] not in ("http", "https"):
                raise RegistryError(
                    REGISTRY_NOT_ALLOWED,
                    f"{_subject(registry, service)} redirected the catalog to a URL that is not HTTP(S), "
                    "which is not allowed.",
                )
            params = None  # the Location is the whole next URL
            if hop_origin != origin:
                # Credentials belong to the origin they were configured or issued for (a CDN or an
                # object store must never see them), and stay dropped for the rest of the chain.
                current = {name: value for name, value in current.items() if name.lower() != "authorization"}
                auth = None
        raise RegistryError(
            IMAGE_PULL_FAILED, f"{_subject(registry, service)} redirected more than {MAX_REDIRECTS} times."
        )


def _origin(url: str, registry: str, service: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL a registry sent; RegistryError when it cannot be parsed."""
    try:
        parts = urlsplit(url)
        return parts.scheme, (parts.hostname or "").lower(), parts.port
    except ValueError:  # a bad IPv6 literal or port
        raise _unusable(registry, service) from None


def _unusable(registry: str, service: str) -> RegistryError:
    return RegistryError(IMAGE_PULL_FAILED, f"{_subject(registry, service)} sent a URL that cannot be used.")


def _subject(registry: str, service: str) -> str:
    return f"The {service} of registry {registry}" if service else f"Registry {registry}"


def _refusal(registry: str, service: str, refused: EgressRefused, hop: int) -> str:
    """Says what is not allowed and which setting allows it; never whether anything listens there."""
    where = refused.destination
    if hop:
        head = f"{_subject(registry, service)} redirected the catalog to {where}, which is not allowed"
    elif service:
        head = f"{_subject(registry, service)} is at {where}, which is not allowed"
    else:
        head = f"Registry {registry} is not allowed"
    if refused.plain_http:
        return f"{head}: plain HTTP is used only towards hosts listed in INSECURE_REGISTRIES, and {where} is not."
    return (
        f"{head}: the catalog connects only to public addresses unless the destination is listed; "
        f"list {where} in PRIVATE_REGISTRIES (HTTPS) or INSECURE_REGISTRIES (plain HTTP) to allow it."
    )
