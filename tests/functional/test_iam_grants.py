"""template.yaml is the truth about permissions too: every AWS request a function really makes (seen
at the local stack's AWS edge, signed with that function's own worker credentials) is allowed by the
role template.yaml gives that function — the action on that very table, index, queue, parameter or
bus. moto does not enforce IAM; without this, a missing grant (a GetItem added to a use case) would
pass every test and fail on AWS."""

from __future__ import annotations

import fnmatch
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from parity.conversations import signatures
from parity_dev.aws_edge import AwsCall

from .test_conversations import providers  # noqa: F401  (the providers' send APIs, faked)

#: SQS's batch operations are authorised by their single operation's action (IAM has no other).
_SQS_ACTIONS = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage", "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}
#: Operations whose items act on a table each with their own action.
_TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


def _needed(call: AwsCall, stack: Any) -> Iterator[tuple[str, tuple[str, ...]]]:
    """The (IAM action, resource) pairs one request needs; resources as (kind, name, detail)."""
    tables = {name: logical for logical, name in stack.tables.items()}
    queues = {url.rsplit("/", 1)[-1]: logical for logical, url in stack.queues.items()}
    params = call.params
    if call.service == "dynamodb":
        if call.operation == "TransactWriteItems":
            for item in params.get("TransactItems", []):
                ((kind, body),) = item.items()
                yield f"dynamodb:{_TRANSACT_ACTIONS[kind]}", ("table", tables.get(body["TableName"], body["TableName"]), "")
        elif call.operation == "TransactGetItems":
            for item in params.get("TransactItems", []):
                yield "dynamodb:GetItem", ("table", tables.get(item["Get"]["TableName"], item["Get"]["TableName"]), "")
        else:
            yield f"dynamodb:{call.operation}", ("table", tables.get(params.get("TableName"), params.get("TableName")), params.get("IndexName") or "")
    elif call.service == "sqs":
        url = params.get("QueueUrl", "")
        yield f"sqs:{_SQS_ACTIONS.get(call.operation, call.operation)}", ("queue", queues.get(url.rsplit("/", 1)[-1], url), "")
    elif call.service == "ssm":
        for name in params.get("Names") or [params.get("Name")]:
            yield f"ssm:{call.operation}", ("parameter", str(name), "")
    elif call.service == "events":
        for entry in params.get("Entries", []):
            yield f"events:{call.operation}", ("bus", entry.get("EventBusName", "default"), "")
    else:
        yield f"{call.service}:{call.operation}", ("unknown", call.operation, "")


def _granted(resource_expression: Any, stack: Any) -> tuple[str, str, str] | None:
    """A role statement's resource, in the same form."""
    if isinstance(resource_expression, dict) and "Fn::GetAtt" in resource_expression:
        logical, attribute = resource_expression["Fn::GetAtt"]
        kind = {"AWS::DynamoDB::Table": "table", "AWS::SQS::Queue": "queue", "AWS::Events::EventBus": "bus"}.get(stack.resource_types.get(logical, ""))
        if attribute == "StreamArn":
            return ("stream", logical, "")
        if kind == "bus":
            return ("bus", stack.outputs.get("EventBusName", logical), "")
        return (kind, logical, "") if kind else None
    if isinstance(resource_expression, dict) and "Fn::Sub" in resource_expression:
        text = resource_expression["Fn::Sub"] if isinstance(resource_expression["Fn::Sub"], str) else resource_expression["Fn::Sub"][0]
        if "/index/" in text:
            logical = text.split("${", 1)[1].split(".Arn", 1)[0]
            return ("table", logical, text.rsplit("/index/", 1)[1])
        if ":parameter/" in text:
            return ("parameter", "/" + text.split(":parameter/", 1)[1].replace("${AWS::StackName}", stack.stack_name), "")
    return None


