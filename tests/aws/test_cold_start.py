"""Cold starts pay for boto3 only when a request actually talks to AWS."""

from __future__ import annotations

import subprocess
import sys

from tests.infra.conftest import ROOT


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
