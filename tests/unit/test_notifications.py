"""Notification rules without I/O: the vocabulary (and the migration's CHECKs), the payload, the signature,
the retry schedule, and NOTIFY_* configuration refused at start-up with the variable named."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.config import load_settings
from chalicelib.domain.config_error import ConfigError
from chalicelib.domain.notifications import (
    EXECUTION_APPROVED,
    EXECUTION_AWAITING_APPROVAL,
    EXECUTION_FAILED,
    MAX_RETRY_SECONDS,
    RETRY_FOR_SECONDS,
    Notification,
    OutboxEvent,
    circuit_opened,
    execution_event,
    next_attempt_in,
    parse_webhook_url,
    retry_delay,
    sign,
    summarize,
)
from tests.support.paths import ROOT

EXECUTION = {
    "execution_id": "0b5f3c0e-8d1a-4a43-9f5e-1d2c3b4a5f60", "workflow_id": "stuck-rollout-restart", "version": "1.0.0",
    "incident_id": "INC-1", "target_kind": "Deployment", "target_namespace": "shop", "target_name": "checkout",
    "target_cluster": "default",
    "approval_expires_at": datetime(2026, 12, 7, 11, 0, tzinfo=UTC),
    # A row carries the execution's parameters too; nothing of them may reach a notification.
    "parameters": {"TOKEN": "xoxb-SECRET-7f3a9c41d2e8"}, "status": "awaiting_approval",
}


def test_an_unknown_notification_type_is_refused() -> None:
    """(The vocabularies' CHECK constraints: tests/integration/test_vocabularies.py.)"""
    with pytest.raises(ValueError, match="unknown notification type"):
        Notification("execution.started", {})


def test_an_approval_request_says_how_to_act_and_until_when_and_never_carries_parameter_values() -> None:
    notification = execution_event(EXECUTION_AWAITING_APPROVAL, EXECUTION, actor="key-1",
                                   reason="approval required", previous_status=None)
    data = notification.data
    assert (data["execution_id"], data["workflow_id"], data["version"], data["incident_id"]) == (
        EXECUTION["execution_id"], "stuck-rollout-restart", "1.0.0", "INC-1")
    assert data["target"] == {"kind": "Deployment", "namespace": "shop", "name": "checkout", "cluster": "default"}
    assert (data["status"], data["previous_status"], data["actor"], data["reason"]) == (
        "awaiting_approval", None, "key-1", "approval required")
    assert data["expires_at"] == "2026-12-07T11:00:00.000Z"
    approve, reject = data["actions"]
    assert approve == {"name": "approve", "method": "POST", "scope": "executions:approve",
                       "path": f"/api/v1/executions/{EXECUTION['execution_id']}/approve", "body": {"reason": "<why>"}}
    assert reject["path"].endswith("/reject")
    event = OutboxEvent(notification.event_id, notification.event_type, datetime(2026, 12, 7, 10, tzinfo=UTC), data)
    assert "SECRET" not in event.body().decode() and "TOKEN" not in event.body().decode()
    summary = summarize(event)
    assert summary.title == "Approval needed: stuck-rollout-restart 1.0.0 on Deployment shop/checkout"
    assert "expires at 2026-12-07T11:00:00.000Z" in summary.description
    assert summary.next_steps[0].startswith("approve: POST /api/v1/executions/")


def test_other_events_carry_what_can_still_be_done() -> None:
    approved = execution_event(EXECUTION_APPROVED, EXECUTION, actor="key-2", reason="go", previous_status="x").data
    assert [a["name"] for a in approved["actions"]] == ["start", "reject"] and "expires_at" in approved
    failed = execution_event(EXECUTION_FAILED, EXECUTION, actor="key-1", reason="OOM", previous_status="running").data
    assert "actions" not in failed and "expires_at" not in failed and failed["status"] == "failed"
    opened = circuit_opened(workflow_id="restart", reason="5 of 10 failed", failed=5, finished=10, actor="system")
    assert opened.event_type == "guard.circuit_opened"
    [close] = opened.data["actions"]
    assert (close["method"], close["path"], close["body"]) == (
        "PATCH", "/api/v1/playbooks/restart", {"circuit": "closed", "reason": "<why>"})
    with pytest.raises(ValueError):
        execution_event("guard.circuit_opened", EXECUTION, actor="a", reason=None, previous_status=None)


def test_the_body_is_the_same_bytes_on_every_attempt() -> None:
    occurred = datetime(2026, 12, 7, 10, 0, 0, 123456, tzinfo=UTC)
    first = OutboxEvent("e-1", EXECUTION_FAILED, occurred, {"b": 1, "a": [1, 2], "text": "é"})
    again = OutboxEvent("e-1", EXECUTION_FAILED, occurred, dict(reversed(list(first.data.items()))))
    assert first.body() == again.body()
    assert json.loads(first.body()) == {"id": "e-1", "type": "execution.failed", "occurred_at": "2026-12-07T10:00:00.123Z",
                                        "source": "workflow-catalog", "data": {"a": [1, 2], "b": 1, "text": "é"}}


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"id":"e-1"}'
    header = sign(b"k" * 32, 1765101600, body)
    expected = hmac.new(b"k" * 32, b"1765101600." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1765101600,v1={expected}"
    assert sign(b"k" * 32, 1765101601, body) != header and sign(b"x" * 32, 1765101600, body) != header


def test_retries_grow_with_jitter_up_to_an_hour_and_end_after_a_day() -> None:
    assert [retry_delay(n, 0.999999) for n in range(1, 6)] == pytest.approx([10, 20, 40, 80, 160], rel=1e-5)
    assert [retry_delay(n, 0.0) for n in range(1, 4)] == [5, 10, 20]  # jitter drops up to half
    assert retry_delay(40, 0.999999) == pytest.approx(MAX_RETRY_SECONDS, rel=1e-5) and retry_delay(10**6, 0) == 1800
    # The last attempt falls at the end of the day; after it, the delivery is given up.
    assert next_attempt_in(30, RETRY_FOR_SECONDS - 100, 1.0) == 100
    assert next_attempt_in(30, RETRY_FOR_SECONDS, 0.5) is None
    # Simulated: always failing, the attempts spread over exactly a day, 30 to 60 of them.
    for jitter in (0.0, 0.5, 0.999999):
        age, attempts = 0.0, 1
        while (delay := next_attempt_in(attempts, age, jitter)) is not None:
            age, attempts = age + delay, attempts + 1
        assert age == RETRY_FOR_SECONDS and 30 <= attempts <= 60, jitter


@pytest.mark.parametrize(("url", "expected"), [
    ("https://hooks.example.com/catalog?x=1", ("https", "hooks.example.com", 443, "/catalog?x=1")),
    ("HTTP://127.0.0.1:9000", ("http", "127.0.0.1", 9000, "/")),
    ("https://[::1]:8443/h", ("https", "::1", 8443, "/h")),
])
def test_webhook_urls_parse(url: str, expected: tuple[Any, ...]) -> None:
    parsed = parse_webhook_url(url)
    assert (parsed.scheme, parsed.host, parsed.port, parsed.target) == expected


SECRET = "s" * 32
BAD_SETTINGS = [
    ({"NOTIFY_WEBHOOK_URL": "ftp://hooks.example.com/x", "NOTIFY_WEBHOOK_SECRET": SECRET}, "NOTIFY_WEBHOOK_URL"),
    ({"NOTIFY_WEBHOOK_URL": "hooks.example.com/x", "NOTIFY_WEBHOOK_SECRET": SECRET}, "NOTIFY_WEBHOOK_URL"),
    ({"NOTIFY_WEBHOOK_URL": "https://user:pw@hooks.example.com/", "NOTIFY_WEBHOOK_SECRET": SECRET},
     "NOTIFY_WEBHOOK_URL must not carry credentials"),
    ({"NOTIFY_WEBHOOK_URL": "https://hooks.example.com:99999/", "NOTIFY_WEBHOOK_SECRET": SECRET}, "NOTIFY_WEBHOOK_URL"),
    ({"NOTIFY_WEBHOOK_URL": "https://hooks example.com/", "NOTIFY_WEBHOOK_SECRET": SECRET}, "NOTIFY_WEBHOOK_URL"),
    ({"NOTIFY_WEBHOOK_URL": "https://hooks.example.com/#x", "NOTIFY_WEBHOOK_SECRET": SECRET}, "NOTIFY_WEBHOOK_URL"),
    ({"NOTIFY_WEBHOOK_URL": "http://hooks.example.com/", "NOTIFY_WEBHOOK_SECRET": SECRET},
     "NOTIFY_WEBHOOK_URL uses plain HTTP"),
    ({"NOTIFY_WEBHOOK_URL": "http://127.0.0.1:9000/", "NOTIFY_PRIVATE_DESTINATIONS": "127.0.0.1:9001",
      "NOTIFY_WEBHOOK_SECRET": SECRET}, "list 127.0.0.1:9000 there"),
    ({"NOTIFY_WEBHOOK_URL": "https://hooks.example.com/"}, "NOTIFY_WEBHOOK_URL needs a signing key"),
    ({"NOTIFY_WEBHOOK_URL": "https://hooks.example.com/", "NOTIFY_WEBHOOK_SECRET": "short"},
     "NOTIFY_WEBHOOK_SECRET must be at least 16"),
    ({"NOTIFY_WEBHOOK_SECRET": SECRET,
      "NOTIFY_WEBHOOK_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hook-AbCdEf"}, "not both"),
    ({"NOTIFY_WEBHOOK_SECRET_ARN": "my-secret"}, "NOTIFY_WEBHOOK_SECRET_ARN must be a Secrets Manager secret ARN"),
    ({"NOTIFY_TOPIC_ARN": "arn:aws:sqs:eu-west-1:123456789012:q"}, "NOTIFY_TOPIC_ARN must be an SNS topic ARN"),
    ({"NOTIFY_PRIVATE_DESTINATIONS": "127.0.0.1:9000,http://x/"}, "NOTIFY_PRIVATE_DESTINATIONS"),
]


@pytest.mark.parametrize(("env", "message"), BAD_SETTINGS)
def test_bad_notification_settings_stop_start_up_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(env)


def test_good_notification_settings_load_and_the_key_is_never_shown() -> None:
    settings = load_settings({
        "NOTIFY_WEBHOOK_URL": "http://127.0.0.1:9000/hook", "NOTIFY_PRIVATE_DESTINATIONS": " 127.0.0.1:9000 , [::1]",
        "NOTIFY_WEBHOOK_SECRET": SECRET, "NOTIFY_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:catalog-notify"})
    assert settings.notify_private_destinations == ("127.0.0.1:9000", "[::1]")
    assert settings.notify_topic_arn == "arn:aws:sns:eu-west-1:123456789012:catalog-notify"
    assert SECRET not in repr(settings)
    # A listed destination without a port allows its default ports only.
    with pytest.raises(ConfigError):
        load_settings({"NOTIFY_WEBHOOK_URL": "http://[::1]:8080/", "NOTIFY_PRIVATE_DESTINATIONS": "[::1]",
                       "NOTIFY_WEBHOOK_SECRET": SECRET})
    load_settings({"NOTIFY_WEBHOOK_URL": "http://[::1]/", "NOTIFY_PRIVATE_DESTINATIONS": "[::1]",
                   "NOTIFY_WEBHOOK_SECRET": SECRET})


def test_make_run_refuses_to_start_with_a_bad_value_and_names_it() -> None:
    env = {"PATH": "/usr/bin:/bin", "NOTIFY_WEBHOOK_URL": "http://10.0.0.5/hook", "NOTIFY_WEBHOOK_SECRET": SECRET}
    result = subprocess.run([sys.executable, "-m", "devserver"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "configuration error: NOTIFY_WEBHOOK_URL uses plain HTTP" in result.stderr
    assert "Serving on" not in result.stdout

