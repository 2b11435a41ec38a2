"""`make run`'s server as a user meets it: a real process, a real port, the embedded database."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from tests.support.server import CatalogProcess

KEY = "rwc_test_local_server_key_0123456789"


def get(url: str, key: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_serves_examples_with_the_printed_key_and_keeps_data_across_restarts() -> None:
    first = CatalogProcess(key=KEY)
    try:
        first.start()
        base = first.url
        banner = "".join(first.lines())
        assert KEY in banner and f"curl {base}/healthz" in banner
        assert "examples: 7 created" in banner
        assert get(f"{base}/healthz") == (200, {"status": "ok", "database": "ok"})
        status, body = get(f"{base}/api/v1/playbooks")
        assert status == 401 and body["type"].endswith("/unauthorized")
        status, body = get(f"{base}/api/v1/playbooks", KEY)
        assert status == 200 and len(body["items"]) == 7
        first.stop()  # the data folder stays: a second run serves it
        with CatalogProcess(first.data_dir, key=KEY) as again:
            assert "examples: 0 created, 7 already present" in "".join(again.lines())
            assert len(get(f"{again.url}/api/v1/playbooks", KEY)[1]["items"]) == 7
    finally:
        first.remove_data()
