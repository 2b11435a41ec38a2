"""Deploys build/template.json (from scripts/package.sh) with boto3: the two steps of
``aws cloudformation package`` + ``aws cloudformation deploy``, without needing the AWS CLI.

1. upload build/deployment.zip to S3 (key = its SHA-256, so unchanged code is not re-uploaded)
   and point every function's CodeUri at it;
2. upload the template (it is larger than the 51 200 bytes an inline TemplateBody allows),
   create a change set (IAM roles and the SAM transform need CAPABILITY_IAM + AUTO_EXPAND),
   show it, execute it and wait. A change set without changes is not an error.

Parameters not given keep their previous value on updates; MigrationsDigest always comes from the
template, so changed migrations run. Usage: see scripts/deploy.sh.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
ALWAYS_FROM_TEMPLATE = {"MigrationsDigest"}


def upload(s3: Any, bucket: str, key: str, path: Path) -> None:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return  # content-addressed: already there
    except s3.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
            raise
    s3.upload_file(str(path), bucket, key)


def package(template: dict[str, Any], code: Path, s3: Any, bucket: str, prefix: str) -> dict[str, Any]:
    """Uploads the code and returns the template with every CodeUri pointing at it."""
    key = f"{prefix}/code-{hashlib.sha256(code.read_bytes()).hexdigest()}.zip"
    upload(s3, bucket, key, code)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = {"Bucket": bucket, "Key": key}
    return template


def parameters(template: dict[str, Any], given: dict[str, str], existing: bool) -> list[dict[str, Any]]:
    unknown = set(given) - set(template["Parameters"])
    if unknown:
        raise SystemExit(f"deploy: unknown parameter(s) {', '.join(sorted(unknown))}")
    result = []
    for name in template["Parameters"]:
        if name in given:
            result.append({"ParameterKey": name, "ParameterValue": given[name]})
        elif existing and name not in ALWAYS_FROM_TEMPLATE:
            result.append({"ParameterKey": name, "UsePreviousValue": True})
    return result


def stack_exists(cfn: Any, stack: str) -> bool:
    try:
        status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    except cfn.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            return False
        raise
    return status != "REVIEW_IN_PROGRESS"


def deploy(args: argparse.Namespace) -> None:
    import boto3  # build tool only

    session = boto3.session.Session(region_name=args.region)
    s3, cfn = session.client("s3"), session.client("cloudformation")
    build = Path(args.build_dir)
    template = package(json.loads((build / "template.json").read_text()), build / "deployment.zip",
                       s3, args.bucket, args.stack_name)
    body = json.dumps(template).encode()
    template_key = f"{args.stack_name}/template-{hashlib.sha256(body).hexdigest()}.json"
    s3.put_object(Bucket=args.bucket, Key=template_key, Body=body)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": args.bucket, "Key": template_key})

    existing = stack_exists(cfn, args.stack_name)
    given = dict(item.split("=", 1) for item in args.parameter)
    change_set = f"deploy-{hashlib.sha256(body).hexdigest()[:12]}"
    cfn.create_change_set(
        StackName=args.stack_name, ChangeSetName=change_set, TemplateURL=url,
        ChangeSetType="UPDATE" if existing else "CREATE", Capabilities=CAPABILITIES,
        Parameters=parameters(template, given, existing),
    )
    try:
        cfn.get_waiter("change_set_create_complete").wait(StackName=args.stack_name, ChangeSetName=change_set)
    except Exception:
        described = cfn.describe_change_set(StackName=args.stack_name, ChangeSetName=change_set)
        reason = described.get("StatusReason", "")
        if "didn't contain changes" in reason or "No updates" in reason:
            print("deploy: nothing to change", file=sys.stderr)
            cfn.delete_change_set(StackName=args.stack_name, ChangeSetName=change_set)
            return
        raise SystemExit(f"deploy: change set failed: {reason}") from None
    changes = cfn.describe_change_set(StackName=args.stack_name, ChangeSetName=change_set)["Changes"]
    for change in changes:
        rc = change["ResourceChange"]
        print(f"  {rc['Action']:<8} {rc['LogicalResourceId']} ({rc['ResourceType']})", file=sys.stderr)
    if args.no_execute:
        print(f"deploy: change set {change_set} created, not executed", file=sys.stderr)
        return
    cfn.execute_change_set(StackName=args.stack_name, ChangeSetName=change_set)
    waiter = "stack_update_complete" if existing else "stack_create_complete"
    cfn.get_waiter(waiter).wait(StackName=args.stack_name, WaiterConfig={"Delay": 15, "MaxAttempts": 240})
    outputs = cfn.describe_stacks(StackName=args.stack_name)["Stacks"][0].get("Outputs", [])
    for output in outputs:
        print(f"{output['OutputKey']}={output['OutputValue']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack-name", required=True)
    parser.add_argument("--bucket", required=True, help="S3 bucket for the code and the template (same region)")
    parser.add_argument("--region")
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--no-execute", action="store_true", help="create and show the change set only")
    deploy(parser.parse_args())


if __name__ == "__main__":
    main()
