"""writeOnly parameter values: held sealed until the runner reports running, handed over only in the claim's Secret,
never stored in clear, returned elsewhere or logged."""

from __future__ import annotations

import io
import json
from typing import Any

from tests.support.api import ApiClient
from tests.support.executions import (
    EXECUTIONS,
    PLAYBOOKS,
    READ,
    SECRET,
    claim,
    create_workflow,
    move,
    start,
    stuck_parameters,
)
from tests.support.tekton import step_environment


def database_text(db: Any) -> str:
    with db.reading() as cur:
        cur.execute("SELECT to_jsonb(e)::text AS row FROM executions e "
                    "UNION ALL SELECT to_jsonb(v)::text FROM execution_events v")
        return "\n".join(row["row"] for row in cur.fetchall())


def test_secret_reaches_the_step_but_nothing_else(client: ApiClient, db: Any,
                                                  service_log: io.StringIO) -> None:
    create_workflow(client)
    created = start(client, parameters=stuck_parameters(NOTIFY_CHANNEL="#ops", NOTIFY_WEBHOOK_TOKEN=SECRET))
    assert created.status == 201, created
    body = created.json
    execution_id = body["execution_id"]

    # The answer shows the PipelineRun the runner will create: the step reads the value from the Secret.
    run = body["pipeline_run"]
    assert step_environment(run)["NOTIFY_WEBHOOK_TOKEN"] == \
        f"secretKeyRef:kubernaut-exec-{execution_id}/NOTIFY_WEBHOOK_TOKEN"
    assert SECRET not in created.body.decode()
    assert body["parameters"]["NOTIFY_WEBHOOK_TOKEN"] == "***"
    assert body["redacted_parameters"] == ["NOTIFY_WEBHOOK_TOKEN"]

    # The one hand-off: the claim's Secret, so the step gets it as NOTIFY_WEBHOOK_TOKEN.
    claimed = claim(client)
    assert claimed.status == 200 and claimed.body.decode().count(SECRET) == 1, claimed
    (item,) = claimed.json["items"]
    assert item["pipeline_run"] == run and item["secret"]["stringData"] == {"NOTIFY_WEBHOOK_TOKEN": SECRET}
    assert step_environment(run, item["secret"])["NOTIFY_WEBHOOK_TOKEN"] == SECRET
    assert SECRET not in database_text(db)

    responses = [
        move(client, execution_id, "running"),
        move(client, execution_id, "succeeded", "posted to #ops"),
        client.get(f"{EXECUTIONS}/{execution_id}", scopes=READ),
        client.get(EXECUTIONS, scopes=READ),
        client.get(f"{EXECUTIONS}?workflow_id=stuck-rollout-restart&status=succeeded", scopes=READ),
        client.get(f"{PLAYBOOKS}/stuck-rollout-restart/stats", scopes=READ),
        client.post(f"{PLAYBOOKS}/stuck-rollout-restart/versions/1.0.0/validate",
                    {"parameters": stuck_parameters(NOTIFY_CHANNEL="#ops", NOTIFY_WEBHOOK_TOKEN=SECRET)}, scopes=READ),
    ]
    for response in responses:
        assert response.status == 200, response
        assert SECRET not in response.body.decode()
    record = responses[2].json
    assert record["parameters"] == {"TARGET_NAMESPACE": "shop", "TARGET_DEPLOYMENT": "checkout",
                                    "TIMEOUT_SECONDS": 600, "NOTIFY_CHANNEL": "#ops", "NOTIFY_WEBHOOK_TOKEN": "***"}
    assert SECRET not in database_text(db)

    logs = service_log.getvalue()
    assert "execution created" in logs  # the capture sees the service's log lines ...
    assert SECRET not in logs  # ... and none carries the secret


def test_a_rejected_secret_is_not_echoed_or_logged(client: ApiClient, db: Any,
                                                   service_log: io.StringIO) -> None:
    create_workflow(client)
    too_long = SECRET * 20  # over the token's maxLength of 256
    for parameters in (stuck_parameters(NOTIFY_CHANNEL="#ops", NOTIFY_WEBHOOK_TOKEN=too_long),
                       stuck_parameters(NOTIFY_WEBHOOK_TOKEN=12345, TARGET_NAMESPACE=SECRET)):
        response = start(client, parameters=parameters)
        assert response.status == 400
        assert SECRET not in response.body.decode()
    report = client.post(f"{PLAYBOOKS}/stuck-rollout-restart/versions/1.0.0/validate",
                         {"parameters": stuck_parameters(NOTIFY_WEBHOOK_TOKEN=too_long)}, scopes=READ)
    assert report.json["valid"] is False and SECRET not in report.body.decode()
    logs = service_log.getvalue()
    assert '"status":400' in logs
    assert SECRET not in logs
    assert database_text(db) == ""


def test_parameter_values_are_never_logged(client: ApiClient, service_log: io.StringIO) -> None:
    """Not only secrets: no parameter value belongs in a log line (names are fine)."""
    create_workflow(client)
    values = {"TARGET_NAMESPACE": "ns-wombat", "TARGET_DEPLOYMENT": "deploy-platypus"}
    assert start(client, parameters=values).status == 201
    out = service_log.getvalue()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    created = [line for line in lines if line["message"] == "execution created"]
    assert created and created[0]["parameter_names"] == ["TARGET_DEPLOYMENT", "TARGET_NAMESPACE", "TIMEOUT_SECONDS"]
    assert "wombat" not in out and "platypus" not in out
