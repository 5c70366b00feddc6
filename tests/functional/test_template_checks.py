"""Template checks over the SAM-translated template (what CloudFormation would deploy): least-privilege
IAM, batch item failures and dead-letter queues on every SQS consumer, backups on every written table,
throttling on the HTTP API's stage."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


@pytest.fixture(scope="module")
def resources(stack) -> dict[str, Any]:
    return stack.template["Resources"]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _roles(resources):
    return {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::IAM::Role"}


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role.get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]


def _functions(resources):
    return {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}


def test_no_wildcard_action_or_resource_and_no_aws_managed_policy_on_any_role(resources):
    # GIVEN every IAM role the translated template creates
    roles = _roles(resources)
    assert roles
    for name, role in roles.items():
        # THEN none carries an AWS managed policy (their documents grant Resource "*")
        assert role.get("ManagedPolicyArns", []) == [], name
        for statement in _statements(role):
            assert statement["Effect"] == "Allow"
            # AND no action is a wildcard or a service-wide grant
            for action in _listed(statement["Action"]):
                assert "*" not in action, (name, action)
            # AND no resource is "*"; the only wildcards are the stream names inside the role's own log
            # group and the channel secrets under the stack's own SSM path (one parameter per channel)
            resource = json.dumps(statement["Resource"])
            assert "*" not in resource.replace(":log-stream:*", "").replace("parameter/${AWS::StackName}/channels/*", ""), (name, resource)
            if "/channels/*" in resource:
                assert set(_listed(statement["Action"])) <= {"ssm:GetParameter", "ssm:PutParameter", "ssm:DeleteParameters"}, name
            if ":log-stream:*" in resource:
                assert set(_listed(statement["Action"])) == {"logs:CreateLogStream", "logs:PutLogEvents"}, name


def test_each_function_logs_only_to_its_own_log_group_with_a_retention(resources):
    # GIVEN every function and the role it runs as
    for name, function in _functions(resources).items():
        role_name = function["Role"]["Fn::GetAtt"][0]
        log_group = function["LoggingConfig"]["LogGroup"]["Ref"]
        # THEN its log group exists, keeps logs for a bounded time, and its role may write only there
        assert resources[log_group]["Type"] == "AWS::Logs::LogGroup"
        assert 0 < resources[log_group]["Properties"]["RetentionInDays"] <= 400
        log_grants = [s for s in _statements(resources[role_name]["Properties"]) if any(a.startswith("logs:") for a in _listed(s["Action"]))]
        assert len(log_grants) == 1, name
        assert re.search(r"log-group:\$\{" + log_group + r"\}:log-stream:\*$", log_grants[0]["Resource"]["Fn::Sub"]), name


def test_every_function_logs_json_with_lambdas_own_lines_left_out(resources, stack):
    # GIVEN every function, as translated (Globals merged) and as deployed (levels resolved)
    for name, function in _functions(resources).items():
        # THEN it keeps its own log group beside the Globals' format and levels
        assert {"LogGroup", "LogFormat", "ApplicationLogLevel", "SystemLogLevel"} <= set(function["LoggingConfig"]), name
        # AND by default its own lines at INFO (the outcome lines and the alarms' EMF lines), and
        # Lambda's START/END/REPORT (INFO) left out: the cost budget counts on it
        assert stack.functions[name].logging == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN"}, name


def _mappings(resources, kind: str):
    for name, r in resources.items():
        if r["Type"] == "AWS::Lambda::EventSourceMapping" and kind in json.dumps(r["Properties"]["EventSourceArn"]):
            yield name, r["Properties"]


def test_every_sqs_consumer_reports_item_failures_and_its_queue_has_a_dlq_and_6x_visibility(resources):
    functions = _functions(resources)
    mappings = [(n, p) for n, p in _mappings(resources, "Queue")]
    assert len(mappings) >= 2
    for name, mapping in mappings:
        queue = mapping["EventSourceArn"]["Fn::GetAtt"][0]
        function = functions[mapping["FunctionName"]["Ref"]]
        queue_properties = resources[queue]["Properties"]
        # THEN a failed message fails alone, has somewhere to go, and is not redelivered while still running
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        dlq = queue_properties["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert resources[dlq]["Type"] == "AWS::SQS::Queue"
        assert queue_properties["VisibilityTimeout"] >= 6 * function["Timeout"], (queue, function["Timeout"])
        # AND the consumer's role can read exactly that queue
        grants = {a for s in _statements(resources[function["Role"]["Fn::GetAtt"][0]]["Properties"]) if s["Resource"] == {"Fn::GetAtt": [queue, "Arn"]} for a in _listed(s["Action"])}
        assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"} <= grants


def test_the_stream_consumer_reads_only_its_stream_and_has_an_on_failure_destination(resources):
    functions = _functions(resources)
    mappings = list(_mappings(resources, "StreamArn"))
    assert len(mappings) >= 2  # the CRM's router, the conversations' outbox
    for name, mapping in mappings:
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        assert "OnFailure" in mapping["DestinationConfig"], name
        role = resources[functions[mapping["FunctionName"]["Ref"]]["Role"]["Fn::GetAtt"][0]]["Properties"]
        streams = [mapping_["EventSourceArn"] for _, mapping_ in mappings if mapping_["FunctionName"] == mapping["FunctionName"]]
        grants = {a for s in _statements(role) for r in _listed(s["Resource"]) if r in streams for a in _listed(s["Action"])}
        # THEN the role may read its streams and nothing more of them
        assert grants == {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}, name


def test_every_table_the_code_writes_has_point_in_time_recovery(resources):
    # GIVEN every table some role may write
    written = set()
    for role in _roles(resources).values():
        for statement in _statements(role):
            if WRITES & set(_listed(statement["Action"])):
                written |= {r["Fn::GetAtt"][0] for r in _listed(statement["Resource"]) if isinstance(r, dict) and "Fn::GetAtt" in r}
    written = {t for t in written if resources[t]["Type"] == "AWS::DynamoDB::Table"}
    # THEN every table is written, and each can be restored to any second of the last 35 days
    assert written == {r for r, v in resources.items() if v["Type"] == "AWS::DynamoDB::Table"} >= {"CrmTable", "PreviewTable", "ConversationTable"}
    for table in written:
        assert resources[table]["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, table


ACCOUNT_RATE_LIMIT = 10_000  # API Gateway's default steady-state limit per account and Region, shared by every API
KEY_EXCHANGE = "POST /api/v3.1/teams/company_token"


def test_the_http_api_stage_throttles_every_route_and_the_key_exchange_tighter(resources):
    # GIVEN the HTTP API and the stage SAM generated for it
    (api_id,) = [name for name, r in resources.items() if r["Type"] == "AWS::ApiGatewayV2::Api"]
    (stage,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Stage"]
    assert stage["ApiId"] == {"Ref": api_id} and stage["StageName"] == "$default"
    route_keys = {f"{method.upper()} {path}" for path, item in resources[api_id]["Properties"]["Body"]["paths"].items() for method in item}
    # THEN every route has a default limit that serves requests at all
    default = stage["DefaultRouteSettings"]
    assert default["ThrottlingRateLimit"] > 0 and default["ThrottlingBurstLimit"] >= 1
    # AND a flood on every route at once stays under 80 % of the account's limit (the account's other APIs keep a share)
    own = stage.get("RouteSettings", {})
    flood = sum(own.get(key, default)["ThrottlingRateLimit"] for key in route_keys)
    assert flood <= ACCOUNT_RATE_LIMIT * 0.8, flood
    # AND the key exchange names a real route (API Gateway refuses any other key) and is throttled tighter
    assert set(stage["RouteSettings"]) <= route_keys and KEY_EXCHANGE in stage["RouteSettings"]
    exchange = stage["RouteSettings"][KEY_EXCHANGE]
    assert 0 < exchange["ThrottlingRateLimit"] < default["ThrottlingRateLimit"]
    assert 1 <= exchange["ThrottlingBurstLimit"] < default["ThrottlingBurstLimit"]


def test_the_record_url_parameter_defaults_to_the_librarys_template(stack):
    # GIVEN the CRM record URL the template deploys by default, and the library's default
    from parity.core.settings import DEFAULT_CRM_RECORD_URL_TEMPLATE

    # THEN they are one template: a function without the variable and `parity ops` agree with the stack
    assert stack.template["Parameters"]["CrmRecordUrlTemplate"]["Default"] == DEFAULT_CRM_RECORD_URL_TEMPLATE
