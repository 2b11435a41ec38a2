"""Structured JSON logging (aws-lambda-powertools Logger) and the correlation id.

Every line carries level, message, timestamp, service, cold_start, function_name and the request
id (powertools), plus the ids people search by: correlation_id and, where relevant, workflow_id,
version, registration_id, execution_id. Secrets and parameter values are never passed to it.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import uuid
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger

# Must differ from the Chalice app name ("workflow-catalog"), or Chalice's own handler duplicates lines.
SERVICE_NAME = "workflow-catalog-svc"
CORRELATION_HEADER = "X-Correlation-Id"
_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# One lock for every line written to stdout (log lines and metric lines): the local server writes from
# many threads, and a line must never be glued to another.
OUTPUT_LOCK = threading.RLock()


class _WholeLineHandler(logging.StreamHandler):
    """powertools' stdout handler, taking the shared output lock around each line."""

    def createLock(self) -> None:
        self.lock = OUTPUT_LOCK


# The level is set from the validated LOG_LEVEL when the services are built (chalicelib/container.py);
# until then (module import), INFO.
logger = Logger(service=SERVICE_NAME, level="INFO", logger_handler=_WholeLineHandler(sys.stdout))


def write_line(line: str) -> None:
    """Writes one whole line to stdout (EMF metric lines), never interleaved with log lines."""
    with OUTPUT_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def correlation_id_from(value: str | None) -> str:
    """The caller's correlation id when it is sane, else a new one (never echo arbitrary input)."""
    if value and _CORRELATION_ID.fullmatch(value):
        return value
    return str(uuid.uuid4())


# The ids people search logs by (README, "Logs"); the correlation id is bound per request or job (``bind``).
SEARCH_IDS = ("workflow_id", "version", "execution_id", "registration_id")


def log_ids(source: Mapping[str, Any], **fields: Any) -> dict[str, Any]:
    """A log line's ``extra``: the ids people search by, taken from ``source`` (a row, or the ids of a request), then
    ``fields`` (never a secret or a parameter value)."""
    return {**{name: source[name] for name in SEARCH_IDS if name in source}, **fields}


def bind(**ids: object) -> None:
    """Adds ids (correlation_id, workflow_id, ...) to every following log line of this thread.

    Thread-local keys: `make run` serves requests on threads, and one request's ids must not
    leak into another's lines. A Lambda process serves one request at a time either way.
    """
    logger.thread_safe_append_keys(**{k: v for k, v in ids.items() if v is not None})


def current_correlation_id() -> str | None:
    """The correlation id bound for this thread's current request or job."""
    return logger.thread_safe_get_current_keys().get("correlation_id")


def clear_bound() -> None:
    logger.thread_safe_clear_keys()
