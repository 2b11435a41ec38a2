"""`make run`'s server as a user meets it: a real process, a real port, the embedded database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

from tests.support.server import PROJECT_DIR, CatalogProcess

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


def test_a_revoked_dev_key_stays_revoked_across_restarts_and_the_banner_says_how_to_get_a_new_one() -> None:
    first = CatalogProcess(key=KEY)
    try:
        first.start()
        revoke = urllib.request.Request(f"{first.url}/api/v1/api-keys/dev-local", method="DELETE",
                                        headers={"Authorization": f"Bearer {KEY}"})
        with urllib.request.urlopen(revoke, timeout=10) as response:
            assert response.status == 204
        assert get(f"{first.url}/api/v1/playbooks", KEY)[0] == 401
        first.stop()  # the data folder stays: the restarts below serve it
        with CatalogProcess(first.data_dir, key=KEY) as again:  # was: the restart set revoked_at back to NULL
            banner = "".join(again.lines())
            assert get(f"{again.url}/api/v1/playbooks", KEY)[0] == 401
            assert "was revoked and stays revoked" in banner and "chalicelib.cli keys create" in banner
            assert f"export KEY={KEY}" not in banner
            # What the banner says works, beside the running server (on its data folder): a new key, printed once.
            env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
            created = subprocess.run([sys.executable, "-m", "chalicelib.cli", "keys", "create", "local-dev", "admin"],
                                     cwd=PROJECT_DIR, env={**env, "CATALOG_DATA_DIR": str(first.data_dir)},
                                     capture_output=True, text=True, timeout=120, check=True)
            token = created.stdout.split("token", 1)[1].split()[0]
            assert get(f"{again.url}/api/v1/playbooks", token)[0] == 200
        with CatalogProcess(first.data_dir, key=KEY) as third:  # and again: still revoked
            assert get(f"{third.url}/api/v1/playbooks", KEY)[0] == 401
    finally:
        first.remove_data()
