"""The migrate function answers CloudFormation on every path, over real HTTP (pytest-httpserver)."""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from chalicelib.adapters.aws.custom_resource import PHYSICAL_ID, run_custom_resource


def _event(server: HTTPServer, request_type: str) -> dict:
    return {
        "RequestType": request_type,
        "ResponseURL": server.url_for("/cfn-response?X-Amz-Signature=abc"),
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/catalog/1",
        "RequestId": "req-1",
        "LogicalResourceId": "DatabaseMigration",
        "ResourceType": "Custom::DatabaseMigration",
        "ResourceProperties": {"MigrationsDigest": "abc"},
    }


@pytest.fixture
def answers(httpserver: HTTPServer) -> list[tuple[dict, str | None]]:
    received: list[tuple[dict, str | None]] = []

    def handler(request: Request) -> Response:
        received.append((json.loads(request.get_data()), request.headers.get("Content-Type")))
        return Response("", status=200)

    httpserver.expect_request("/cfn-response", method="PUT").respond_with_handler(handler)
    return received


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_run_the_action_and_report_success(httpserver, answers, request_type):
    result = run_custom_resource(_event(httpserver, request_type), lambda: {"applied": "001_catalog.sql"})

    assert result == {"applied": "001_catalog.sql"}
    [(body, content_type)] = answers
    assert body == {"Status": "SUCCESS", "Reason": "done", "PhysicalResourceId": PHYSICAL_ID,
                    "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/catalog/1",
                    "RequestId": "req-1", "LogicalResourceId": "DatabaseMigration",
                    "Data": {"applied": "001_catalog.sql"}}
    assert not content_type  # the pre-signed URL is signed for an empty Content-Type


def test_a_failing_action_is_reported_as_failed_with_its_reason(httpserver, answers):
    def broken() -> dict[str, str]:
        raise RuntimeError("migration 001_catalog.sql changed after it was applied")

    run_custom_resource(_event(httpserver, "Update"), broken, log_stream="2025/01/01/[$LATEST]abc")

    [(body, _)] = answers
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith("RuntimeError: migration 001_catalog.sql changed")
    assert "[$LATEST]abc" in body["Reason"]


def test_delete_does_not_run_the_action_but_still_answers(httpserver, answers):
    ran: list[bool] = []
    event = {**_event(httpserver, "Delete"), "PhysicalResourceId": "database-migrations"}
    run_custom_resource(event, lambda: ran.append(True) or {})

    assert ran == []
    [(body, _)] = answers
    assert body["Status"] == "SUCCESS"


def test_a_direct_invoke_runs_the_action_without_calling_back(httpserver):
    assert run_custom_resource({}, lambda: {"applied": ""}) == {"applied": ""}
    assert httpserver.log == []
