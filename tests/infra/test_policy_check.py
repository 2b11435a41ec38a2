"""The least-privilege check rejects what it promises to, and our hand-written policies pass it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.policy_check import check_document, check_template, main
from tests.support.paths import ROOT

SCOPED = {"Fn::GetAtt": ["RegistrationQueue", "Arn"]}


def _doc(**statement: object) -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **statement}]}


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        (_doc(Action="*", Resource=SCOPED), "wildcard action '*'"),
        (_doc(Action=["sqs:*"], Resource=SCOPED), "wildcard action 'sqs:*'"),
        (_doc(Action=["ecr:Get*"], Resource=SCOPED), "wildcard action 'ecr:Get*'"),
        (_doc(Action=["sqs:SendMessage"], Resource="*"), 'Resource "*" for sqs:SendMessage'),
        (_doc(NotAction=["iam:CreateUser"], Resource=SCOPED), "NotAction grants everything"),
        (_doc(Action=["sqs:SendMessage"], NotResource=SCOPED), "NotResource grants everything"),
    ],
)
def test_overbroad_statements_are_rejected(document, complaint):
    [problem] = check_document(document, "policy.json")
    assert complaint in problem


def test_unscopable_actions_may_use_star_and_deny_statements_are_not_grants():
    assert check_document(_doc(Action=["xray:PutTraceSegments", "ecr:GetAuthorizationToken"], Resource="*"), "p") == []
    deny = {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
    assert check_document(deny, "p") == []


def test_template_roles_with_managed_policies_and_open_resource_policies_are_rejected():
    template = {"Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]}},
        "QueuePolicy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {
            "PolicyDocument": _doc(Principal="*", Action="sqs:SendMessage", Resource=SCOPED)}},
    }}
    problems = check_template(template, "t.json")
    assert any("Role: managed policies" in p for p in problems)
    assert any("QueuePolicy" in p and "allows every principal" in p for p in problems)


def test_the_shipped_policy_files_pass_and_a_bad_file_fails_the_command(tmp_path: Path):
    files = sorted(str(p) for p in (ROOT / ".chalice").glob("policy-*.json"))
    assert len(files) == 5  # api, authorizer, worker, migrate, maintenance
    assert main(files) == 0
    bad = tmp_path / "policy-bad.json"
    bad.write_text(json.dumps(_doc(Action="s3:*", Resource="*")))
    assert main([*files, str(bad)]) == 1


def test_every_prod_function_has_a_hand_written_policy_and_no_generated_one():
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    prod = config["stages"]["prod"]
    assert prod["autogen_policy"] is False
    for name in ("api_handler", "api_key_authorizer", "registration_worker", "migrate"):
        assert (ROOT / ".chalice" / prod["lambda_functions"][name]["iam_policy_file"]).is_file()
