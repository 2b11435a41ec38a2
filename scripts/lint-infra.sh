#!/usr/bin/env bash
# Offline checks of the packaged template (run `make package` / scripts/package.sh first):
# cfn-lint (CloudFormation + SAM schemas), checkov (security findings; each accepted finding is a
# `Metadata: checkov: skip:` entry with its reason, next to the resource in infra/catalog.yaml),
# then our least-privilege policy check. Any finding fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPLATE="${PACKAGE_OUT:-build}/template.json"
[ -f "$TEMPLATE" ] || { echo "lint-infra: $TEMPLATE missing; run make package first" >&2; exit 1; }
bash scripts/bootstrap.sh --tools  # checkov lives in .venv-tools/ (pinned, idempotent)

.venv/bin/cfn-lint "$TEMPLATE"

# checkov exits 1 on failed checks; infra/checkov_gate.py reads the report and decides (it also fails
# on an unjustified skip, a parsing error, or a resource a required check could not evaluate).
# --skip-download: no call to the Prisma Cloud platform, the scan is offline.
report="$(dirname "$TEMPLATE")/checkov.json"
.venv-tools/bin/checkov --file "$TEMPLATE" --framework cloudformation --output json --skip-download \
  > "$report" || true
.venv/bin/python -m infra.checkov_gate "$report" "$TEMPLATE"

.venv/bin/python -m infra.policy_check "$TEMPLATE" .chalice/policy-*.json
