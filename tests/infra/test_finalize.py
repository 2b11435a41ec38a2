"""What package.sh does after the merge: queue wiring, migrations digest, misnamed functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.finalize import FinalizeError, finalize, migrations_digest


def _template(**extra: dict) -> dict:
    return {
        "Parameters": {"MigrationsDigest": {"Type": "String", "Default": "unset"}},
        "Resources": {
            "RegistrationWorker": {"Type": "AWS::Serverless::Function", "Properties": {"Events": {"Sqs": {
                "Type": "SQS", "Properties": {"Queue": {"Fn::Sub": "arn:...:registrations"}, "BatchSize": 1}}}}},
            **extra,
        },
    }


def test_sqs_events_point_at_the_stack_queue_and_the_digest_is_recorded():
    result = finalize(_template(), "abc")
    event = result["Resources"]["RegistrationWorker"]["Properties"]["Events"]["Sqs"]["Properties"]
    assert event == {"Queue": {"Fn::GetAtt": ["RegistrationQueue", "Arn"]}, "BatchSize": 1}
    assert result["Parameters"]["MigrationsDigest"]["Default"] == "abc"


def test_merged_settings_for_a_function_app_py_lacks_are_refused_by_name():
    with pytest.raises(FinalizeError, match=r"RegistrationWorkr, which app\.py does not define"):
        finalize(_template(RegistrationWorkr={"Properties": {"Timeout": 1}}), "abc")


def test_digest_changes_when_a_migration_changes(tmp_path: Path):
    (tmp_path / "001_a.sql").write_text("CREATE TABLE a ();")
    first = migrations_digest(tmp_path)
    assert migrations_digest(tmp_path) == first
    (tmp_path / "002_b.sql").write_text("CREATE TABLE b ();")
    assert migrations_digest(tmp_path) != first
