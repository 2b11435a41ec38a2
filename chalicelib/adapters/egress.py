"""Outbound connections under the egress rule (chalicelib/domain/egress.py), for every client that connects
where configuration or input points: registry traffic (chalicelib/adapters/registry/transport.py) and the
notification webhook (chalicelib/adapters/webhook.py).

Checked at the socket, not on the URL: checking a host name before a client connects leaves a DNS
rebinding gap (the client would resolve the name again and may get another answer). So ``EgressGuard``
resolves the name once, checks every address, refuses the destination if any address is refused, and
connects to a checked address, while the connection keeps the original host name for SNI, certificate
verification and the Host header. ``GuardedAdapter`` puts the guard under every connection a requests
session opens (urllib3's connection classes, with the guard's connect in place of theirs); a client on
``http.client`` calls ``EgressGuard.connect`` itself.

Two seams for tests (no test may reach the internet): ``resolve`` (name -> addresses) and ``dial``
(connect to a checked address), both the system's by default.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import requests
from requests.adapters import DEFAULT_POOLBLOCK, HTTPAdapter
from urllib3 import PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from chalicelib.domain.egress import EgressRules, destination, non_public_kind

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
    """Resolves, checks and connects: the only way a RegistryTransport session or a notification webhook opens a
    socket."""

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


class GuardedAdapter(HTTPAdapter):
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
        kwargs["proxies"] = None  # through a proxy, the guard would check the proxy's address, not the destination's
        return super().send(request, *args, **kwargs)
