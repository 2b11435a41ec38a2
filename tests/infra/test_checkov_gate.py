"""The checkov gate of lint-infra: what makes a report fail, on reports shaped like checkov 3.3's JSON."""

from __future__ import annotations

import json
from pathlib import Path

from infra.checkov_gate import judge, main

TEMPLATE = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}, "Bucket": {"Type": "AWS::S3::Bucket"}}}


def _check(check_id: str, resource: str, result: str = "PASSED", comment: str | None = None) -> dict:
    check_result = {"result": result}
    if comment is not None:
        check_result["suppress_comment"] = comment
    return {"check_id": check_id, "check_name": f"name of {check_id}", "resource": resource,
            "check_result": check_result}


def _report(passed=(), failed=(), skipped=(), parsing_errors=()) -> dict:
    return {"check_type": "cloudformation", "results": {
        "passed_checks": list(passed), "failed_checks": list(failed), "skipped_checks": list(skipped),
        "parsing_errors": list(parsing_errors)}}


QUEUE_OK = _check("CKV_AWS_27", "AWS::SQS::Queue.Queue")


def test_a_clean_report_with_justified_skips_passes():
    skip = _check("CKV_AWS_116", "AWS::Serverless::Function.Fn", "SKIPPED", "invoked synchronously")
    verdict = judge(_report(passed=[QUEUE_OK], skipped=[skip]), TEMPLATE)
    assert verdict.ok and verdict.passed == 1
    assert verdict.skipped == ["CKV_AWS_116 AWS::Serverless::Function.Fn: invoked synchronously"]


def test_any_failed_check_fails_with_the_resource_named():
    failed = _check("CKV_AWS_158", "AWS::Logs::LogGroup.Logs", "FAILED")
    verdict = judge(_report(passed=[QUEUE_OK], failed=[failed]), TEMPLATE)
    assert not verdict.ok
    assert verdict.problems == ["FAILED CKV_AWS_158 AWS::Logs::LogGroup.Logs: name of CKV_AWS_158"]


def test_a_skip_without_a_reason_is_not_accepted():
    for comment in (None, "", "No comment provided"):
        skip = _check("CKV_AWS_120", "AWS::Serverless::Api.Api", "SKIPPED", comment)
        verdict = judge(_report(passed=[QUEUE_OK], skipped=[skip]), TEMPLATE)
        assert [p for p in verdict.problems if p.startswith("skip without a reason")], comment


def test_a_resource_the_required_check_could_not_read_fails():
    """checkov drops a policy it cannot parse from the report; silence must not pass as clean."""
    verdict = judge(_report(passed=[_check("CKV_AWS_99", "AWS::S3::Bucket.Bucket")]), TEMPLATE)
    assert verdict.problems == ["CKV_AWS_27 did not evaluate AWS::SQS::Queue.Queue (unreadable to checkov?)"]


def test_parsing_errors_and_empty_reports_fail():
    assert not judge(_report(passed=[QUEUE_OK], parsing_errors=["/template.json"]), TEMPLATE).ok
    assert judge(_report(), {"Resources": {}}).problems == [
        "checkov reported no passed checks: was the template scanned?"]


def test_the_command_fails_without_a_readable_report(tmp_path: Path):
    template = tmp_path / "template.json"
    template.write_text(json.dumps(TEMPLATE))
    report = tmp_path / "checkov.json"
    assert main(str(report), str(template)) == 1  # checkov crashed before writing anything
    report.write_text(json.dumps(_report(passed=[QUEUE_OK])))
    assert main(str(report), str(template)) == 0
