"""Notifications in AWS, on moto (the only AWS allowed in tests): every event published to the SNS topic at least
once with its type as a message attribute, the signing key read from Secrets Manager, and the scheduled
``maintenance`` function delivering both channels as EventBridge invokes it."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from chalicelib.adapters.aws.sns import SUBJECT_LIMIT, SnsChannel, _chat, _email, _subject
from chalicelib.config import load_settings
from chalicelib.container import Services, reset_services, services
from chalicelib.domain.notifications import OutboxEvent, execution_event, summarize
from chalicelib.stores.db import Database
from tests.support.api import PROJECT_DIR, ApiClient
from tests.support.aws import REGION
from tests.support.executions import REQUESTER, create_workflow, decide, require_approval, start
from tests.support.listeners import listening
from tests.support.notifications import SECRET, Receiver, deliverer, outbox


@pytest.fixture
def topic(aws: None) -> Iterator[tuple[str, str]]:
    """A topic with an SQS queue subscribed (raw delivery: the queue gets the message as published)."""
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    arn = sns.create_topic(Name="catalog-notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="notified")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    yield arn, queue


def received(queue: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                       WaitTimeSeconds=0).get("Messages", []):
        messages += batch
        for message in batch:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return messages


def gated_events(client: ApiClient) -> None:
    """Three events: two approval requests, one rejection."""
    create_workflow(client)
    require_approval(client)
    first, _ = (start(client, scopes=REQUESTER).json["execution_id"] for _ in range(2))
    assert decide(client, first, "reject", "duplicate").status == 200


def test_each_event_is_published_once_with_its_type_as_a_message_attribute(
    client: ApiClient, db: Database, topic: tuple[str, str]
) -> None:
    arn, queue = topic
    gated_events(client)
    events = outbox(db)
    report = deliverer(db, SnsChannel(arn)).deliver_due()
    assert report.as_dict() == {"delivered": 3, "retried": 0, "abandoned": 0}
    assert deliverer(db, SnsChannel(arn)).deliver_due().delivered == 0
    messages = received(queue)
    by_id = {m["MessageAttributes"]["event_id"]["StringValue"]: m for m in messages}
    assert Counter(m["MessageAttributes"]["event_id"]["StringValue"] for m in messages) == Counter(
        e["event_id"] for e in events)
    for event in events:
        message = by_id[event["event_id"]]
        assert message["MessageAttributes"]["event_type"] == {"DataType": "String", "StringValue": event["event_type"]}
        body = json.loads(message["Body"])  # the default form: the webhook's JSON
        assert (body["id"], body["type"], body["data"]) == (event["event_id"], event["event_type"], event["data"])
    assert {e["deliveries"]["sns"]["status"] for e in outbox(db)} == {"delivered"}
    assert {e["deliveries"]["webhook"]["status"] for e in outbox(db)} == {"pending"}  # not configured here


def test_a_topic_that_refuses_is_retried_later(db: Database, client: ApiClient, aws: None) -> None:
    gated_events(client)
    missing = f"arn:aws:sns:{REGION}:123456789012:no-such-topic"
    assert deliverer(db, SnsChannel(missing)).deliver_due().retried == 1
    attempted = [e["deliveries"]["sns"] for e in outbox(db) if e["deliveries"]["sns"]["attempts"]]
    assert [d["error"] for d in attempted] == ["SNS refused the message: NotFound"]


def test_the_scheduled_maintenance_function_delivers_to_the_topic_and_the_signed_webhook(
    client: ApiClient, db: Database, topic: tuple[str, str]
) -> None:
    from chalice.test import Client

    from app import app

    arn, queue = topic
    key = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="catalog/webhook", SecretString=json.dumps({"webhook_secret": SECRET}))["ARN"]
    gated_events(client)
    receiver = Receiver()
    with listening(app=receiver) as listener:
        configured = Services(load_settings({
            **os.environ, "NOTIFY_TOPIC_ARN": arn, "NOTIFY_WEBHOOK_URL": f"{listener.url}/hook",
            "NOTIFY_WEBHOOK_SECRET_ARN": key, "NOTIFY_PRIVATE_DESTINATIONS": listener.host, "AWS_REGION": REGION}))
        previous = services()
        reset_services(configured)
        try:
            with Client(app, stage_name="local", project_dir=str(PROJECT_DIR)) as lambdas:
                result = lambdas.lambda_.invoke("maintenance", lambdas.events.generate_cw_event(
                    source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))
        finally:
            reset_services(previous)
            configured.db.close()
    assert result.payload["notifications"] == {"delivered": 6, "retried": 0, "abandoned": 0}  # 3 events, 2 channels
    assert len(received(queue)) == 3
    assert len(receiver.received) == 3 and all(r.signed for r in receiver.received)  # the key from Secrets Manager


def test_email_and_chat_subscribers_get_words_a_person_can_act_on() -> None:
    execution = {"execution_id": "0b5f3c0e-8d1a-4a43-9f5e-1d2c3b4a5f60", "workflow_id": "stuck-rollout-restart",
                 "version": "1.0.0", "incident_id": "INC-1", "target_kind": "Deployment",
                 "target_namespace": "shop", "target_name": "checkout", "target_cluster": "default",
                 "approval_expires_at": datetime(2026, 12, 7, 11, 0, tzinfo=UTC)}
    notification = execution_event("execution.awaiting_approval", execution, actor="key-1",
                                   reason="approval required", previous_status=None)
    event = OutboxEvent(notification.event_id, notification.event_type, datetime(2026, 12, 7, 10, tzinfo=UTC),
                        notification.data)
    summary = summarize(event)
    email = _email(summary, event)
    assert email.startswith("Approval needed: stuck-rollout-restart 1.0.0 on Deployment shop/checkout\n")
    assert "approve: POST /api/v1/executions/0b5f3c0e-8d1a-4a43-9f5e-1d2c3b4a5f60/approve" in email
    assert json.loads(email.split(f"{event.event_id}:\n", 1)[1]) == event.document()
    chat = _chat(summary, event)
    assert (chat["version"], chat["source"], chat["id"]) == ("1.0", "custom", event.event_id)
    assert chat["content"]["title"] == summary.title and chat["content"]["nextSteps"] == list(summary.next_steps)
    assert chat["metadata"]["threadId"] == execution["execution_id"]  # one thread per execution
    assert all(isinstance(value, str) for value in chat["metadata"]["additionalContext"].values())
    long = _subject("é" * 300)
    assert len(long) == SUBJECT_LIMIT and long.isascii() and "\n" not in _subject("a\nb")
