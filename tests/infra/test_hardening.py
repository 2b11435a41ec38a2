"""What the security review of the packaged template relies on (docs/deploy.md "Security posture")."""

from __future__ import annotations

import re
from typing import Any

from tests.support.paths import ROOT

FUNCTIONS = ("APIHandler", "ApiKeyAuthorizer", "RegistrationWorker", "Migrate", "Maintenance")
FUNCTION_ROLES = ("ApiHandlerRole", "ApiKeyAuthorizerRole", "RegistrationWorkerRole", "MigrateRole",
                  "MaintenanceRole")
LOG_GROUPS = ("ApiHandlerLogGroup", "ApiKeyAuthorizerLogGroup", "RegistrationWorkerLogGroup", "MigrateLogGroup",
              "MaintenanceLogGroup", "ApiAccessLogGroup")
APPROVAL_KEY = {"Fn::GetAtt": ["ApprovalSecretsKey", "Arn"]}
WITH_CUSTOMER_KEY = {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]}
ENI_WRITES = {"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
              "ec2:UnassignPrivateIpAddresses"}

# RDS PostgreSQL's default max_connections is LEAST(DBInstanceClassMemory / 9531392, 5000).
MAX_CONNECTIONS_DIVISOR = 9531392
INSTANCE_MEMORY_GIB = {"db.t4g.micro": 1, "db.t4g.small": 2, "db.t4g.medium": 4, "db.t4g.large": 8}
# Connections kept free for people: `chalicelib.cli keys ...` sessions, psql, a console query.
ADMIN_HEADROOM = 10


def _props(template: dict[str, Any], name: str) -> dict[str, Any]:
    return template["Resources"][name]["Properties"]


def _statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [s for p in _props(template, role)["Policies"] for s in p["PolicyDocument"]["Statement"]]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_one_optional_customer_key_encrypts_logs_environment_secret_queues_and_topic(template):
    parameter = template["Parameters"]["KmsKeyArn"]
    assert parameter["Default"] == ""  # AWS-managed encryption unless a key is given
    assert re.match(parameter["AllowedPattern"], "") and re.match(
        parameter["AllowedPattern"], "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    assert not re.match(parameter["AllowedPattern"], "alias/aws/sqs")  # an ARN, so policies can name it
    assert template["Conditions"]["HasKmsKey"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "KmsKeyArn"}, ""]}]}
    uses = {**{name: "KmsKeyId" for name in LOG_GROUPS}, **{name: "KmsKeyArn" for name in FUNCTIONS},
            "DatabaseSecret": "KmsKeyId", "RegistrationQueue": "KmsMasterKeyId",
            "RegistrationDeadLetterQueue": "KmsMasterKeyId", "AlarmTopic": "KmsMasterKeyId"}
    for name, key_property in uses.items():
        assert _props(template, name)[key_property] == WITH_CUSTOMER_KEY, name


def test_network_interface_writes_are_scoped_and_denied_to_function_code(template):
    for role in FUNCTION_ROLES:
        statements = _statements(template, role)
        allowed = [s for s in statements if s["Effect"] == "Allow" and ENI_WRITES & set(_as_list(s["Action"]))]
        assert allowed, role
        for statement in allowed:
            resources = [r["Fn::Sub"] for r in _as_list(statement["Resource"])]
            assert "*" not in statement["Resource"]
            assert {r.split(":")[-1].split("/")[0] for r in resources} == {
                "network-interface", "subnet", "security-group"}, role
            assert "${PrivateSubnetA}" in " ".join(resources) and "${FunctionSecurityGroup}" in " ".join(resources)
        [deny] = [s for s in statements if s["Effect"] == "Deny"]
        assert set(deny["Action"]) >= ENI_WRITES and deny["Resource"] == "*"
        # Lambda's own ENI calls carry no source function ARN; calls from the function's code do.
        assert deny["Condition"] == {"Null": {"lambda:SourceFunctionArn": "false"}}


def test_key_permissions_are_bound_to_the_queue_the_topic_and_the_secrets_by_encryption_context(template):
    queue_arn = {"Fn::GetAtt": ["RegistrationQueue", "Arn"]}
    send = ({"kms:GenerateDataKey", "kms:Decrypt"}, "sqs", "aws:sqs:arn", queue_arn)
    expected = {"ApiHandlerRole": [send],
                "RegistrationWorkerRole": [({"kms:Decrypt"}, "sqs", "aws:sqs:arn", queue_arn)],
                "MaintenanceRole": [
                    send,
                    ({"kms:GenerateDataKey", "kms:Decrypt"}, "sns", "aws:sns:topicArn", {"Ref": "NotificationTopic"}),
                    ({"kms:Decrypt"}, "secretsmanager", "SecretARN", {"Ref": "NotifyWebhookSecret"})],
                "DatabaseProxyRole": [({"kms:Decrypt"}, "secretsmanager", "SecretARN", {"Ref": "DatabaseSecret"})]}
    for role in (*FUNCTION_ROLES, "DatabaseProxyRole"):
        kms = [s for s in _statements(template, role) if any(a.startswith("kms:") for a in _as_list(s["Action"]))
               and s["Resource"] != APPROVAL_KEY]  # the approval key: the next test
        if role not in expected:
            assert kms == [], role  # the authorizer and migrate never touch an encrypted queue, topic or secret
            continue
        assert len(kms) == len(expected[role]), role
        for statement, (actions, service, context_key, resource) in zip(kms, expected[role], strict=True):
            assert set(_as_list(statement["Action"])) == actions
            conditions = statement["Condition"]["StringEquals"]
            assert conditions["kms:ViaService"] == {"Fn::Sub": f"{service}.${{AWS::Region}}.amazonaws.com"}
            assert conditions[f"kms:EncryptionContext:{context_key}"] == resource


