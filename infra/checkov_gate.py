"""Decides whether a checkov report of the packaged template passes (scripts/lint-infra.sh runs it).

It passes when:
- no check failed and the template parsed;
- every skipped check carries a reason: a finding we accept is a ``Metadata: checkov: skip:``
  entry with a ``comment`` on the resource itself, in infra/catalog.yaml (the merge adds it to the
  functions ``chalice package`` generates too), never a check turned off for the whole scan;
- every resource of a kind in ``REQUIRED_CHECKS`` was actually evaluated by those checks. checkov
  reports nothing at all (neither passed nor failed) for a policy it cannot read, for example a
  statement wrapped in ``Fn::If``; without this rule such a role would look clean.

Usage: python -m infra.checkov_gate <checkov.json> <template.json>
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Checks that must have a verdict (passed or a justified skip) for every resource of the type.
REQUIRED_CHECKS: dict[str, tuple[str, ...]] = {
    "AWS::IAM::Role": ("CKV_AWS_111", "CKV_AWS_107", "CKV_AWS_108", "CKV_AWS_109", "CKV_AWS_110"),
    "AWS::IAM::Policy": ("CKV_AWS_111", "CKV_AWS_107", "CKV_AWS_108", "CKV_AWS_109", "CKV_AWS_110"),
    "AWS::Serverless::Function": ("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173"),
    "AWS::Logs::LogGroup": ("CKV_AWS_66", "CKV_AWS_158"),
    "AWS::SQS::Queue": ("CKV_AWS_27",),
    "AWS::SNS::Topic": ("CKV_AWS_26",),
    "AWS::SecretsManager::Secret": ("CKV_AWS_149",),
    "AWS::RDS::DBInstance": ("CKV_AWS_16", "CKV_AWS_17", "CKV_AWS_157", "CKV_AWS_118", "CKV_AWS_161"),
}
# What checkov writes when a skip has no comment.
NO_REASON = {"", "no comment provided"}


@dataclass
class Verdict:
    passed: int = 0
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _results(report: Any) -> dict[str, list[dict[str, Any]]]:
    # One framework gives one report object; several would give a list (we scan one).
    reports = report if isinstance(report, list) else [report]
    merged: dict[str, list[dict[str, Any]]] = {"passed_checks": [], "failed_checks": [], "skipped_checks": [],
                                               "parsing_errors": []}
    for item in reports:
        if item.get("check_type") not in (None, "cloudformation"):
            continue
        for key in merged:
            merged[key].extend(item.get("results", {}).get(key, []))
    return merged


def _resource_types(template: dict[str, Any]) -> Iterable[tuple[str, str]]:
    for name, body in template.get("Resources", {}).items():
        yield name, body.get("Type", "")


def judge(report: Any, template: dict[str, Any]) -> Verdict:
    results = _results(report)
    verdict = Verdict(passed=len(results["passed_checks"]))
    for error in results["parsing_errors"]:
        verdict.problems.append(f"checkov could not parse {error}")
    for check in results["failed_checks"]:
        verdict.problems.append(f"FAILED {check['check_id']} {check['resource']}: {check['check_name']}")
    for check in results["skipped_checks"]:
        reason = (check.get("check_result", {}).get("suppress_comment") or "").strip()
        line = f"{check['check_id']} {check['resource']}: {reason or '(no reason)'}"
        if reason.lower() in NO_REASON:
            verdict.problems.append(f"skip without a reason: {line}")
        verdict.skipped.append(line)
    evaluated = {(c["check_id"], c["resource"]) for key in ("passed_checks", "failed_checks", "skipped_checks")
                 for c in results[key]}
    for name, kind in _resource_types(template):
        for check_id in REQUIRED_CHECKS.get(kind, ()):
            if (check_id, f"{kind}.{name}") not in evaluated:
                verdict.problems.append(f"{check_id} did not evaluate {kind}.{name} (unreadable to checkov?)")
    if verdict.passed == 0 and not verdict.problems:
        verdict.problems.append("checkov reported no passed checks: was the template scanned?")
    return verdict


def main(report_path: str, template_path: str) -> int:
    try:
        report = json.loads(Path(report_path).read_text())
    except (OSError, ValueError) as exc:
        print(f"checkov: no readable report at {report_path} ({exc}); did checkov run?", file=sys.stderr)
        return 1
    verdict = judge(report, json.loads(Path(template_path).read_text()))
    for line in verdict.skipped:
        print(f"checkov: accepted {line}", file=sys.stderr)
    for problem in verdict.problems:
        print(f"checkov: {problem}", file=sys.stderr)
    print(f"checkov: {verdict.passed} passed, {len(verdict.skipped)} skipped with a reason, "
          f"{len(verdict.problems)} problem(s)", file=sys.stderr)
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
