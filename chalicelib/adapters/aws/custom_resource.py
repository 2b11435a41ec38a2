"""The CloudFormation custom-resource protocol, so the ``migrate`` function runs on every deploy.

CloudFormation invokes the function with ``RequestType`` (Create, Update, Delete) and a pre-signed
``ResponseURL`` and then waits (up to the resource's ServiceTimeout) for a JSON verdict PUT there.
Without an answer a failed deploy hangs, so every path answers. Hand-written because the protocol
is one PUT: the ``cfnresponse`` module exists only in inline ZipFile code, and crhelper would add a
dependency and its own polling machinery for a job that finishes in seconds.

Invoked directly (``aws lambda invoke``, no ResponseURL) the action just runs and its result is
returned, so the same function serves a manual run.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.observability import logger

PHYSICAL_ID = "database-migrations"
RESPONSE_TIMEOUT_SECONDS = 10


def run_custom_resource(event: Mapping[str, Any], action: Callable[[], Mapping[str, str]],
                        log_stream: str | None = None) -> Mapping[str, str]:
    """Runs ``action`` on Create/Update (not on Delete) and reports the outcome to CloudFormation."""
    if "ResponseURL" not in event:
        return action()
    request_type = event.get("RequestType")
    data: Mapping[str, str] = {}
    status, reason = "SUCCESS", "done"
    try:
        if request_type in ("Create", "Update"):
            data = action()
    except Exception as exc:  # any failure must reach CloudFormation, or the deploy waits for the timeout
        logger.exception("custom resource action failed", extra={"request_type": request_type})
        status = "FAILED"
        reason = f"{type(exc).__name__}: {str(exc)[:300]}"
        if log_stream:
            reason += f" (log stream {log_stream})"
    _respond(event, status, reason, data)
    return data


def _respond(event: Mapping[str, Any], status: str, reason: str, data: Mapping[str, str]) -> None:
    body = json.dumps({
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": event.get("PhysicalResourceId") or PHYSICAL_ID,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": dict(data),
    }).encode()
    # The URL is pre-signed for an empty Content-Type; any other value breaks the signature.
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT",
                                     headers={"Content-Type": "", "Content-Length": str(len(body))})
    with urllib.request.urlopen(request, timeout=RESPONSE_TIMEOUT_SECONDS) as response:
        logger.info("custom resource answered", extra={"status": status, "http_status": response.status})
