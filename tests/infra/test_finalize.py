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


def test_api_gateway_invokes_the_published_alias_of_functions_that_have_one():
    uri = "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${%s.Arn}/invocations"
    template = _template(
        APIHandler={"Type": "AWS::Serverless::Function", "Properties": {"AutoPublishAlias": "live"}},
        Migrate={"Type": "AWS::Serverless::Function", "Properties": {}},
        APIHandlerInvokePermission={"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": {"Ref": "APIHandler"}}},
        RestAPI={"Type": "AWS::Serverless::Api", "Properties": {"DefinitionBody": {"paths": {
            "/a": {"get": {"x-amazon-apigateway-integration": {"uri": {"Fn::Sub": uri % "APIHandler"}}}},
            "/b": {"get": {"x-amazon-apigateway-integration": {"uri": {"Fn::Sub": uri % "Migrate"}}}},
        }}}},
    )
    resources = finalize(template, "abc")["Resources"]
    paths = resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    assert paths["/a"]["get"]["x-amazon-apigateway-integration"]["uri"] == {
        "Fn::Sub": (uri % "APIHandler").replace("${APIHandler.Arn}", "${APIHandlerAliaslive}")}
    # A function without a published alias keeps its unqualified ARN.
    assert paths["/b"]["get"]["x-amazon-apigateway-integration"]["uri"] == {"Fn::Sub": uri % "Migrate"}
    assert resources["APIHandlerInvokePermission"]["Properties"]["FunctionName"] == {"Ref": "APIHandlerAliaslive"}
