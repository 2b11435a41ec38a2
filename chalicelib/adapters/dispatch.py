"""Queueing registration jobs: SQS in AWS, a small in-process thread pool locally and in tests.

Both run the same job function. SQS delivers at least once, so the job is idempotent; a message
whose job keeps failing is received again until the queue's redrive policy (maxReceiveCount =
``MAX_RECEIVES``, see infra/) moves it to the dead-letter queue. The job is told when it runs for
the last time, so it can record a final failure on the registration before that happens.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.adapters.aws import clients as aws_clients
from chalicelib.observability import logger

# Must equal maxReceiveCount of the registration queue's redrive policy.
MAX_RECEIVES = 5


@dataclass(frozen=True)
class JobMessage:
    registration_id: str
    correlation_id: str | None = None

    def to_json(self) -> str:
        return json.dumps({"registration_id": self.registration_id, "correlation_id": self.correlation_id})

    @classmethod
    def from_json(cls, body: str) -> JobMessage:
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("registration_id"), str):
            raise ValueError("a registration job message is a JSON object with a registration_id string")
        correlation_id = data.get("correlation_id")
        return cls(data["registration_id"], correlation_id if isinstance(correlation_id, str) else None)


# The job: (message, final attempt?) -> None; raises to ask for a later retry.
Job = Callable[[JobMessage, bool], None]


class Dispatcher(Protocol):
    def dispatch(self, message: JobMessage) -> None:
        """Queues the job; raises when it could not be queued (the caller undoes its insert)."""
        ...


class InlineDispatcher:
    """Runs jobs in this process on a small thread pool (``make run`` and tests).

    There is no redelivery in-process, so every run is the final attempt: transient registry
    errors are still retried with backoff inside the registry client. A job already queued or
    running here is not queued twice (the sweeper may ask again for one waiting in the pool).
    """

    def __init__(self, job: Job, workers: int = 2) -> None:
        self._job = job
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="registration")
        self._pending: dict[str, Future[None]] = {}
        self._lock = threading.Lock()

    def dispatch(self, message: JobMessage) -> None:
        with self._lock:
            if message.registration_id in self._pending:
                return
            future = self._pool.submit(self._run, message)
            self._pending[message.registration_id] = future
        future.add_done_callback(lambda _: self._forget(message.registration_id))

    def _run(self, message: JobMessage) -> None:
        try:
            self._job(message, True)
        except Exception:
            logger.exception("registration job failed", extra={"registration_id": message.registration_id})

    def _forget(self, registration_id: str) -> None:
        with self._lock:
            self._pending.pop(registration_id, None)

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Blocks until every dispatched job has finished (tests and benchmarks)."""
        with self._lock:
            pending = set(self._pending.values())
        _, not_done = wait(pending, timeout=timeout)
        if not_done:
            raise TimeoutError(f"{len(not_done)} registration jobs still running after {timeout}s")

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class SqsDispatcher:
    """Sends one message per job to the registration queue (boto3 imported on first use)."""

    def __init__(self, queue_url: str, client: Any | None = None) -> None:
        self._queue_url = queue_url
        self._client = client

    def dispatch(self, message: JobMessage) -> None:
        sqs = self._client or aws_clients.client("sqs")
        sqs.send_message(QueueUrl=self._queue_url, MessageBody=message.to_json())


def handle_sqs_records(records: Iterable[Any], job: Job, max_receives: int = MAX_RECEIVES) -> None:
    """Runs the job for each SQS record (Chalice ``SQSRecord`` or the raw dict of a Lambda event).

    Raising makes SQS deliver the message again; with batch_size=1 (see app.py) that affects only
    the failing message. A malformed body is logged and raised too, so it ends in the DLQ.
    """
    for record in records:
        raw = record.to_dict() if hasattr(record, "to_dict") else record
        receives = int(raw.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        try:
            message = JobMessage.from_json(raw.get("body", ""))
        except ValueError:
            logger.error("malformed registration message", extra={"message_id": raw.get("messageId")})
            raise
        job(message, receives >= max_receives)
