"""Fixtures of the execution tests."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.observability import logger
from tests.support.api import ApiClient
from tests.support.composites import create_composite, create_step_workflows


@pytest.fixture
def service_log() -> Iterator[io.StringIO]:
    """Every line the service logs during the test, formatted exactly as in CloudWatch.

    The service's own handler writes to the stdout it found at import time, which pytest's
    per-test capture does not see; a second handler with the same formatter does.
    """
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    yield buffer
    logger.removeHandler(handler)


@pytest.fixture
def composed(client: ApiClient) -> ApiClient:
    """The step workflows and the composite scale-and-verify over them (tests/support/composites.py)."""
    create_step_workflows(client)
    create_composite(client)
    return client


@pytest.fixture
def server(db: Any) -> Iterator[str]:
    """`make run`'s server in this process, on the test database: real HTTP, a thread per connection."""
    from chalice.config import Config

    from app import app
    from devserver.local_server import LocalServer

    with LocalServer(app, Config.create(chalice_stage="local"), "127.0.0.1", 0).running() as local:
        yield local.url
