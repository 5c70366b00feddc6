"""The stop-condition alarms and the permissions, read from the template as aws-sam-translator
transforms it (what CloudFormation creates). Each alarm's metrics, period, threshold, comparison
and topic are checked, and its metric math is evaluated on sample data: an alarm that is defined
but could never fire (or always fires) fails here. RFC §4 "Verification & Rollback Recipe"."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import pytest
from parity.core import observability

TOPIC = [{"Ref": "AlarmTopicArn"}]
CREATES = {"bot_deal_created", "ai_deal_created", "bot_ticket_created", "ai_ticket_created"}


@pytest.fixture(scope="module")
def resources(stack) -> dict[str, Any]:
    return stack.template["Resources"]


def alarms(resources: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::CloudWatch::Alarm"}


# ---- a small evaluator for the metric math the alarms use (IF, FILL, AND, comparisons, + * /) --------
class N(float):
    """A datapoint; division by zero gives infinity, as CloudWatch gives no error."""

    def __add__(self, other: Any) -> N:
        return N(float(self) + float(other))

    __radd__ = __add__

    def __mul__(self, other: Any) -> N:
        return N(float(self) * float(other))

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> N:
        return N(float(self) / float(other)) if float(other) else N(math.inf)

    def __rtruediv__(self, other: Any) -> N:
        return N(float(other) / float(self)) if float(self) else N(math.inf)


def evaluate(alarm: Mapping[str, Any], datapoints: Mapping[str, float | None]) -> str:
    """ALARM / OK for one period, given each metric's summed value (None: no datapoint at all)."""
    queries = {q["Id"]: q for q in alarm["Metrics"]}
    values: dict[str, Any] = {}

    def value(query_id: str) -> Any:
        if query_id not in values:
            query = queries[query_id]
            if "MetricStat" in query:
                raw = datapoints.get(query["MetricStat"]["Metric"]["MetricName"])
                values[query_id] = None if raw is None else N(raw)
            else:
                expression = query["Expression"].replace(" AND ", " and ").replace(" OR ", " or ")
                names = {name: value(name) for name in re.findall(r"[a-z_][a-z0-9_]*", expression) if name in queries}
                values[query_id] = eval(expression, {"__builtins__": {}, "IF": lambda c, a, b: a if c else b, "FILL": lambda m, v: N(v) if m is None else m}, names)  # noqa: S307
        return values[query_id]

    (result,) = [q["Id"] for q in alarm["Metrics"] if q.get("ReturnData")]
    observed = value(result)
    if observed is None:
        assert alarm["TreatMissingData"] == "notBreaching"
        return "OK"
    threshold = float(alarm["Threshold"])
    breach = {"GreaterThanThreshold": observed > threshold, "GreaterThanOrEqualToThreshold": observed >= threshold}[alarm["ComparisonOperator"]]
    return "ALARM" if breach else "OK"


def metric_stats(alarm: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {q["MetricStat"]["Metric"]["MetricName"]: q["MetricStat"] for q in alarm["Metrics"] if "MetricStat" in q}


def assert_our_metrics(alarm: Mapping[str, Any], names: set[str], period: int) -> None:
    stats = metric_stats(alarm)
    assert set(stats) == names
    for stat in stats.values():
        assert stat["Metric"]["Namespace"] == observability.NAMESPACE
        assert stat["Metric"]["Dimensions"] == [{"Name": "service", "Value": observability.SERVICE}]
        assert (stat["Period"], stat["Stat"]) == (period, "Sum")
    assert alarm["EvaluationPeriods"] == 1 and alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == TOPIC and alarm["OKActions"] == TOPIC


# ---- the stop conditions --------------------------------------------------------------------------------
def test_previews_stopped_while_creates_go_on_for_15_minutes(resources):
    alarm = alarms(resources)["PreviewsStoppedAlarm"]
    assert_our_metrics(alarm, CREATES | {"deal_preview_displayed", "ticket_preview_displayed"}, 900)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    # creates with no preview displayed at all (the metric has no datapoint): the stop condition
    assert evaluate(alarm, {"bot_deal_created": 3}) == "ALARM"
    assert evaluate(alarm, {"ai_ticket_created": 1, "deal_preview_displayed": 0}) == "ALARM"
    # previews displayed, or nothing created: fine
    assert evaluate(alarm, {"bot_deal_created": 3, "ticket_preview_displayed": 1}) == "OK"
    assert evaluate(alarm, {"deal_preview_displayed": 5}) == "OK"
    assert evaluate(alarm, {}) == "OK"


def test_timeline_note_failures_over_5_percent_of_creates_in_an_hour(resources):
    alarm = alarms(resources)["TimelineNoteFailuresAlarm"]
    assert_our_metrics(alarm, CREATES | {"timeline_log_creation_failed"}, 3600)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 5)
    assert evaluate(alarm, {"bot_deal_created": 60, "ai_deal_created": 40, "timeline_log_creation_failed": 6}) == "ALARM"
    assert evaluate(alarm, {"bot_deal_created": 60, "ai_deal_created": 40, "timeline_log_creation_failed": 5}) == "OK"
    assert evaluate(alarm, {"timeline_log_creation_failed": 1}) == "ALARM"  # failures with no creates counted
    assert evaluate(alarm, {"bot_ticket_created": 10}) == "OK"
    assert evaluate(alarm, {}) == "OK"


