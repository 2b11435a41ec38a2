"""HTTP for registry traffic under the egress rule (chalicelib/domain/egress.py).

Every connection requests makes through a ``RegistryTransport`` session is checked at the socket by the
shared egress guard (chalicelib/adapters/egress.py): registry API calls, each redirect hop, the token realm.

Redirects are followed here, hop by hop (never by requests), at most ``MAX_REDIRECTS`` of them;
each hop is a new request, so its destination meets the same check, and credentials are not sent
on once a hop leaves the origin they were meant for. Proxy settings from the environment are not
used: through a proxy, the address connected to would be the proxy's, not the destination's.

The guard's two seams for tests, ``resolve`` and ``dial``, are this transport's too.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit

import requests

from chalicelib.adapters.egress import Dialer, EgressGuard, EgressRefused, GuardedAdapter, Resolver, resolve_with_system
from chalicelib.adapters.registry.errors import IMAGE_PULL_FAILED, REGISTRY_NOT_ALLOWED, RegistryError
from chalicelib.domain.egress import EgressRules

MAX_REDIRECTS = 5  # registries send blobs to one CDN or object-storage URL; chains are short
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
TOKEN_SERVICE = "token service"

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
        adapter = GuardedAdapter(EgressGuard(self.rules, resolve, dial))
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
