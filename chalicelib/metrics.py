"""Business metrics as CloudWatch embedded metric format (EMF) lines on stdout.

Lambda ships stdout to CloudWatch Logs, and CloudWatch extracts the metrics from EMF lines with no
API call, no extra latency and no IAM permission (cloudwatch:PutMetricData needs a Resource "*").
We use aws-lambda-powertools' ``SingleMetric`` rather than hand-written JSON: powertools is already
a dependency (the logger), it validates units, names and the dimension limit, and it builds the
``_aws`` envelope exactly as the spec wants; we only write its line ourselves (whole, see ``_emit``).
We do not use its ``Metrics`` class: that one buffers until a ``@log_metrics`` decorator flushes at
the end of a handler, and the Chalice app object is the handler, so a forgotten flush would
silently drop metrics. One line per event is simpler.

Dimensions stay low-cardinality (only ``service``); ids such as registration_id go in as
properties, which Logs Insights can search but which do not create new metric series.
Set ``POWERTOOLS_METRICS_DISABLED=true`` to silence the lines (e.g. a noisy local terminal).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.base import SingleMetric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from chalicelib.observability import SERVICE_NAME, write_line

DEFAULT_NAMESPACE = "WorkflowCatalog"

# Metric names the alarms and dashboards refer to (infra/catalog.yaml); change both together.
REGISTRATIONS_SUCCEEDED = "RegistrationsSucceeded"
REGISTRATIONS_FAILED = "RegistrationsFailed"
SEARCH_LATENCY = "SearchLatency"
RECONCILED_DISABLED = "ReconciliationDisabled"  # workflows disabled because their resource is gone
RECONCILED_STALE = "ReconciliationStale"  # live resources whose generation the catalog has not registered
NOTIFICATIONS_DELIVERED = "NotificationsDelivered"  # a notification reached a channel (webhook, SNS)
NOTIFICATIONS_ABANDONED = "NotificationsAbandoned"  # a notification given up after a day of retries


def namespace() -> str:
    """Per-deployment namespace (the stack sets POWERTOOLS_METRICS_NAMESPACE) so stages do not mix."""
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE


def _emit(name: str, unit: MetricUnit, value: float, properties: dict[str, object]) -> None:
    # SingleMetric ignores the powertools switch (only the buffered Metrics class reads it).
    if is_metrics_disabled():
        return
    metric = SingleMetric(namespace=namespace())
    metric.add_metric(name=name, unit=unit, value=value)
    metric.add_dimension(name="service", value=SERVICE_NAME)
    for key, prop in properties.items():
        if prop is not None:
            metric.add_metadata(key=key, value=prop)
    # Serialised and written here, as one line under the output lock: powertools' single_metric prints
    # the JSON and the newline separately, so concurrent threads could glue lines together.
    write_line(json.dumps(metric.serialize_metric_set(), separators=(",", ":")))


def count(name: str, value: float = 1, **properties: object) -> None:
    """Counts an event, e.g. ``count(REGISTRATIONS_FAILED, registration_id=rid, error_type=slug)``."""
    _emit(name, MetricUnit.Count, value, properties)


def milliseconds(name: str, value: float, **properties: object) -> None:
    """Records a duration in milliseconds."""
    _emit(name, MetricUnit.Milliseconds, value, properties)


@contextmanager
def timer(name: str, **properties: object) -> Iterator[None]:
    """Records how long the block took, in milliseconds, also when it raises."""
    start = time.perf_counter()
    try:
        yield
    finally:
        milliseconds(name, (time.perf_counter() - start) * 1000, **properties)
