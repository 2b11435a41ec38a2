"""The service's JSON log lines, captured in-process (its handler's stream swapped for a buffer)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.observability import logger


class LogCapture:
    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def lines(self) -> list[dict[str, Any]]:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def requests(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["message"] == "request"]


@contextmanager
def captured_logs() -> Iterator[LogCapture]:
    capture = LogCapture()
    handler = logger.registered_handler
    previous = handler.setStream(capture.buffer)  # type: ignore[attr-defined]
    try:
        yield capture
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
