"""Notifications to the SNS topic NOTIFY_TOPIC_ARN (AWS): one publish per event, at least once.

Each message carries the message attributes ``event_type`` and ``event_id`` (subscription filter
policies route by type; a subscriber dedupes by id) and one body per kind of subscriber
(``MessageStructure=json``):
- ``default`` (SQS, Lambda, Firehose and the rest): the event's JSON, byte for byte the webhook's body;
- ``email``: the event in words, what can be done about it, then its JSON; the subject names it;
- ``https``: an Amazon Q Developer in chat applications (AWS Chatbot) custom notification, which
  Slack and Microsoft Teams channels render; the event's ids are in its ``additionalContext``.

docs/operations.md shows how to route the topic to e-mail, chat or a paging service.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.adapters.aws import clients
from chalicelib.domain.notifications import SNS, DeliveryFailed, OutboxEvent, Summary, summarize

# Bounded: one round of the maintenance loop must not wait on SNS for long.
LIMITS = clients.Limits(connect_timeout=3, read_timeout=5, max_attempts=2)
SUBJECT_LIMIT = 100  # SNS: ASCII, no line breaks, at most 100 characters


class SnsChannel:
    name: str = SNS

    def __init__(self, topic_arn: str, region: str | None = None) -> None:
        self._topic_arn = topic_arn
        self._region = region or topic_arn.split(":")[3]

    def send(self, event: OutboxEvent) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        summary = summarize(event)
        body = event.body().decode()
        message = {"default": body, "email": _email(summary, event), "https": json.dumps(_chat(summary, event))}
        try:
            clients.client("sns", self._region, LIMITS).publish(
                TopicArn=self._topic_arn,
                Message=json.dumps(message),
                MessageStructure="json",
                Subject=_subject(summary.title),
                MessageAttributes={
                    "event_type": {"DataType": "String", "StringValue": event.event_type},
                    "event_id": {"DataType": "String", "StringValue": event.event_id},
                },
            )
        except ClientError as exc:
            raise DeliveryFailed(f"SNS refused the message: {exc.response.get('Error', {}).get('Code')}") from None
        except BotoCoreError as exc:
            raise DeliveryFailed(f"SNS could not be reached: {type(exc).__name__}") from None


def _subject(title: str) -> str:
    text = " ".join(f"Workflow catalog: {title}".split()).encode("ascii", "replace").decode()
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."


def _email(summary: Summary, event: OutboxEvent) -> str:
    steps = "".join(f"\n- {step}" for step in summary.next_steps)
    actions = f"\n\nWhat you can do (API paths of the catalog):{steps}" if steps else ""
    return (f"{summary.title}\n\n{summary.description}{actions}\n\n"
            f"Event {event.event_type} {event.event_id}:\n{json.dumps(event.document(), indent=2, sort_keys=True)}\n")


def _chat(summary: Summary, event: OutboxEvent) -> dict[str, Any]:
    """The custom notification format of Amazon Q Developer in chat applications (version 1.0)."""
    ids = {key: str(event.data[key]) for key in ("execution_id", "workflow_id") if key in event.data}
    return {
        "version": "1.0",
        "source": "custom",
        "id": event.event_id,
        "content": {
            "textType": "client-markdown",
            "title": summary.title,
            "description": summary.description,
            "nextSteps": list(summary.next_steps),
            "keywords": [event.event_type, *ids.values()],
        },
        "metadata": {
            "threadId": ids.get("execution_id") or ids.get("workflow_id") or event.event_id,
            "summary": summary.title,
            "eventType": event.event_type,
            "additionalContext": {"event_id": event.event_id, "event_type": event.event_type, **ids},
        },
    }