def test_only_the_maintenance_function_publishes_notifications_and_reads_the_webhook_signing_key(template):
    topic, secret = {"Ref": "NotificationTopic"}, {"Ref": "NotifyWebhookSecret"}
    for role in FUNCTION_ROLES:
        allowed = [s for s in _statements(template, role) if s["Effect"] == "Allow"]
        publishes = [s for s in allowed if "sns:Publish" in _as_list(s["Action"])]
        reads = [s for s in allowed if s["Resource"] == secret or secret in _as_list(s["Resource"])]
        if role != "MaintenanceRole":
            assert publishes == [] and reads == [], role  # they record notifications; delivering is not theirs
            continue
        [publish] = publishes
        assert publish["Action"] == ["sns:Publish"] and publish["Resource"] == topic  # this topic, nothing more
        assert [s["Action"] for s in reads] == [["secretsmanager:GetSecretValue"]]
    assert _props(template, "NotificationTopic")["KmsMasterKeyId"] == {
        "Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, "alias/aws/sns"]}  # always encrypted
    assert _props(template, "NotifyWebhookSecret")["KmsKeyId"] == WITH_CUSTOMER_KEY
    # Only the maintenance function is told where notifications go; in the VPC, SNS is reached privately.
    for name in FUNCTIONS:
        names = {key for key in _props(template, name)["Environment"]["Variables"] if key.startswith("NOTIFY_")}
        assert names == ({"NOTIFY_TOPIC_ARN", "NOTIFY_WEBHOOK_URL", "NOTIFY_WEBHOOK_SECRET_ARN",
                          "NOTIFY_PRIVATE_DESTINATIONS"} if name == "Maintenance" else set()), name
    assert _props(template, "SnsEndpoint")["ServiceName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}.sns"}
    alarm = _props(template, "NotificationsAbandonedAlarm")
    assert alarm["MetricName"] == "NotificationsAbandoned" and alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_only_the_api_handler_may_use_the_approval_key_and_only_with_an_execution_as_context(template):
    for role in FUNCTION_ROLES:
        uses = [s for s in _statements(template, role) if s["Resource"] == APPROVAL_KEY]
        if role != "ApiHandlerRole":
            assert uses == [], role  # the sweep deletes held values without ever opening them
            continue
        [statement] = uses
        assert set(statement["Action"]) == {"kms:Encrypt", "kms:Decrypt"}
        assert statement["Condition"] == {
            "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["execution_id"]},
            "Null": {"kms:EncryptionContext:execution_id": "false"}}


def test_reserved_concurrency_fits_the_proxy_connection_budget_of_the_default_instance(template):
    """Worst case every execution environment pins one database connection through the proxy."""
    parameters = template["Parameters"]
    instance = parameters["DatabaseInstanceClass"]["Default"]
    assert instance in INSTANCE_MEMORY_GIB, f"add {instance} to the budget table here and in docs/deploy.md"
    max_connections = min(INSTANCE_MEMORY_GIB[instance] * 2**30 // MAX_CONNECTIONS_DIVISOR, 5000)
    pool = _props(template, "DatabaseProxyTargets")["ConnectionPoolConfigurationInfo"]
    proxy_budget = max_connections * pool["MaxConnectionsPercent"] // 100
    demand = {name: _props(template, name)["ReservedConcurrentExecutions"] for name in FUNCTIONS}
    assert demand["Migrate"] == demand["Maintenance"] == 1  # not parameters: never two at once
    reserved = sum(parameters[value["Ref"]]["Default"] if isinstance(value, dict) else value
                   for value in demand.values())
    assert (max_connections, proxy_budget) == (450, 360)  # the figures docs/deploy.md works with
    assert reserved + ADMIN_HEADROOM <= proxy_budget
    docs = (ROOT / "docs" / "deploy.md").read_text()
    assert f"{reserved} connections" in docs  # the arithmetic in the docs is this template's


def test_prod_defaults_turn_on_multi_az_and_enhanced_monitoring(template):
    assert template["Parameters"]["DatabaseMultiAZ"]["Default"] == "true"
    assert template["Parameters"]["DatabaseMonitoringInterval"]["Default"] > 0
    assert template["Conditions"]["HasDatabaseMonitoring"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "DatabaseMonitoringInterval"}, 0]}]}


def test_every_accepted_finding_is_on_its_resource_with_a_reason_and_in_the_docs(template):
    docs = (ROOT / "docs" / "deploy.md").read_text()
    skips = [(name, skip) for name, body in template["Resources"].items()
             for skip in body.get("Metadata", {}).get("checkov", {}).get("skip", [])]
    assert {skip["id"] for _, skip in skips} == {"CKV_AWS_116", "CKV_AWS_120"}
    for name, skip in skips:
        assert len(skip["comment"]) > 40, name  # a reason, not a placeholder
        assert re.search(rf"{skip['id']}.*{name}|{name}.*{skip['id']}", docs), (name, skip["id"])
