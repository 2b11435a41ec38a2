"""AWS in tests: moto (the only allowed mock: no real AWS account is reachable in tests), the region it
plays, and an environment for offline packaging with no real credentials.

The ``aws`` fixture is available to every test folder (tests/conftest.py lists this module as a plugin).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from chalicelib.adapters.aws.clients import reset_clients
from chalicelib.adapters.aws.secrets import forget_secrets

REGION = "eu-west-1"


def offline_aws_env(out: Path) -> dict[str, str]:
    """Placeholder credentials and a region: packaging and linting must not need (or find) real ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_DEFAULT_REGION="eu-west-1", AWS_ACCESS_KEY_ID="packaging-only",
               AWS_SECRET_ACCESS_KEY="packaging-only", PACKAGE_OUT=str(out))
    return env


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for every AWS API, fake credentials, and no client or cached secret from before or after."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    reset_clients()
    forget_secrets()
    with mock_aws():
        yield
    reset_clients()
    forget_secrets()
