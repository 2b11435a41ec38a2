#!/usr/bin/env bash
# Builds the deployable CloudFormation template into build/ (git-ignored), without any AWS call:
#   build/template.json   Chalice's SAM template deep-merged with infra/catalog.yaml, as JSON
#   build/deployment.zip  the code of every function (what CodeUri points at)
# `chalice package` needs a region and credentials to build its (unused) boto3 session, so
# placeholders are set when none are configured; nothing is sent anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
STAGE="${STAGE:-prod}"
OUT="${PACKAGE_OUT:-build}"  # the tests package into a temporary directory
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}"
if [ -z "${AWS_ACCESS_KEY_ID:-}" ] && [ -z "${AWS_PROFILE:-}" ]; then
  export AWS_ACCESS_KEY_ID=packaging-only AWS_SECRET_ACCESS_KEY=packaging-only
fi

rm -rf "$OUT/chalice"
mkdir -p "$OUT"
# The registration endpoint validates resources against the CRD itself; Lambda only gets chalicelib/.
mkdir -p chalicelib/crds
cp crds/remediationworkflow.yaml chalicelib/crds/
trap 'rm -rf chalicelib/crds' EXIT
.venv/bin/chalice package --stage "$STAGE" --merge-template infra/catalog.yaml "$OUT/chalice" >&2

# JSON for CloudFormation, the worker pointed at our queue, the migrations digest (see infra/finalize.py).
"$PY" -m infra.finalize "$OUT"
echo "packaged $OUT/template.json and $OUT/deployment.zip (stage $STAGE)" >&2