def _allowed(stack: Any, function: str, action: str, resource: tuple[str, ...]) -> bool:
    role_name = stack.template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    for policy in stack.template["Resources"][role_name]["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if action not in actions:
                continue
            for expression in resources:
                granted = _granted(expression, stack)
                if granted is None or granted[0] != resource[0]:
                    continue
                if granted[0] == "parameter" and fnmatch.fnmatchcase(resource[1], granted[1]):
                    return True
                if granted[1:] == resource[1:]:
                    return True
    return False


def test_every_aws_request_a_function_makes_is_granted_by_its_role(wired, company, edge, stack, providers):  # noqa: F811
    # GIVEN the whole pipeline recorded at the AWS edge while a company works through it:
    # the CRM side, the inbox side, the timeline note, and the conversations
    made = company()
    auth = wired.login(made.api_key)
    with edge.recording() as calls:
        contact = wired.gateway.invoke("POST", "/api/v3.1/contacts", headers=auth, json={"name": "Budi", "phone": "+6281234567890"}).json()["data"]
        wired.gateway.invoke("GET", "/api/v3.1/contacts", headers=auth, query={"phone": "+6281234567890"})
        channel = wired.gateway.invoke("POST", "/api/v3.1/channels", headers=auth, json={
            "type": "whatsapp", "name": "wa", "secret": "app-secret", "api_token": "tok", "account_id": "1065", "verify_token": "v"}).json()["data"]
        body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "contacts": [{"profile": {"name": "Budi"}, "wa_id": "6281234567890"}],
            "messages": [{"from": "6281234567890", "id": f"wamid.{uuid.uuid4().hex}", "timestamp": str(int(time.time())), "type": "text", "text": {"body": "halo"}}]}}]}]}).encode()
        wired.gateway.invoke("POST", f"/channels/whatsapp/{channel['id']}", headers={"content-type": "application/json", **signatures.sign_whatsapp(body, "app-secret")}, body=body)
        wired.gateway.invoke("GET", f"/channels/whatsapp/{channel['id']}", query={"hub.mode": "subscribe", "hub.verify_token": "v", "hub.challenge": "1"})
        wired.drain()
        room = wired.gateway.invoke("GET", "/api/v3.1/conversations", headers=auth).json()["data"][0]["id"]
        wired.gateway.invoke("POST", f"/api/v3.1/conversations/{room}/state", headers=auth, json={"state": "pending"})
        wired.gateway.invoke("GET", f"/api/v3.1/conversations/{room}/messages", headers=auth)
        wired.gateway.invoke("GET", f"/api/open/v1/messages/rooms/{room}", headers=auth)
        wired.gateway.invoke("POST", f"/api/v3.1/conversations/{room}/messages", headers={**auth, "Idempotency-Key": uuid.uuid4().hex}, json={"text": "ok", "sender_type": "agent"})
        deal = wired.create(auth, room=room, contact_id=contact["id"], headers={"Idempotency-Key": uuid.uuid4().hex})
        wired.gateway.invoke("PATCH", f"/api/v3.1/deals/{deal['id']}", headers=auth, json={"stage": "Won"})
        wired.drain()
        wired.preview(auth, room)
        wired.notes(auth, deal)
        wired.gateway.invoke("GET", f"/api/v3.1/deals/{deal['id']}", headers=auth)
        wired.gateway.invoke("DELETE", f"/api/v3.1/deals/{deal['id']}", headers=auth)
        wired.runtime.invoke("SnoozeWakerFunction", {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
        wired.drain()
        wired.gateway.invoke("DELETE", f"/api/v3.1/channels/{channel['id']}", headers=auth)
    # THEN every request a function signed is one its role allows
    by_functions = [c for c in calls if c.function is not None]
    assert {c.function for c in by_functions} >= {"CreateDealFunction", "RecordsFunction", "EventRouterFunction", "TimelineNoteFunction", "WebhookReceiverFunction",
                                                  "ChannelsFunction", "ChannelWebhookFunction", "IngestFunction", "ConversationsFunction", "ConversationOutboxFunction", "MessageSenderFunction"}
    missing = sorted({(c.function, action, resource) for c in by_functions for action, resource in _needed(c, stack) if not _allowed(stack, c.function, action, resource)})
    assert missing == [], "\n".join(f"{f}: {a} on {r}" for f, a, r in missing)
