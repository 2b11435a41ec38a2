"""Webhook delivery on the real database to real local receivers: signed, once per idempotency key, nothing
lost while a receiver is down, bounded when it hangs, never two deliverers on one event at once, and never
a connection to a destination the egress rule refuses.

Receivers are loopback listeners (tests.support.listeners) that record every connection at accept();
names and "public" addresses go through the egress guard's resolver and dial seams (``Network``), as in
tests/registry/test_egress.py. Retry delays are checked on ``next_attempt_at``; time passes by setting it.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.domain.notifications import circuit_opened, retry_delay, sign
from chalicelib.services.notifications import NotificationDelivery, record
from chalicelib.stores import notification_store
from chalicelib.stores.db import Database
from tests.support.api import ApiClient
from tests.support.executions import REQUESTER, create_workflow, decide, move, release, require_approval, start
from tests.support.listeners import Network, free_port_on, listening
from tests.support.logs import captured_logs
from tests.support.notifications import SECRET, Receiver, deliverer, documented_verify, due_now, outbox, webhook
from tests.support.tls import TestAuthority

PUBLIC = "93.184.215.14"  # a public address; the dial seam routes it to a loopback listener
METADATA = "169.254.169.254"


def recorded(db: Database, count: int) -> list[str]:
    """``count`` events recorded as the guards will record them; their ids, oldest first."""
    ids = []
    for number in range(count):
        notification = circuit_opened(workflow_id=f"workflow-{number}", reason="5 of the last 10 failed", failed=5,
                                      finished=10, actor="system")
        with db.transaction() as tx:
            record(tx, notification)
        ids.append(notification.event_id)
    return ids


def webhook_state(db: Database) -> dict[str, dict[str, object]]:
    return {event["event_id"]: event["deliveries"]["webhook"] for event in outbox(db)}


def test_a_local_receiver_gets_every_notification_once_with_a_valid_signature(client: ApiClient, db: Database) -> None:
    create_workflow(client)
    require_approval(client)
    first, second = (start(client, scopes=REQUESTER).json["execution_id"] for _ in range(2))
    assert decide(client, first, "approve").status == 200 and release(client, first).status == 200
    assert move(client, first, "failed", "image pull failed").status == 200
    assert decide(client, second, "reject", "wrong target").status == 200
    events = outbox(db)
    assert len(events) == 5

    receiver = Receiver()
    with listening(app=receiver) as listener:
        sent = deliverer(db, webhook(f"{listener.url}/hooks/catalog?team=ops", private=[listener.host])).deliver_due()
        assert sent.as_dict() == {"delivered": 5, "retried": 0, "abandoned": 0}
        assert deliverer(db, webhook(listener.url, private=[listener.host])).deliver_due().delivered == 0
    assert [r.key for r in receiver.received] == [e["event_id"] for e in events]  # each once, oldest first
    assert all(r.signed for r in receiver.received)
    for got, event in zip(receiver.received, events, strict=True):
        assert got.event_type == event["event_type"]
        assert got.event == {"id": event["event_id"], "type": event["event_type"], "source": "workflow-catalog",
                             "occurred_at": event["occurred_at"].isoformat(timespec="milliseconds").replace(
                                 "+00:00", "Z"), "data": event["data"]}
    [request] = listener.requests[:1]
    assert (request.method, request.path, request.header("Content-Type")) == (
        "POST", "/hooks/catalog?team=ops", "application/json")
    assert all(state["status"] == "delivered" and state["attempts"] == 1 for state in webhook_state(db).values())
    assert {event["deliveries"]["sns"]["status"] for event in outbox(db)} == {"pending"}  # not configured here


def test_the_documented_check_refuses_a_changed_body_another_key_and_an_old_signature() -> None:
    verify = documented_verify()
    body = b'{"id":"e-1"}'
    now = time.time()
    header = sign(SECRET.encode(), int(now), body)
    assert verify(SECRET.encode(), header, body, now=now)
    assert not verify(SECRET.encode(), header, body + b" ", now=now)
    assert not verify(b"another-key-of-32-characters-xyz", header, body, now=now)
    assert not verify(SECRET.encode(), header, body, now=now + 301)
    assert not verify(SECRET.encode(), "v1=abc", body, now=now) and not verify(SECRET.encode(), "", body, now=now)


def test_a_receiver_down_for_a_while_then_back_gets_each_event_once_and_nothing_is_lost(db: Database) -> None:
    ids = recorded(db, 5)
    port = free_port_on("127.0.0.1")
    notify = deliverer(db, webhook(f"http://127.0.0.1:{port}/hook", private=[f"127.0.0.1:{port}"]))

    # Down: nothing listens. One attempt per round (the rest wait), each failure due again later.
    for _ in range(2):
        assert notify.deliver_due().as_dict() == {"delivered": 0, "retried": 1, "abandoned": 0}
        assert notify.deliver_due().retried == 1  # the next due one: the failed ones are not due yet
    state = webhook_state(db)
    assert [state[i]["attempts"] for i in ids] == [1, 1, 1, 1, 0]
    assert "ConnectionRefusedError" in str(state[ids[0]]["error"])
    assert retry_delay(1, 0) - 1 <= float(state[ids[0]]["due_in"]) <= retry_delay(1, 1)  # type: ignore[arg-type]

    # Back, but answering 503 for a while: still retried, with a longer delay each time.
    receiver = Receiver(status=503)
    with listening(app=receiver, port=port):
        due_now(db)
        assert notify.deliver_due().retried == 1
        assert webhook_state(db)[ids[0]]["error"] == f"127.0.0.1:{port} answered 503"
        assert retry_delay(2, 0) - 1 <= float(webhook_state(db)[ids[0]]["due_in"]) <= retry_delay(2, 1)  # type: ignore[arg-type]
        receiver.status = 200
        due_now(db)
        accepted_from = len(receiver.received)
        assert notify.deliver_due().delivered == 5
        assert notify.deliver_due().delivered == 0
    accepted = [r.key for r in receiver.received[accepted_from:]]
    assert Counter(accepted) == Counter(ids)  # every event, once per idempotency key
    assert all(r.signed for r in receiver.received)
    assert {state["status"] for state in webhook_state(db).values()} == {"delivered"}


def test_a_hanging_receiver_costs_one_deadline_per_round(db: Database) -> None:
    recorded(db, 3)
    receiver = Receiver(delay=5)  # accepts, reads the request, then says nothing for 5 s
    with listening(app=receiver) as listener:
        notify = deliverer(db, webhook(listener.url, private=[listener.host], deadline=0.5))
        began = time.monotonic()
        assert notify.deliver_due().as_dict() == {"delivered": 0, "retried": 1, "abandoned": 0}
        assert time.monotonic() - began < 2
    errors = [state["error"] for state in webhook_state(db).values() if state["attempts"]]
    assert errors == [f"{listener.host} did not answer within 0.5 s"]


@pytest.fixture
def trickling() -> Iterator[int]:
    """A server that answers one header byte every 0.1 s, forever: no single read ever times out."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        try:
            connection, _ = server.accept()
        except OSError:  # closed before anyone connected
            return
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not stop.is_set():
                try:
                    connection.sendall(b"a")
                except OSError:
                    return
                time.sleep(0.1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.close()
    thread.join(timeout=5)


def test_a_receiver_trickling_its_answer_is_cut_off_at_the_deadline(db: Database, trickling: int) -> None:
    recorded(db, 1)
    notify = deliverer(db, webhook(f"http://127.0.0.1:{trickling}/", private=[f"127.0.0.1:{trickling}"],
                                   deadline=0.8))
    began = time.monotonic()
    assert notify.deliver_due().retried == 1
    assert time.monotonic() - began < 2.5
    [state] = webhook_state(db).values()
    assert state["error"] == f"127.0.0.1:{trickling} did not answer within 0.8 s"


def test_concurrent_deliverers_never_send_one_event_twice_at_the_same_time(db: Database) -> None:
    ids = recorded(db, 30)
    receiver = Receiver(delay=0.05)
    with listening(app=receiver) as listener:
        workers = [deliverer(db, webhook(listener.url, private=[listener.host])) for _ in range(4)]
        start_together = threading.Barrier(len(workers))
        reports = []

        def run(worker: NotificationDelivery) -> None:
            start_together.wait()
            reports.append(worker.deliver_due())

        threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert receiver.overlapping == []
    assert Counter(receiver.keys()) == Counter(ids)  # each exactly once
    assert sum(report.delivered for report in reports) == 30
    assert sum(1 for report in reports if report.delivered) > 1  # they really shared the work


def test_a_deliverer_that_died_mid_send_is_replaced_after_its_lease_and_cannot_overwrite(db: Database) -> None:
    [event_id] = recorded(db, 1)
    with db.transaction() as tx:  # a deliverer claims it, then dies before it reports
        dead = notification_store.claim(tx, "webhook", lease_seconds=60)
    assert dead is not None and dead.event.event_id == event_id
    receiver = Receiver()
    with listening(app=receiver) as listener:
        notify = deliverer(db, webhook(listener.url, private=[listener.host]))
        assert notify.deliver_due().delivered == 0  # leased: nobody else sends it meanwhile
        due_now(db)  # the lease has run out
        assert notify.deliver_due().delivered == 1
    assert receiver.keys() == [event_id]
    with db.transaction() as tx:  # the dead one's late report changes nothing
        assert not notification_store.retry_later(tx, dead, 10, "late")
    assert webhook_state(db)[event_id]["status"] == "delivered"


def test_after_a_day_of_failures_the_event_is_given_up_logged_and_counted(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    [event_id] = recorded(db, 1)
    with db.transaction() as cur:
        cur.execute("UPDATE notifications SET occurred_at = now() - interval '1 day'")
    with listening(app=Receiver(status=500)) as listener, captured_logs() as logs:
        report = deliverer(db, webhook(listener.url, private=[listener.host])).deliver_due()
    assert report.as_dict() == {"delivered": 0, "retried": 0, "abandoned": 1}
    state = webhook_state(db)[event_id]
    assert (state["status"], state["error"]) == ("abandoned", f"{listener.host} answered 500")
    [line] = [line for line in logs.lines() if line["message"].startswith("notification given up")]
    assert (line["level"], line["event_id"], line["channel"], line["workflow_id"]) == (
        "ERROR", event_id, "webhook", "workflow-0")
    metrics = [json.loads(out) for out in capsys.readouterr().out.splitlines() if '"_aws"' in out]
    assert [m["event_id"] for m in metrics if "NotificationsAbandoned" in m] == [event_id]


# --- the egress rule ------------------------------------------------------------------------------------
@pytest.fixture
def net() -> Network:
    return Network()


def test_a_loopback_or_private_webhook_is_refused_and_never_contacted(db: Database, net: Network) -> None:
    recorded(db, 1)
    with listening() as loopback, listening("127.0.0.2") as internal:
        net.names["hooks.example.test"] = [internal.ip]  # a public-looking name for a private address
        net.names["metadata.example.test"] = [METADATA]
        net.names["split.example.test"] = [PUBLIC, internal.ip]  # one refused address refuses the name
        refused = [
            webhook(f"https://{loopback.host}/hook", net=net),
            webhook(f"https://localhost:{loopback.port}/hook", net=net),
            webhook(f"https://hooks.example.test:{internal.port}/hook", net=net),
            webhook(f"https://split.example.test:{internal.port}/hook", net=net),
            webhook("https://metadata.example.test/latest/meta-data/", net=net),
            # Plain HTTP to a listed host, but not on its listed (default) port.
            webhook(f"http://{internal.ip}:{internal.port}/hook", private=[internal.ip], net=net),
        ]
        for channel in refused:
            due_now(db)
            assert deliverer(db, channel).deliver_due().retried == 1
            [state] = webhook_state(db).values()
            assert "is not allowed" in str(state["error"]) and "NOTIFY_PRIVATE_DESTINATIONS" in str(state["error"])
        assert loopback.accepted == [] and internal.accepted == [] and net.dialed == []


def test_a_listed_private_destination_is_reached(db: Database, net: Network) -> None:
    recorded(db, 1)
    receiver = Receiver()
    with listening("127.0.0.2", app=receiver) as internal:
        net.names["hooks.internal.test"] = [internal.ip]
        channel = webhook(f"http://hooks.internal.test:{internal.port}/h", private=[f"hooks.internal.test:{internal.port}"],
                          net=net)
        assert deliverer(db, channel).deliver_due().delivered == 1
    assert len(internal.accepted) == 1 and receiver.received[0].signed
    assert internal.requests[0].header("Host") == f"hooks.internal.test:{internal.port}"


def test_a_public_https_receiver_is_reached_on_its_own_name_with_a_verified_certificate(
    db: Database, net: Network, tmp_path: Path
) -> None:
    recorded(db, 1)
    authority = TestAuthority(tmp_path)
    receiver = Receiver()
    with listening("127.0.0.2", app=receiver, tls=authority.server_context("hooks.example.test")) as public:
        net.names["hooks.example.test"] = [PUBLIC]
        net.routes[(PUBLIC, public.port)] = (public.ip, public.port)
        url = f"https://hooks.example.test:{public.port}/catalog"
        untrusted = deliverer(db, webhook(url, net=net))  # the system's CAs do not know the test authority
        assert untrusted.deliver_due().retried == 1
        assert "CERTIFICATE_VERIFY_FAILED" in str(next(iter(webhook_state(db).values()))["error"])
        due_now(db)
        trusted = deliverer(db, webhook(url, net=net, tls=ssl.create_default_context(cafile=str(authority.ca_file))))
        assert trusted.deliver_due().delivered == 1
    assert public.server_names[-1] == "hooks.example.test" and net.dialed[-1] == (PUBLIC, public.port)
    assert receiver.received[0].signed


def test_a_redirect_is_never_followed(db: Database) -> None:
    recorded(db, 1)
    with listening("127.0.0.3") as elsewhere:
        with listening("127.0.0.2", app=lambda _: (307, {"Location": f"{elsewhere.url}/"}, b"")) as first:
            channel = webhook(f"http://{first.host}/", private=[first.host, elsewhere.host])
            assert deliverer(db, channel).deliver_due().retried == 1
        assert elsewhere.accepted == []  # not followed, though allowed: the destination is the configured one
    [state] = webhook_state(db).values()
    assert state["error"] == f"{first.host} answered 307"


def test_a_round_stops_at_its_budget_and_the_next_rounds_deliver_the_rest(db: Database) -> None:
    ids = recorded(db, 8)
    receiver = Receiver(delay=0.2)
    with listening(app=receiver) as listener:
        notify = deliverer(db, webhook(listener.url, private=[listener.host]), budget_seconds=0.5)
        first = notify.deliver_due().delivered
        assert 1 <= first <= 4  # the budget, not the backlog, ends the round
        rounds = 1
        while len(receiver.received) < len(ids) and rounds < 20:
            notify.deliver_due()
            rounds += 1
    assert Counter(receiver.keys()) == Counter(ids) and rounds > 1
