#!/usr/bin/env bash
# Offline checks of the packaged template (run `make package` / scripts/package.sh first):
# cfn-lint (CloudFormation + SAM schemas), then our least-privilege policy check.
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPLATE="${PACKAGE_OUT:-build}/template.json"
[ -f "$TEMPLATE" ] || { echo "lint-infra: $TEMPLATE missing; run make package first" >&2; exit 1; }
.venv/bin/cfn-lint "$TEMPLATE"
.venv/bin/python -m infra.policy_check "$TEMPLATE" .chalice/policy-*.json
