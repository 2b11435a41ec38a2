"""The SQS path: POST queues a message, the worker runs the job from Chalice-generated SQS events.

moto stands in for SQS (no AWS account is reachable in tests) and plays the queue's redrive
policy; ``poll`` plays Lambda's event source mapping: receive one message, invoke the worker with
the event Chalice's test client generates, delete the message on success, leave it on failure.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.adapters.aws.clients import client as aws_client
from chalicelib.adapters.aws.clients import reset_clients
from chalicelib.adapters.dispatch import MAX_RECEIVES
from chalicelib.config import load_settings
from chalicelib.container import Services, reset_services, services
from chalicelib.services.registration import RetryLater
from tests.support import oci
from tests.support.api import PROJECT_DIR
from tests.support.registry import down_host
from tests.support.resources import event, rw

QUEUE = "workflow-catalog-registrations"


@pytest.fixture
def queues(monkeypatch: pytest.MonkeyPatch, db, oci_registry) -> Iterator[dict[str, str]]:
    """A registration queue with a DLQ after MAX_RECEIVES receives, and the services sending to it.

    The services list the test registry and ``queues["unreachable"]`` (where nothing listens) in
    INSECURE_REGISTRIES."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    reset_clients()
    previous = services()
    with mock_aws():
        sqs = aws_client("sqs")
        dlq = sqs.create_queue(QueueName=f"{QUEUE}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)})
        url = sqs.create_queue(QueueName=QUEUE, Attributes={"RedrivePolicy": redrive})["QueueUrl"]
        unreachable = down_host()
        env = {"DATABASE_URL": os.environ["DATABASE_URL"], "DISPATCHER": "sqs", "REGISTRATION_QUEUE_URL": url,
               "INSECURE_REGISTRIES": f"{oci_registry.host},{unreachable}"}  # fmt: skip
        reset_services(Services(load_settings(env)))
        try:
            yield {"queue": url, "dlq": dlq, "unreachable": unreachable}
        finally:
            reset_services(previous)
            reset_clients()


@pytest.fixture
def worker() -> Iterator[Client]:
    from app import app

    with Client(app, stage_name="local", project_dir=str(PROJECT_DIR)) as chalice:
        yield chalice


def poll(worker: Client, queue_url: str) -> Any:
    """One delivery: True when the worker succeeded, the exception when it raised, None when empty."""
    sqs = aws_client("sqs")
    received = sqs.receive_message(QueueUrl=queue_url, AttributeNames=["All"], VisibilityTimeout=0)
    if not received.get("Messages"):
        return None
    message = received["Messages"][0]
    lambda_event = worker.events.generate_sqs_event(message_bodies=[message["Body"]], queue_name=QUEUE)
    record = lambda_event["Records"][0]
    record["attributes"]["ApproximateReceiveCount"] = message["Attributes"]["ApproximateReceiveCount"]
    record.update(receiptHandle=message["ReceiptHandle"], messageId=message["MessageId"])
    try:
        worker.lambda_.invoke("registration_worker", lambda_event)
    except Exception as exc:  # left on the queue, visible again at once
        return exc
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return True


def count(db, sql: str) -> int:
    with db.reading() as cur:
        cur.execute(sql)
        return cur.fetchone()["n"]


def test_post_queues_one_message_and_the_worker_registers_it(client, queues, worker, push, db):
    reference, digest = push(oci.playbook_schema())
    obj = rw(reference)
    accepted = client.post("/api/v1/registrations", event("ADDED", obj), scopes=("registrations:write",),
                           headers={"X-Correlation-Id": "corr-123"})  # fmt: skip
    assert accepted.status == 202 and accepted.json["status"] == "pending"
    again = client.post("/api/v1/registrations", event("ADDED", obj), scopes=("registrations:write",))
    assert again.json["registration_id"] == accepted.json["registration_id"]

    sqs = aws_client("sqs")
    body = sqs.receive_message(QueueUrl=queues["queue"], VisibilityTimeout=0)["Messages"][0]["Body"]
    assert json.loads(body) == {"registration_id": accepted.json["registration_id"], "correlation_id": "corr-123"}
    assert poll(worker, queues["queue"]) is True
    assert poll(worker, queues["queue"]) is None  # the duplicate POST queued nothing

    done = client.get(f"/api/v1/registrations/{accepted.json['registration_id']}", scopes=("catalog:read",)).json
    assert done["status"] == "succeeded" and done["image_digest"] == digest and done["attempts"] == 1

    # SQS delivers at least once: the same message again changes nothing.
    worker.lambda_.invoke("registration_worker", worker.events.generate_sqs_event([body], QUEUE))
    assert count(db, "SELECT count(*) AS n FROM workflow_versions") == 1
    assert count(db, "SELECT max(attempts) AS n FROM registrations") == 1


def test_transient_failures_are_retried_until_the_last_receive(client, queues, worker, db):
    obj = rw(f"{queues['unreachable']}/acme/unreachable:1.0.0")
    accepted = client.post("/api/v1/registrations", event("ADDED", obj), scopes=("registrations:write",))
    path = f"/api/v1/registrations/{accepted.json['registration_id']}"
    for _ in range(MAX_RECEIVES - 1):
        assert isinstance(poll(worker, queues["queue"]), RetryLater)
        retrying = client.get(path, scopes=("catalog:read",)).json
        # Back to pending (waiting for the queue's next delivery), the transient problem shown meanwhile.
        assert retrying["status"] == "pending" and retrying["error"]["title"] == "Retrying"
    assert poll(worker, queues["queue"]) is True  # the last receive records the failure and consumes the message
    failed = client.get(path, scopes=("catalog:read",)).json
    assert failed["status"] == "failed" and failed["attempts"] == MAX_RECEIVES
    assert failed["error"]["type"] == "ImagePullFailed" and "unreachable" in failed["error"]["detail"]
    assert poll(worker, queues["queue"]) is None
    assert "Messages" not in aws_client("sqs").receive_message(QueueUrl=queues["dlq"])
    assert count(db, "SELECT count(*) AS n FROM workflow_versions") == 0


def test_a_poison_message_ends_in_the_dead_letter_queue(queues, worker):
    sqs = aws_client("sqs")
    sqs.send_message(QueueUrl=queues["queue"], MessageBody="{not a job")
    outcomes = [poll(worker, queues["queue"]) for _ in range(MAX_RECEIVES + 1)]
    assert all(isinstance(outcome, ValueError) for outcome in outcomes[:MAX_RECEIVES])
    assert outcomes[MAX_RECEIVES] is None
    dead = sqs.receive_message(QueueUrl=queues["dlq"])["Messages"]
    assert [message["Body"] for message in dead] == ["{not a job"]


def test_when_the_job_cannot_be_queued_the_delivery_can_be_sent_again(client, queues, db):
    aws_client("sqs").delete_queue(QueueUrl=queues["queue"])
    obj = rw("ghcr.io/acme/fix:1.0.0")
    response = client.post("/api/v1/registrations", event("ADDED", obj), scopes=("registrations:write",))
    assert response.status == 503
    assert "send the event again" in response.json["detail"]
    assert count(db, "SELECT count(*) AS n FROM registrations") == 0


def test_the_scheduled_maintenance_requeues_a_lost_job_through_sqs_and_the_worker_finishes_it(
        client, queues, worker, push, db):
    reference, digest = push(oci.playbook_schema())
    accepted = client.post("/api/v1/registrations", event("ADDED", rw(reference)), scopes=("registrations:write",))
    sqs = aws_client("sqs")
    lost = sqs.receive_message(QueueUrl=queues["queue"])["Messages"][0]  # the message a crashed worker took
    sqs.delete_message(QueueUrl=queues["queue"], ReceiptHandle=lost["ReceiptHandle"])
    with db.transaction() as cur:  # its worker died mid-job: running, with a lease that ran out
        cur.execute("""UPDATE registrations SET status = 'running', attempts = 1, lease_owner = 'dead',
                              lease_expires_at = now() - interval '1 second' WHERE registration_id = %s""",
                    (accepted.json["registration_id"],))
    assert poll(worker, queues["queue"]) is None  # nothing left on the queue: the job is lost

    worker.lambda_.invoke("maintenance", worker.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))
    assert poll(worker, queues["queue"]) is True  # queued again, and the worker runs it
    done = client.get(f"/api/v1/registrations/{accepted.json['registration_id']}", scopes=("catalog:read",)).json
    assert done["status"] == "succeeded" and done["image_digest"] == digest and done["attempts"] == 2
