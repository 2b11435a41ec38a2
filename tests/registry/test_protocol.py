"""Registry conversations docker-registry cannot play (token service, corrupt blobs, flaky 503s).

pytest-httpserver is a real HTTP server on loopback scripted per test, so the client's requests
(Authorization headers, scopes, retries) can be asserted one by one.
"""

from __future__ import annotations

import base64
import json
import re

import pytest
from werkzeug import Request, Response

from chalicelib.adapters.registry import ConfiguredCredentials, RegistryClient, RegistryError, RegistryLimits, find_file
from chalicelib.domain.images import parse_image_reference
from tests.support import oci
from tests.support.registry import insecure

LIMITS = RegistryLimits(connect_timeout=0.5, read_timeout=0.5, attempts=3, backoff_seconds=0.01)


class FakeRegistry:
    """Serves one image per repository behind a Docker token service; records every request."""

    def __init__(self, base_url: str, images: dict[str, oci.Image], password: str = "pw") -> None:
        self.base_url = base_url
        self.images = images
        self.password = password
        self.requests: list[tuple[str, str, str]] = []  # (path, scope or "", authorization)
        self.failures: dict[str, list[int]] = {}  # path -> statuses to answer before the real one
        self.corrupt: set[str] = set()

    def __call__(self, request: Request) -> Response:
        auth = request.headers.get("Authorization", "")
        self.requests.append((request.path, request.args.get("scope", ""), auth))
        if request.path == "/token":
            expected = "Basic " + base64.b64encode(f"robot:{self.password}".encode()).decode()
            if auth != expected:
                return Response("denied", status=401)
            return Response(json.dumps({"token": f"tok|{request.args['scope']}", "expires_in": 300}))
        pending = self.failures.get(request.path)
        if pending:
            return Response("busy", status=pending.pop(0))
        repository, kind, ref = request.path[len("/v2/") :].rsplit("/", 2)
        scope = f"repository:{repository}:pull"
        if auth != f"Bearer tok|{scope}":
            challenge = f'Bearer realm="{self.base_url}/token",service="fake",scope="{scope}"'
            return Response("{}", status=401, headers={"WWW-Authenticate": challenge})
        image = self.images.get(repository)
        if image is None:
            return Response("{}", status=404)
        if kind == "manifests":
            return Response(image.manifest.data, headers={"Content-Type": image.manifest.media_type})
        blob = next((b for b in image.blobs() if b.digest == ref), None)
        if blob is None:
            return Response("{}", status=404)
        data = blob.data[:-1] + bytes([blob.data[-1] ^ 1]) if ref in self.corrupt else blob.data
        return Response(data, headers={"Content-Type": "application/octet-stream"})


@pytest.fixture
def fake(httpserver):
    registry = FakeRegistry(httpserver.url_for("").rstrip("/"), {})
    httpserver.expect_request(re.compile(".*")).respond_with_handler(registry)
    return registry


def _client(fake: FakeRegistry, password: str = "pw") -> RegistryClient:
    host = fake.base_url.removeprefix("http://")
    credentials = ConfiguredCredentials({host: {"username": "robot", "password": password}})
    return RegistryClient(credentials, insecure(host), limits=LIMITS)


def _read(fake: FakeRegistry, reader: RegistryClient, repository: str) -> bytes:
    reference = parse_image_reference(f"{fake.base_url.removeprefix('http://')}/{repository}:1.0.0")
    resolved = reader.resolve(reference)
    found = find_file(lambda d: reader.open_blob(reference, d), resolved.layers, "/playbook-schema.json", reader.limits)
    assert isinstance(found, bytes)
    return found


def test_bearer_tokens_are_fetched_per_scope_and_reused(fake):
    fake.images["acme/one"] = oci.image(oci.schema_layer(b'{"n": 1}'))
    fake.images["acme/two"] = oci.image(oci.schema_layer(b'{"n": 2}'))
    reader = _client(fake)
    assert _read(fake, reader, "acme/one") == b'{"n": 1}'
    assert _read(fake, reader, "acme/two") == b'{"n": 2}'
    assert _read(fake, reader, "acme/one") == b'{"n": 1}'
    token_scopes = [scope for path, scope, _ in fake.requests if path == "/token"]
    assert token_scopes == ["repository:acme/one:pull", "repository:acme/two:pull"]
    # After the first challenge per scope, every request carries the token up front.
    challenged = [path for path, _, auth in fake.requests if path != "/token" and not auth]
    assert len(challenged) == 2


def test_a_refused_token_request_is_a_permanent_failure_without_the_password(fake):
    fake.images["acme/one"] = oci.image(oci.schema_layer(b"{}"))
    with pytest.raises(RegistryError) as caught:
        _read(fake, _client(fake, password="wrong-password"), "acme/one")
    assert not caught.value.transient
    assert "refused the configured credentials" in caught.value.detail
    assert "wrong-password" not in caught.value.detail


def test_a_blob_whose_bytes_do_not_match_its_digest_is_refused(fake):
    image = oci.image(oci.schema_layer(b"{}"))
    fake.images["acme/one"] = image
    fake.corrupt.add(image.layers[0].digest)
    with pytest.raises(RegistryError, match="refusing it"):
        _read(fake, _client(fake), "acme/one")


def test_transient_statuses_are_retried_and_permanent_ones_are_not(fake):
    image = oci.image(oci.schema_layer(b'{"ok": true}'))
    fake.images["acme/one"] = image
    manifest_path = "/v2/acme/one/manifests/1.0.0"
    fake.failures[manifest_path] = [503, 429]
    assert _read(fake, _client(fake), "acme/one") == b'{"ok": true}'
    assert [p for p, _, _ in fake.requests].count(manifest_path) == 4  # challenge, 503, 429, success

    fake.requests.clear()
    with pytest.raises(RegistryError) as caught:
        _read(fake, _client(fake), "acme/missing")
    assert not caught.value.transient
    assert [p for p, _, _ in fake.requests].count("/v2/acme/missing/manifests/1.0.0") == 2  # challenge + one 404

    fake.failures[manifest_path] = [502, 502, 502]
    with pytest.raises(RegistryError) as caught:
        _read(fake, _client(fake), "acme/one")
    assert caught.value.transient and "answered HTTP 502 (3 attempts)" in caught.value.detail
