#!/usr/bin/env bash
# Deploys the packaged stack (make deploy = scripts/package.sh, then this). Needs real AWS
# credentials; never run by the tests. See docs/deploy.md.
#   STACK_NAME   CloudFormation stack (default workflow-catalog)
#   DEPLOY_BUCKET S3 bucket in the target region for code and template (required)
#   AWS_REGION   target region (or AWS_DEFAULT_REGION / the profile's)
#   PARAMS       space-separated KEY=VALUE template parameters, e.g. "AlarmEmail=oncall@example.com"
#   NO_EXECUTE=1 create and print the change set without executing it
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DEPLOY_BUCKET:?set DEPLOY_BUCKET to an S3 bucket in the target region}"
[ -f build/template.json ] || { echo "deploy: build/template.json missing; run make package" >&2; exit 1; }
if [ "${AWS_ACCESS_KEY_ID:-}" = packaging-only ]; then
  echo "deploy: placeholder credentials from packaging are set; configure real AWS credentials" >&2
  exit 1
fi
args=(--stack-name "${STACK_NAME:-workflow-catalog}" --bucket "$DEPLOY_BUCKET")
[ -n "${AWS_REGION:-${AWS_DEFAULT_REGION:-}}" ] && args+=(--region "${AWS_REGION:-$AWS_DEFAULT_REGION}")
for p in ${PARAMS:-}; do args+=(--parameter "$p"); done
[ -n "${NO_EXECUTE:-}" ] && args+=(--no-execute)
exec .venv/bin/python -m infra.deploy "${args[@]}"
