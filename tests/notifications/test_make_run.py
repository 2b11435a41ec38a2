"""`make run`'s server notifying a local receiver over real HTTP: approvals, a rejection, a failure and an
expiry, recorded by API calls and delivered by the server's own maintenance loop, signed, each event once,
though the receiver was down when they happened."""

from __future__ import annotations

from collections import Counter

from chalicelib.stores.db import Database
from tests.support.alertmanager import wait_until
from tests.support.listeners import free_port_on, listening
from tests.support.notifications import SECRET, Receiver, due_now, outbox
from tests.support.server import CatalogProcess, client_for

TARGETS = [{"kind": "Deployment", "namespace": "shop", "name": name} for name in ("cart", "checkout", "search")]


def test_make_run_delivers_every_notification_to_a_receiver_that_comes_back(database_url: str, db: Database) -> None:
    port = free_port_on("127.0.0.1")
    env = {"DATABASE_URL": database_url, "REGISTRATION_SWEEP_SECONDS": "1", "POWERTOOLS_METRICS_DISABLED": "true",
           "NOTIFY_WEBHOOK_URL": f"http://127.0.0.1:{port}/catalog", "NOTIFY_PRIVATE_DESTINATIONS": f"127.0.0.1:{port}",
           "NOTIFY_WEBHOOK_SECRET": SECRET}
    with CatalogProcess(env=env) as server:
        admin = client_for(server)
        status, created = admin.request("POST", "/api/v1/api-keys", {"name": "on-call", "scopes": ["executions:approve"]})
        assert status == 201
        approver = client_for(server, created["api_key"])
        assert admin.request("PATCH", "/api/v1/playbooks/stuck-rollout-restart",
                             {"approval_required": True, "reason": "restarts need the on-call lead"})[0] == 200
        waiting = []
        for target in TARGETS:
            status, body = admin.request("POST", "/api/v1/executions", {
                "workflow_id": "stuck-rollout-restart", "target": target,
                "parameters": {"TARGET_NAMESPACE": "shop", "TARGET_DEPLOYMENT": target["name"]},
                "incident": {"id": "INC-7", "signal_type": "DeploymentRolloutStuck", "severity": "high"}})
            assert status == 201 and body["status"] == "awaiting_approval"
            waiting.append(body["execution_id"])
        failed, rejected, expired = waiting
        assert approver.request("POST", f"/api/v1/executions/{failed}/approve", {"reason": "go"})[0] == 200
        assert admin.request("POST", f"/api/v1/executions/{failed}/start")[0] == 200
        assert admin.request("PATCH", f"/api/v1/executions/{failed}", {"status": "failed", "message": "crashed"})[0] == 200
        assert approver.request("POST", f"/api/v1/executions/{rejected}/reject", {"reason": "freeze"})[0] == 200
        with db.transaction() as cur:  # its window has passed: the server's loop expires it
            cur.execute("UPDATE executions SET approval_expires_at = now() WHERE execution_id = %s", (expired,))
        wait_until(lambda: len(outbox(db)) == 7, "seven events recorded (the expiry by the loop)", 15)
        # The receiver is down: the loop's attempts fail and are scheduled again.
        wait_until(lambda: any(e["deliveries"]["webhook"]["attempts"] for e in outbox(db)), "a failed attempt", 15)

        receiver = Receiver()
        with listening(app=receiver, port=port):
            due_now(db)  # the retry delays have passed
            wait_until(lambda: {e["deliveries"]["webhook"]["status"] for e in outbox(db)} == {"delivered"},
                       "every event delivered", 30)
        delivered = server.lines_with("notification delivered", count=7)
    events = outbox(db)
    assert Counter(receiver.keys()) == Counter(e["event_id"] for e in events)  # each once
    assert all(r.signed and r.event["id"] == r.key for r in receiver.received)
    assert Counter((r.event_type, r.event["data"].get("execution_id")) for r in receiver.received) == Counter([
        *(("execution.awaiting_approval", execution) for execution in waiting), ("execution.approved", failed),
        ("execution.failed", failed), ("execution.rejected", rejected), ("execution.expired", expired)])
    assert len(delivered) == 7
