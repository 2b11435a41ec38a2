"""Cold starts pay only for what the invocation uses: boto3 when it talks to AWS, validators when it validates."""

from __future__ import annotations

import subprocess
import sys

from tests.support.paths import ROOT

# Heavy packages a search request, a read or the authorizer never needs (tens of ms each).
LAZY = ("jsonschema", "semver", "yaml", "requests", "cryptography", "boto3", "mcp_types", "pydantic")


def _loaded(code: str, modules: tuple[str, ...]) -> list[str]:
    probe = f"import sys\n{code}\nprint(' '.join(m for m in {modules!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return result.stdout.split()


def test_importing_the_aws_glue_and_metrics_does_not_import_boto3():
    code = (
        "import sys\n"
        "import chalicelib.adapters.aws.clients, chalicelib.adapters.aws.secrets\n"
        "import chalicelib.adapters.aws.database, chalicelib.adapters.aws.custom_resource, chalicelib.metrics\n"
        "print('boto3' in sys.modules, 'botocore.session' in sys.modules, 'botocore.client' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    # (powertools imports the tiny ``botocore`` package itself; sessions and clients are the costly part)
    assert result.stdout.split() == ["False", "False", "False"]


def test_the_handler_modules_import_no_heavy_package_a_request_may_not_need():
    assert _loaded("import app", LAZY) == []
    assert _loaded("import chalicelib.http.auth", LAZY) == []


def test_the_authorizer_first_call_builds_only_the_api_key_service():
    services = ("chalicelib.services.workflows", "chalicelib.services.search", "chalicelib.services.executions",
                "chalicelib.services.registration")
    code = ("import chalicelib.http.auth\n"
            "from chalicelib.container import Services\n"
            "from chalicelib.config import load_settings\n"
            "Services(load_settings({'DATABASE_URL': 'postgresql://u@localhost/db'})).api_keys")
    assert _loaded(code, services + LAZY) == []


def test_validators_are_imported_on_first_use_and_still_validate():
    code = ("from chalicelib.domain.parameter_schema import validate_parameter_schema\n"
            "assert validate_parameter_schema({'type': 'object', 'properties': {'A': {'type': 'nope'}}})\n"
            "from chalicelib.domain.versions import normalize_version\n"
            "assert normalize_version('v1.2.3') == '1.2.3'")
    assert _loaded(code, ("jsonschema", "semver")) == ["jsonschema", "semver"]


def test_the_cold_start_benchmark_runs_every_function_probe():
    """A tiny run of bench/coldstart.py: its probes name modules that still exist (figures not asserted)."""
    result = subprocess.run([sys.executable, "bench/coldstart.py", "--runs", "1"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    for name in ("api_handler", "api_handler_mcp", "api_key_authorizer", "registration_worker", "maintenance",
                 "migrate"):
        assert any(line.startswith(name) for line in lines), name
    assert "heavy modules on the Lambda path: none" in lines
    assert lines[-1].startswith("cold start ms: api_handler ")
