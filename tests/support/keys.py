"""API keys with limits for tests: namespaces, a cluster binding, as an Authorization header."""

from __future__ import annotations

from chalicelib.container import services


def bearer(*scopes: str, namespaces: list[str] | None = None, cluster: str | None = None,
           name: str = "limited test key") -> dict[str, str]:
    """A new real key with these scopes and limits, as the header that sends it (use with ``scopes=None``)."""
    _, token = services().api_keys.create(name, list(scopes), namespaces, cluster)
    return {"Authorization": f"Bearer {token}"}


def key_id_of(headers: dict[str, str]) -> str:
    principal = services().api_keys.authenticate(headers["Authorization"].removeprefix("Bearer "))
    assert principal is not None
    return principal.key_id
