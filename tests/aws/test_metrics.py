"""The EMF lines CloudWatch turns into metrics: the shape the alarms in infra/catalog.yaml rely on."""

from __future__ import annotations

import json

import pytest

from chalicelib import metrics
from chalicelib.observability import SERVICE_NAME


def _emf_lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


@pytest.fixture(autouse=True)
def _metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "WorkflowCatalog/test-stack")


def test_count_writes_one_emf_line_with_service_dimension_and_searchable_ids(capsys):
    metrics.count(metrics.REGISTRATIONS_FAILED, registration_id="reg-1", error_type="no-schema")

    [line] = _emf_lines(capsys)
    directive = line["_aws"]["CloudWatchMetrics"]
    assert directive == [
        {
            "Namespace": "WorkflowCatalog/test-stack",
            "Dimensions": [["service"]],
            "Metrics": [{"Name": "RegistrationsFailed", "Unit": "Count"}],
        }
    ]
    assert isinstance(line["_aws"]["Timestamp"], int)
    assert line["service"] == SERVICE_NAME
    assert line["RegistrationsFailed"] == [1.0]
    # ids are properties (searchable in Logs Insights), never dimensions (no metric per id).
    assert line["registration_id"] == "reg-1"
    assert line["error_type"] == "no-schema"


def test_timer_records_milliseconds_even_when_the_block_raises(capsys):
    with pytest.raises(RuntimeError), metrics.timer(metrics.SEARCH_LATENCY, top_k=10):
        raise RuntimeError("search failed")

    [line] = _emf_lines(capsys)
    assert line["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "SearchLatency", "Unit": "Milliseconds"}]
    [value] = line["SearchLatency"]
    assert 0 <= value < 1000
    assert line["top_k"] == 10


def test_namespace_defaults_when_the_stack_sets_none(capsys, monkeypatch):
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE")
    metrics.count(metrics.REGISTRATIONS_SUCCEEDED)
    [line] = _emf_lines(capsys)
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == metrics.DEFAULT_NAMESPACE


def test_disabled_metrics_write_nothing(capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    metrics.count(metrics.REGISTRATIONS_SUCCEEDED)
    assert _emf_lines(capsys) == []
