"""Least-privilege check of every IAM policy we ship (scripts/lint-infra.sh runs it after cfn-lint).

cfn-lint validates syntax and resource properties but accepts ``"Action": "s3:*"``. This check
rejects, in Allow statements of the hand-written policy files and of every role, policy and
resource policy in the packaged template:
- wildcard actions (``*``, ``sqs:*``, ``ecr:Get*``) and ``NotAction`` / ``NotResource``;
- ``"Resource": "*"`` except for the few actions AWS offers no resource-level permission for;
- managed policies attached to roles (their contents are not ours to review);
- resource policies that allow everyone (``"Principal": "*"``).

Usage: python -m infra.policy_check <template.json or policy.json> ...
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Actions without resource-level permissions: IAM accepts only "*" for them.
# A VPC function's role must let Lambda manage the function's network interfaces. Only the two
# Describe actions need "*"; Create/Delete/Assign/Unassign are scoped in .chalice/policy-prod-*.json
# to network interfaces of this account and region, our two private subnets and the function
# security group (Lambda's own permission check evaluates network-interface/*, which that covers),
# and a Deny on lambda:SourceFunctionArn keeps the function's code from using any of them: only
# Lambda's own calls, which carry no source function ARN, get through.
STAR_RESOURCE_ACTIONS = frozenset({
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "ecr:GetAuthorizationToken",
})
RESOURCE_POLICY_TYPES = {
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::S3::BucketPolicy": "PolicyDocument",
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def check_document(document: dict[str, Any], where: str, resource_policy: bool = False) -> list[str]:
    problems: list[str] = []
    for index, statement in enumerate(_as_list(document.get("Statement", []))):
        label = f"{where} statement {statement.get('Sid') or index}"
        if statement.get("Effect") != "Allow":
            continue
        for key in ("NotAction", "NotResource"):
            if key in statement:
                problems.append(f"{label}: {key} grants everything not listed; list what is allowed instead")
        actions = [a for a in _as_list(statement.get("Action", [])) if isinstance(a, str)]
        if not actions and "NotAction" not in statement:
            problems.append(f"{label}: no Action")
        for action in actions:
            if "*" in action or "?" in action or ":" not in action:
                problems.append(f"{label}: wildcard action {action!r}; name each action")
        if "*" in _as_list(statement.get("Resource", [])):
            unscoped = sorted(set(actions) - STAR_RESOURCE_ACTIONS)
            if unscoped:
                problems.append(f"{label}: Resource \"*\" for {', '.join(unscoped)}; scope it to ARNs")
        if resource_policy and statement.get("Principal") in ("*", {"AWS": "*"}):
            problems.append(f"{label}: allows every principal")
    return problems


def _template_documents(template: dict[str, Any], source: str) -> Iterator[tuple[dict[str, Any], str, bool]]:
    for name, resource in template.get("Resources", {}).items():
        kind, props = resource.get("Type"), resource.get("Properties", {})
        if kind == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                yield policy["PolicyDocument"], f"{source} {name}/{policy.get('PolicyName')}", False
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield props["PolicyDocument"], f"{source} {name}", False
        elif kind in RESOURCE_POLICY_TYPES:
            yield props[RESOURCE_POLICY_TYPES[kind]], f"{source} {name}", True


def check_template(template: dict[str, Any], source: str) -> list[str]:
    problems: list[str] = []
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::IAM::Role" and resource.get("Properties", {}).get("ManagedPolicyArns"):
            problems.append(f"{source} {name}: managed policies attached; write the statements by hand")
    for document, where, resource_policy in _template_documents(template, source):
        problems.extend(check_document(document, where, resource_policy))
    return problems


def check_file(path: Path) -> list[str]:
    data = json.loads(path.read_text())
    if "Resources" in data:
        return check_template(data, path.name)
    return check_document(data, path.name)


def main(paths: list[str]) -> int:
    problems = [problem for path in paths for problem in check_file(Path(path))]
    for problem in problems:
        print(f"policy: {problem}", file=sys.stderr)
    if not problems:
        print(f"policy: {len(paths)} file(s) checked, no wildcard actions, resources scoped", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
