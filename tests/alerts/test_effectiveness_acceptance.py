"""Issue 25's acceptance, end to end: a real Alertmanager (Debian's prometheus-alertmanager) sends its notifications to
the real local server, executions bound to the alerts are reported succeeded by a runner's key, and once the window
(EFFECTIVENESS_WINDOW_SECONDS, short here) has passed: resolved within the window -> effective; still firing ->
ineffective; resolved then firing again within the window -> ineffective; no alert -> unknown; the same notification
twice changes nothing; the stats and the search track_record agree with the verdicts; two ineffective runs on one
target -> the next start is 409 ineffective-chain with nothing written. Everything over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from chalicelib.container import services
from tests.support.alertmanager import LocalAlertmanager, Relay, wait_until
from tests.support.alerts import PATH, alert_tables, episodes
from tests.support.database import table_rows
from tests.support.executions import STUCK, stuck_parameters
from tests.support.server import CatalogProcess

WINDOW_SECONDS = 15  # long enough for Alertmanager's notifications (about 2 s each) to arrive within it
SIGNAL = STUCK["labels"]["signal_type"]
WORKFLOW = STUCK["workflow_id"]


@pytest.fixture(scope="module")
def catalog_server(database_url: str) -> Iterator[CatalogProcess]:
    """The local server with a short window, its maintenance round every 2 s (it judges too)."""
    with CatalogProcess(env={"DATABASE_URL": database_url, "POWERTOOLS_METRICS_DISABLED": "true",
                             "EFFECTIVENESS_WINDOW_SECONDS": str(WINDOW_SECONDS),
                             "REGISTRATION_SWEEP_SECONDS": "2"}) as server:
        yield server


class Api:
    """HTTP to the server with one key."""

    def __init__(self, server: CatalogProcess, *scopes: str) -> None:
        self.base = server.url
        _, self.token = services().api_keys.create("acceptance", list(scopes))

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(method, self.base + path, json=body, timeout=30,
                                headers={"Authorization": f"Bearer {self.token}"})


def labels(namespace: str) -> dict[str, str]:
    return {"alertname": SIGNAL, "namespace": namespace, "deployment": "checkout", "severity": "warning"}


def target(namespace: str) -> dict[str, str]:
    return {"kind": "Deployment", "namespace": namespace, "name": "checkout"}


def test_effectiveness_with_a_real_alertmanager_and_the_local_server(
        alertmanager_for: Callable[..., LocalAlertmanager], catalog_server: CatalogProcess, db: Any) -> None:
    relay = Relay(catalog_server.url + PATH)  # keeps Alertmanager's exact bytes, to send one again
    try:
        run_acceptance(alertmanager_for("alerts:write", url=relay.url), relay, catalog_server, db)
    finally:
        relay.close()


def run_acceptance(manager: LocalAlertmanager, relay: Relay, server: CatalogProcess, db: Any) -> None:
    operator = Api(server, "catalog:write", "catalog:read")
    agent = Api(server, "executions:write", "catalog:read")
    runner = Api(server, "executions:run")  # a runner's key (cluster "default")
    assert operator.call("POST", "/api/v1/playbooks", STUCK).status_code == 201
    assert operator.call("PATCH", f"/api/v1/playbooks/{WORKFLOW}", {"guards": {"cooldown_seconds": 0},
                                                                    "reason": "runs back to back"}).status_code == 200

    # Alerts fire: one per story's namespace ("quiet" has none).
    stories = ("fixed", "firing", "again")
    manager.post(*({"labels": labels(namespace)} for namespace in stories))
    held = {alert["labels"]["namespace"]: alert["fingerprint"] for alert in manager.alerts()}
    wait_until(lambda: len(alert_tables(db)["alert_episodes"]) == 3, "the three firing alerts are recorded")

    def run(namespace: str, bound: bool) -> str:
        """An execution for the namespace's incident (bound to its alert by fingerprint, or by name and namespace),
        reported running then succeeded by the runner; its id."""
        incident = {"id": f"INC-{namespace}", "signal_type": SIGNAL, "severity": "warning",
                    **({"alert_fingerprint": held[namespace]} if bound else {})}
        created = agent.call("POST", "/api/v1/executions", {"workflow_id": WORKFLOW, "incident": incident,
                                                             "target": target(namespace),
                                                             "parameters": stuck_parameters()})
        assert created.status_code == 201, created.text
        execution_id = str(created.json()["execution_id"])
        for status in ("running", "succeeded"):
            report = runner.call("PATCH", f"/api/v1/executions/{execution_id}", {"status": status})
            assert report.status_code == 200, report.text
        return execution_id

    ids = {"fixed": run("fixed", bound=True), "again": run("again", bound=True), "quiet": run("quiet", bound=False)}
    chain = [run("firing", bound=False), run("firing", bound=False)]  # twice on one target, the alert never resolving
    finished = time.monotonic()

    manager.resolve(labels("fixed"), labels("again"))
    wait_until(lambda: all(status == "resolved" for status, *_ in episodes(db, held["fixed"]))
               and all(status == "resolved" for status, *_ in episodes(db, held["again"])), "the resolutions")
    time.sleep(0.01)
    manager.post({"labels": labels("again")})  # fires again
    wait_until(lambda: len(episodes(db, held["again"])) == 2, "firing again is recorded")
    assert time.monotonic() - finished < WINDOW_SECONDS - 2, "the notifications came too late for the window"

    # Pending until the window ends ...
    shown = agent.call("GET", f"/api/v1/executions/{ids['fixed']}").json()["effectiveness"]
    assert shown["verdict"] is None and shown["window_ends_at"] is not None
    # ... then judged: by the maintenance round (every 2 s here) before anyone reads it.
    wait_until(lambda: verdicts(db) == {"effective": 1, "ineffective": 3, "unknown": 1}, "the round's verdicts",
               seconds=WINDOW_SECONDS + 15)
    verdict = {name: agent.call("GET", f"/api/v1/executions/{execution_id}").json()["effectiveness"]
               for name, execution_id in {**ids, "firing": chain[0]}.items()}
    assert {name: found["verdict"] for name, found in verdict.items()} == {
        "fixed": "effective", "again": "ineffective", "quiet": "unknown", "firing": "ineffective"}
    assert verdict["fixed"]["evidence"]["alerts"] == {"alert_fingerprint": held["fixed"]}
    assert [e["fired_again"] for e in verdict["again"]["evidence"]["episodes"]] == [True, False]
    assert verdict["firing"]["evidence"]["alerts"] == {"alertname": SIGNAL, "namespace": "firing"}

    # The same notifications again (a firing one, a resolution): nothing changes, verdicts included.
    before = table_rows(db)
    sent = {json.loads(delivery.body)["status"]: delivery for delivery in reversed(relay.deliveries)}
    for delivery in (sent["firing"], sent["resolved"]):
        again = requests.post(server.url + PATH, data=delivery.body, timeout=10, headers={
            "Content-Type": "application/json", "Authorization": delivery.authorization})
        assert again.status_code == 200 and again.json()["recorded"] == 0, again.text
    assert table_rows(db) == before

    # The stats and the search track record agree with the verdicts.
    stats = operator.call("GET", f"/api/v1/playbooks/{WORKFLOW}/stats").json()
    [signal] = stats["signal_types"]
    outcome = {k: signal[k] for k in ("executions", "succeeded", "failed", "judged", "effective", "ineffective",
                                      "unknown", "success_rate", "effectiveness_rate")}
    assert outcome == {"executions": 5, "succeeded": 5, "failed": 0, "judged": 5, "effective": 1, "ineffective": 3,
                       "unknown": 1, "success_rate": 1.0, "effectiveness_rate": 0.2}
    assert {k: stats["versions"][0][k] for k in outcome} == outcome
    found = agent.call("POST", "/api/v1/playbooks/search", {"query": "deployment rollout stuck",
                                                            "labels": {"signal_type": SIGNAL}}).json()["results"]
    [record] = [result["track_record"] for result in found if result["workflow_id"] == WORKFLOW]
    assert record == {"signal_type": SIGNAL, **outcome}

    # Twice ineffective on one target: the next start there is refused, nothing written.
    refused_before = table_rows(db)
    refused = agent.call("POST", "/api/v1/executions", {"workflow_id": WORKFLOW, "target": target("firing"),
                                                         "incident": {"id": "INC-3", "signal_type": SIGNAL},
                                                         "parameters": stuck_parameters()})
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/ineffective-chain") and 0 < problem["retry_after"] <= 24 * 3600
    assert refused.headers["Retry-After"] == str(problem["retry_after"])
    assert all(execution_id in problem["detail"] for execution_id in chain)
    assert table_rows(db) == refused_before
    judged_lines = [json.loads(line) for line in server.lines_with('"execution judged"', count=6)]
    assert {line["execution_id"] for line in judged_lines} == {*ids.values(), *chain}


def verdicts(db: Any) -> dict[str, int]:
    with db.reading() as cur:
        cur.execute("SELECT effectiveness, count(*) AS n FROM executions WHERE effectiveness IS NOT NULL GROUP BY 1")
        return {row["effectiveness"]: row["n"] for row in cur.fetchall()}
