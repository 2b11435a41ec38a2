"""JSON log lines on stdout via stdlib logging.

Hand-written (a dozen lines) rather than aws-lambda-powertools: the watcher runs in a cluster, not in
Lambda, and must stay independent of the service's packages. Ids go in ``extra={"fields": {...}}``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

logger = logging.getLogger("watcher")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": "remediation-workflow-watcher",
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def fields(**values: object) -> dict[str, dict[str, object]]:
    """``extra=`` argument carrying searchable ids into the JSON line."""
    return {"fields": {key: value for key, value in values.items() if value is not None}}
