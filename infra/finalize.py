"""Turns ``chalice package`` output into the template CloudFormation deploys (scripts/package.sh).

Four things the deep merge of infra/catalog.yaml cannot do:
- write JSON: Chalice's YAML uses aliases, which CloudFormation rejects;
- point SQS event sources at this stack's queue: Chalice only knows a queue *name* and writes an
  ``Fn::Sub`` ARN, and the merge would combine (not replace) it with our ``Fn::GetAtt``;
- point API Gateway at the published alias of each function that has one (``AutoPublishAlias``
  in infra/catalog.yaml, for SnapStart): Chalice's OpenAPI integrations and invoke permissions
  name the unpublished function, which SnapStart never applies to;
- record the migrations' digest, so a deploy that changes them re-runs the ``migrate`` function.
It also refuses a merge that added properties to a function app.py does not define (a resource
without ``Type``), which would otherwise surface as a confusing cfn-lint error.

Usage: python -m infra.finalize <build dir>   (reads <build dir>/chalice, writes <build dir>/template.json)
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "chalicelib" / "stores" / "migrations"
QUEUE_RESOURCE = "RegistrationQueue"
INVOKE_PERMISSION_SUFFIX = "InvokePermission"  # Chalice's API Gateway permission per function


class FinalizeError(RuntimeError):
    pass


def migrations_digest(directory: Path = MIGRATIONS_DIR) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.sql")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def finalize(template: dict[str, Any], digest: str) -> dict[str, Any]:
    resources = template["Resources"]
    orphans = sorted(name for name, body in resources.items() if "Type" not in body)
    if orphans:
        raise FinalizeError(
            f"infra/catalog.yaml configures {', '.join(orphans)}, which app.py does not define "
            "(check the function names in app.py and .chalice/config.json)"
        )
    for body in resources.values():
        if body["Type"] != "AWS::Serverless::Function":
            continue
        for event in (body["Properties"].get("Events") or {}).values():
            if event.get("Type") == "SQS":
                event["Properties"]["Queue"] = {"Fn::GetAtt": [QUEUE_RESOURCE, "Arn"]}
    _invoke_aliases(resources)
    template["Parameters"]["MigrationsDigest"]["Default"] = digest
    return template


def _alias_id(function: str, alias: str) -> str:
    return f"{function}Alias{alias}"  # the logical id SAM gives the AWS::Lambda::Alias it generates


def _invoke_aliases(resources: dict[str, Any]) -> None:
    aliased = {name: body["Properties"]["AutoPublishAlias"] for name, body in resources.items()
               if body["Type"] == "AWS::Serverless::Function" and body["Properties"].get("AutoPublishAlias")}
    if not aliased:
        return
    replacements = {f"${{{name}.Arn}}": f"${{{_alias_id(name, alias)}}}" for name, alias in aliased.items()}
    for body in resources.values():
        if body["Type"] == "AWS::Serverless::Api" and "DefinitionBody" in body["Properties"]:
            body["Properties"]["DefinitionBody"] = _replace_in_subs(body["Properties"]["DefinitionBody"], replacements)
    for name, alias in aliased.items():
        permission = resources.get(f"{name}{INVOKE_PERMISSION_SUFFIX}")
        if permission is not None:
            permission["Properties"]["FunctionName"] = {"Ref": _alias_id(name, alias)}


def _replace_in_subs(node: Any, replacements: dict[str, str]) -> Any:
    """Rewrites ``${Function.Arn}`` in every Fn::Sub string below ``node``."""
    if isinstance(node, dict):
        if isinstance(node.get("Fn::Sub"), str):
            text = node["Fn::Sub"]
            for old, new in replacements.items():
                text = text.replace(old, new)
            return {**node, "Fn::Sub": text}
        return {key: _replace_in_subs(value, replacements) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace_in_subs(item, replacements) for item in node]
    return node


def main(build_dir: str) -> None:
    out = Path(build_dir)
    template = yaml.safe_load((out / "chalice" / "sam.yaml").read_text())
    try:
        finalize(template, migrations_digest())
    except FinalizeError as exc:
        sys.exit(f"package: {exc}")
    (out / "template.json").write_text(json.dumps(template, indent=1, sort_keys=True) + "\n")
    shutil.copyfile(out / "chalice" / "deployment.zip", out / "deployment.zip")


if __name__ == "__main__":
    main(sys.argv[1])