def test_webhook_failure_rate_over_20_percent_in_an_hour(resources):
    alarm = alarms(resources)["WebhookFailureRateAlarm"]
    assert_our_metrics(alarm, {"webhook_delivered", "webhook_delivery_failed"}, 3600)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 20)
    assert evaluate(alarm, {"webhook_delivered": 79, "webhook_delivery_failed": 21}) == "ALARM"
    assert evaluate(alarm, {"webhook_delivered": 80, "webhook_delivery_failed": 20}) == "OK"
    assert evaluate(alarm, {"webhook_delivery_failed": 3}) == "ALARM"
    assert evaluate(alarm, {"webhook_delivered": 10}) == "OK"
    assert evaluate(alarm, {}) == "OK"


def test_any_message_in_any_dead_letter_queue(resources):
    # Every queue the template dead-letters into: redrive targets, the router's on-failure
    # destination, and the queue the sender parks given-up events in.
    targets = {q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0] for q in resources.values() if q["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in q.get("Properties", {})}
    targets |= {m["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0] for m in resources.values() if m["Type"] == "AWS::Lambda::EventSourceMapping" and "DestinationConfig" in m["Properties"]}
    # (and the schedules' dead-letter queue: runs EventBridge could not deliver)
    targets |= {t["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0] for r in resources.values() if r["Type"] == "AWS::Events::Rule" for t in r["Properties"]["Targets"] if "DeadLetterConfig" in t}
    assert targets >= {"WebhookDLQ", "TimelineDLQ", "RouterDLQ", "IngestDLQ", "DeliveryDLQ", "ConversationOutboxDLQ", "FeedbackDLQ", "ReplyRequestDLQ",
                       "ActivityDLQ", "NotifyDLQ", "DecisionDLQ", "TrustRouterDLQ", "ScheduleDLQ", "ProposalDLQ"}
    watched = {}
    for name, alarm in alarms(resources).items():
        if alarm.get("Namespace") == "AWS/SQS":
            (dimension,) = alarm["Dimensions"]
            assert dimension["Name"] == "QueueName"
            watched[dimension["Value"]["Fn::GetAtt"][0]] = alarm
            assert (alarm["MetricName"], alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("ApproximateNumberOfMessagesVisible", "Maximum", 60, 1)
            assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["TreatMissingData"]) == ("GreaterThanThreshold", 0, "notBreaching")
            assert alarm["AlarmActions"] == TOPIC and alarm["OKActions"] == TOPIC
    assert set(watched) == targets


def test_the_topic_is_a_required_parameter(stack):
    from parity_dev.stack import load_template

    from .conftest import TEMPLATE

    parameter = load_template(TEMPLATE)["Parameters"]["AlarmTopicArn"]
    assert "Default" not in parameter
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.match("arn:aws:sns:ap-southeast-3:123456789012:parity-oncall") and not pattern.match("parity-oncall")
    # AND every alarm of the stack tells that topic, in and out of alarm
    assert all(a["AlarmActions"] == TOPIC and a["OKActions"] == TOPIC for a in alarms(stack.template["Resources"]).values())


def test_every_metric_an_alarm_reads_is_one_the_code_emits(resources):
    read = {name for alarm in alarms(resources).values() if "Metrics" in alarm for name in metric_stats(alarm)}
    emitted = {v for k, v in vars(observability).items() if k.isupper() and isinstance(v, str)}
    assert read <= emitted


# ---- permissions ------------------------------------------------------------------------------------------
def _statements(resources: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, resource in resources.items():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                found += [(name, s) for s in policy["PolicyDocument"]["Statement"]]
        elif resource["Type"] == "AWS::IAM::ManagedPolicy":
            found += [(name, s) for s in resource["Properties"]["PolicyDocument"]["Statement"]]
    return found


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_operator_policy_grants_no_wildcard(resources):
    # (the functions' roles are checked in test_template_checks.py)
    statements = [s for owner, s in _statements(resources) if owner == "OperatorPolicy"]
    assert statements
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert not [a for a in _listed(statement["Action"]) if "*" in a]
        assert "*" not in json.dumps(statement["Resource"]), statement["Resource"]


def test_every_queues_dead_letters_can_be_listed_and_redriven_by_the_operator(resources):
    from parity_dev.stack import load_template
    from parity_ops.dead_letters import DLQS

    from .conftest import TEMPLATE

    # GIVEN every queue of the template that sends what fails to a DLQ
    sources = {name: r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0] for name, r in resources.items()
               if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]}
    outputs = load_template(TEMPLATE)["Outputs"]
    # THEN `parity ops dlq` knows each pair (its DLQ read, redriven to the queue) ...
    known = {outputs[dlq]["Value"]["Ref"]: outputs[queue]["Value"]["Ref"] for dlq, queue in DLQS.values() if queue is not None}
    assert known == {dlq: queue for queue, dlq in sources.items()}
    # ... and the operator's policy may read each DLQ and send back to its queue
    granted = {sid: {arn["Fn::GetAtt"][0] for arn in _listed(s["Resource"]) if isinstance(arn, dict) and "Fn::GetAtt" in arn} for owner, s in _statements(resources) if owner == "OperatorPolicy" for sid in [s.get("Sid")]}
    assert set(sources.values()) <= granted["DeadLetters"] and set(sources) <= granted["Redrive"]


def test_every_stream_consumers_dead_letters_can_be_listed_and_replayed_by_the_operator(resources):
    from parity_dev.stack import load_template
    from parity_ops.dead_letters import DLQS, STREAM_REPLAYS

    from .conftest import TEMPLATE

    # GIVEN every stream event source mapping of the template and the DLQ it describes failed batches on
    described = {}
    for r in resources.values():
        props = r["Properties"]
        if r["Type"] == "AWS::Lambda::EventSourceMapping" and "StreamArn" in json.dumps(props["EventSourceArn"]):
            described.setdefault(props["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0], set()).add(props["EventSourceArn"]["Fn::GetAtt"][0])
    outputs = load_template(TEMPLATE)["Outputs"]
    # THEN `parity ops dlq` knows each as a stream DLQ it can replay ...
    replayable = {outputs[DLQS[name][0]]["Value"]["Ref"] for name in STREAM_REPLAYS}
    assert set(described) == replayable and all(DLQS[name][1] is None for name in STREAM_REPLAYS)
    # ... and the operator's policy may read each DLQ and re-read each stream
    granted = {s.get("Sid"): json.dumps(s["Resource"]) for owner, s in _statements(resources) if owner == "OperatorPolicy"}
    assert len(described) == 3, described
    for dlq, tables in described.items():
        assert f'"{dlq}"' in granted["DeadLetters"], dlq
        assert all(f'["{table}", "StreamArn"]' in granted["ReReadTheOutbox"] for table in tables), (dlq, tables)


def test_the_room_index_and_the_secret_parameter_are_granted_only_where_needed(resources):
    index_queries = [(owner, s) for owner, s in _statements(resources) if "index/RoomRecords" in json.dumps(s["Resource"])]
    assert [(owner, _listed(s["Action"])) for owner, s in index_queries] == [("OperatorPolicy", ["dynamodb:Query"])]
    parameter_grants = {owner: _listed(s["Action"]) for owner, s in _statements(resources) if "webhook-signing-secret" in json.dumps(s["Resource"])}
    assert parameter_grants == {
        "WebhookSenderFunctionRole": ["ssm:GetParameter"],
        "WebhookReceiverFunctionRole": ["ssm:GetParameter"],
        "OperatorPolicy": ["ssm:GetParameter", "ssm:PutParameter"],
    }


def test_the_room_index_is_sparse_and_keys_only(resources, wired, company):
    (index,) = resources["CrmTable"]["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "RoomRecords" and index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert index["KeySchema"] == [{"AttributeName": "room_key", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    # a record without a room stays out of the index
    made = company()
    auth = wired.login(made.api_key)
    roomless = wired.create(auth, channel_integration_room_id=None)
    item = wired.aws.client("dynamodb").get_item(TableName=wired.stack.outputs["CrmTableName"], Key={"pk": {"S": f"COMPANY#{made.id}"}, "sk": {"S": f"DEAL#{roomless['id']}"}})["Item"]
    assert "room_key" not in item

