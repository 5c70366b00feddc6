"""``parity ops`` on moto, against the stack deployed from template.yaml and found by name through
its CloudFormation outputs, with the whole pipeline of the local stack running (``wired``): the rollback flag,
dead letters of every queue, reconcile, API keys and the signing-secret rotation (issue 6)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime, timezone

from parity.core.dynamodb import dump_item
from parity_dev.pollers import DynamoDbStreamPoller
from parity_ops.target import stack_target


def outputs_needed() -> set[str]:
    return {
        "CrmTableName", "PreviewTableName", "WebhookQueueUrl", "WebhookDLQUrl", "TimelineQueueUrl", "TimelineDLQUrl",
        "RouterDLQUrl", "CrmRecordUrlTemplate", "ParityDefaultEnabled", "WebhookSigningSecretParameter",
        "WebhookSenderFunctionName", "OperatorPolicyArn",
    }


def test_the_stack_is_found_by_name_through_its_outputs(stack):
    target = stack_target("parity")
    assert outputs_needed() <= set(target.outputs)
    assert target.outputs["CrmTableName"] == stack.tables["CrmTable"]
    assert target.outputs["WebhookSigningSecretParameter"] == "/parity/webhook-signing-secret"


# ---- the flag: the rollback ----------------------------------------------------------------------------
def test_flag_off_stops_previews_and_notes_while_creates_succeed_and_on_resumes(wired, company, ops):
    made = company()
    auth = wired.login(made.api_key)
    # GIVEN a company rolled out: a bot deal gets its preview and its note
    first = wired.create(auth)
    wired.drain()
    assert wired.preview(auth, first["channel_integration_room_id"])["deal"]["id"] == first["id"]
    assert len(wired.notes(auth, first)) == 1
    # WHEN an operator turns its flag off
    code, shown, _ = ops("flag", "off", made.id)
    assert code == 0 and (shown["own"], shown["effective"], shown["effective_within_s"]) == (False, False, 60)
    assert shown["changed_by"] and shown["changed_at"]
    # THEN creates still succeed, but make no preview and no note
    second = wired.create(auth)
    wired.drain()
    assert wired.preview(auth, second["channel_integration_room_id"])["deal"] is None
    assert wired.notes(auth, second) == []
    # WHEN it is turned back on THEN the next bot deal shows again, with its note
    assert ops("flag", "on", made.id)[0] == 0
    third = wired.create(auth)
    wired.drain()
    assert wired.preview(auth, third["channel_integration_room_id"])["deal"]["id"] == third["id"]
    assert len(wired.notes(auth, third)) == 1


def test_flag_clear_follows_the_stack_default_and_show_says_so(wired, company, ops):
    made = company()
    code, shown, _ = ops("flag", "clear", made.id)
    assert code == 0 and (shown["own"], shown["default"], shown["effective"]) == (None, False, False)
    assert ops("flag", "show", made.id)[1] == shown


def test_flag_of_an_unknown_company_is_refused(ops):
    code, out, err = ops("flag", "off", f"nobody-{uuid.uuid4().hex[:6]}")
    assert code == 1 and out is None and "no company" in err


# ---- dead letters ----------------------------------------------------------------------------------------
def test_an_undeliverable_event_is_listed_shown_and_redriven_to_delivery(wired, company, ops):
    made = company()
    auth = wired.login(made.api_key)
    # GIVEN the receiver is unreachable: the sender retries, then dead-letters the event with why
    with wired.setting(OMNICHANNEL_WEBHOOK_URL="http://127.0.0.1:9/webhooks/qontak-crm"):
        deal = wired.create(auth, headers={"X-Correlation-Id": f"dlq-{made.id}"})
        wired.drain()
    room = deal["channel_integration_room_id"]
    assert wired.preview(auth, room)["deal"] is None
    # WHEN an operator lists the webhook DLQ THEN the event is there, with its reason and correlation id
    code, listed, _ = ops("dlq", "list", "webhook")
    assert code == 0
    (mine,) = [m for m in listed["messages"] if deal["id"] in m["about"]]
    assert "connection failed" in mine["reason"] and mine["attempts"] == 3 and mine["correlation_id"] == f"dlq-{made.id}"
    # AND show gives the event itself
    code, shown, _ = ops("dlq", "show", "webhook", mine["message_id"])
    assert code == 0 and shown["body"]["data"]["id"] == deal["id"] and shown["attributes"]["failure_reason"] == mine["reason"]
    # WHEN the receiver is back and the operator redrives that message THEN it is delivered
    code, redriven, _ = ops("dlq", "redrive", "webhook", mine["message_id"])
    assert code == 0 and redriven["redriven"] == 1
    wired.drain()
    assert wired.preview(auth, room)["deal"]["id"] == deal["id"]
    assert all(deal["id"] not in m["about"] for m in ops("dlq", "list", "webhook")[1]["messages"])


def test_a_dead_lettered_timeline_note_is_redriven_and_written(wired, company, ops):
    made = company()
    auth = wired.login(made.api_key)
    ops("flag", "off", made.id)
    deal = wired.create(auth, room="room-123")  # no event: the flag is off
    wired.drain()
    # GIVEN its create event parked in TimelineDLQ, as SQS parks a message after 5 failed receives
    event = {"eventType": "qontak.crm.deal.create", "event_id": f"evt_{uuid.uuid4().hex}", "company_id": made.id, "occurred_at": deal["created_at"], "data": deal}
    wired.aws.client("sqs").send_message(QueueUrl=wired.stack.outputs["TimelineDLQUrl"], MessageBody=json.dumps(event))
    code, listed, _ = ops("dlq", "list", "timeline")
    (mine,) = [m for m in listed["messages"] if deal["id"] in m["about"]]
    # WHEN it is redriven THEN the note is written
    assert ops("dlq", "redrive", "timeline", mine["message_id"])[1]["redriven"] == 1
    wired.drain()
    (note,) = wired.notes(auth, deal)
    assert note["room_id"] == "room-123" and note["preview_status"] == "ok"


def test_a_router_dead_letter_is_replayed_from_the_stream(wired, company, ops, runtime):
    made = company()
    auth = wired.login(made.api_key)
    # GIVEN the router cannot queue (its queue is gone) and Lambda gives up on the stream batch,
    # describing it on RouterDLQ (retries cut to 0 to get there at once)
    mapping = next(m for m in wired.stack.event_source_mappings if m.source_kind == "dynamodb" and m.function == "EventRouterFunction")
    router = DynamoDbStreamPoller(dataclasses.replace(mapping, maximum_retry_attempts=0), runtime, wired.aws, starting_position="LATEST")
    wired.only_queues()
    with wired.setting(WEBHOOK_QUEUE_URL="https://sqs.us-east-1.amazonaws.com/123456789012/no-such-queue"):
        deal = wired.create(auth, room="room-456", headers={"X-Correlation-Id": f"router-{made.id}"})
        while router.poll_once():
            pass
    room = deal["channel_integration_room_id"]
    wired.drain()
    assert wired.preview(auth, room)["deal"] is None
    code, listed, _ = ops("dlq", "list", "router")
    assert code == 0 and listed["messages"] and "stream batch" in listed["messages"][-1]["about"]
    # WHEN the operator redrives the router DLQ
    code, redriven, _ = ops("dlq", "redrive", "router")
    # THEN the records are routed again, under the ids the router derives and the record's correlation id
    assert code == 0 and redriven["redriven"] >= 1
    mine = [e for e in redriven["events"] if e["record_id"] == deal["id"]]
    assert [e["event_type"] for e in mine] == ["qontak.crm.deal.create"] and mine[0]["correlation_id"] == f"router-{made.id}"
    wired.drain()
    assert wired.preview(auth, room)["deal"]["id"] == deal["id"]
    assert len(wired.notes(auth, deal)) == 1


def test_a_router_dead_letter_whose_stream_records_are_gone_stays_and_points_to_reconcile(wired, ops, stack):
    # GIVEN a descriptor of records the stream no longer holds (moto has no 24 h trim: a stream that is gone)
    gone = "arn:aws:dynamodb:us-east-1:123456789012:table/parity-CrmTable-gone/stream/2026-01-01T00:00:00.000"
    descriptor = {"requestContext": {"condition": "RetryAttemptsExhausted"}, "DDBStreamBatchInfo": {
        "shardId": "shardId-00000000000000000000-00000000", "startSequenceNumber": "100000000000000000001", "endSequenceNumber": "100000000000000000002",
        "batchSize": 2, "streamArn": gone}}
    sqs = wired.aws.client("sqs")
    sqs.send_message(QueueUrl=stack.outputs["RouterDLQUrl"], MessageBody=json.dumps(descriptor))
    try:
        # WHEN redriven THEN it is refused with what to do instead, and stays in the queue
        code, _, err = ops("dlq", "redrive", "router")
        assert code == 1 and "reconcile" in err
        assert any("gone" in json.dumps(ops("dlq", "show", "router", m["message_id"])[1]) for m in ops("dlq", "list", "router")[1]["messages"])
    finally:  # leave the shared DLQ as we found it
        for message in sqs.receive_message(QueueUrl=stack.outputs["RouterDLQUrl"], MaxNumberOfMessages=10).get("Messages", []):
            if "gone" in message["Body"]:
                sqs.delete_message(QueueUrl=stack.outputs["RouterDLQUrl"], ReceiptHandle=message["ReceiptHandle"])


# ---- reconcile -------------------------------------------------------------------------------------------
def test_reconcile_restores_a_lost_preview_at_the_records_current_version(wired, company, ops):
    made = company()
    auth = wired.login(made.api_key)
    deal = wired.create(auth)
    room = deal["channel_integration_room_id"]
    wired.gateway.invoke("PATCH", f"/api/v3.1/deals/{deal['id']}", headers=auth, json={"stage": "Won"})
    wired.drain()
    assert wired.preview(auth, room)["deal"]["version"] == 2
    # GIVEN the room lost what it knew of the deal (its preview entry is gone)
    wired.aws.client("dynamodb").delete_item(TableName=wired.stack.outputs["PreviewTableName"], Key=dump_item({"pk": f"ROOM#{made.id}#{room}", "sk": f"DEAL#{deal['id']}"}))
    assert wired.preview(auth, room)["deal"] is None
    # WHEN the operator reconciles the room
    code, result, _ = ops("reconcile", room, "--company", made.id)
    # THEN the deal's current state is re-emitted under a fresh event id, and the preview is back
    assert code == 0 and [(e["event_type"], e["record_id"], e["version"]) for e in result["events"]] == [("qontak.crm.deal.create", deal["id"], 2)]
    assert result["events"][0]["event_id"].startswith("evt_rec_") and result["correlation_id"].startswith("reconcile-")
    wired.drain()
    shown = wired.preview(auth, room)["deal"]
    assert (shown["id"], shown["version"], shown["stage"]) == (deal["id"], 2, "Won")
    # AND reconciling again changes nothing (same version: the receiver keeps what it has)
    assert ops("reconcile", room, "--company", made.id)[0] == 0
    wired.drain()
    assert wired.preview(auth, room)["deal"] == shown


def test_reconcile_takes_down_a_record_whose_delete_was_lost(wired, company, ops):
    made = company()
    auth = wired.login(made.api_key)
    keeper = wired.create(auth, name="Older")
    room = keeper["channel_integration_room_id"]
    gone = wired.create(auth, room=room, name="Newer")
    wired.drain()
    assert wired.preview(auth, room)["deal"]["id"] == gone["id"]
    # GIVEN the newer deal is deleted but its delete event never reaches the room
    wired.only_queues()
    assert wired.gateway.invoke("DELETE", f"/api/v3.1/deals/{gone['id']}", headers=auth).status == 204
    wired.drain()
    assert wired.preview(auth, room)["deal"]["id"] == gone["id"]
    # WHEN reconciled THEN the room drops it and shows the older one
    code, result, _ = ops("reconcile", room, "--company", made.id)
    assert code == 0 and {(e["event_type"], e["record_id"]) for e in result["events"]} == {("qontak.crm.deal.create", keeper["id"]), ("qontak.crm.deal.delete", gone["id"])}
    wired.drain()
    assert wired.preview(auth, room)["deal"]["id"] == keeper["id"]


def test_reconcile_with_notes_writes_a_missing_note_once(wired, company, ops):
    made = company()
    auth = wired.login(made.api_key)
    wired.only_queues()  # the create event is lost: no preview, no note
    deal = wired.create(auth, room="room-789")
    wired.drain()
    assert wired.notes(auth, deal) == []
    assert ops("reconcile", "room-789", "--company", made.id, "--notes")[0] == 0
    assert ops("reconcile", "room-789", "--company", made.id, "--notes")[0] == 0
    wired.drain()
    assert len(wired.notes(auth, deal)) == 1 and wired.preview(auth, "room-789")["deal"]["id"] == deal["id"]


def test_reconcile_is_refused_while_the_flag_is_off(wired, company, ops):
    made = company(parity_enabled=False)
    code, _, err = ops("reconcile", "room-1", "--company", made.id)
    assert code == 1 and "flag on" in err


# ---- API keys --------------------------------------------------------------------------------------------
def test_a_key_is_issued_once_listed_by_id_and_revoked_with_its_tokens(wired, ops, stack):
    company_id = f"co-{uuid.uuid4().hex[:10]}"
    # GIVEN a new company onboarded with `key issue`
    code, issued, _ = ops("key", "issue", company_id)
    assert code == 0 and issued["company_created"] and issued["api_key"].startswith("pk_")
    auth = wired.login(issued["api_key"])
    assert wired.gateway.invoke("GET", "/api/v3.1/deals/nothing", headers=auth).status == 404
    # THEN the key is listed by its id, never in clear, and not stored in clear
    code, listed, _ = ops("key", "list", company_id)
    assert [(k["key_id"], k["revoked"]) for k in listed["keys"]] == [(issued["key_id"], False)]
    assert issued["api_key"] not in json.dumps(listed)
    dump = json.dumps(wired.aws.client("dynamodb").scan(TableName=stack.outputs["CrmTableName"])["Items"])
    assert issued["api_key"] not in dump
    # WHEN it is revoked
    code, revoked, _ = ops("key", "revoke", company_id, "--key-id", issued["key_id"])
    assert code == 0 and revoked["revoked"] == [issued["key_id"]]
    # THEN it cannot be exchanged any more, and its token stops once the authorizer's 60 s cache ends
    refused = wired.gateway.invoke("POST", "/api/v3.1/teams/company_token", headers={"X-Crm-Api-Key": issued["api_key"]}, json={"sso_id": "x"})
    assert refused.status == 401
    wired.runtime.recycle("AuthorizerFunction")  # its warm token cache (≤ 60 s) ends with its workers
    assert wired.gateway.invoke("GET", "/api/v3.1/deals/nothing", headers=auth).status == 401
    assert ops("key", "list", company_id)[1]["keys"][0]["revoked"] is True
    assert ops("key", "revoke", company_id)[0] == 1  # nothing left to revoke


# ---- the signing secret ----------------------------------------------------------------------------------
def test_rotating_the_signing_secret_loses_no_delivery(wired, company, ops, stack):
    from parity.outbox import signing

    made = company()
    auth = wired.login(made.api_key)
    ssm = wired.aws.client("ssm")
    parameter = stack.outputs["WebhookSigningSecretParameter"]
    try:
        code, before, _ = ops("secret", "show")
        assert code == 0 and before["source"].startswith("deploy-time") and len(before["secrets"]) == 1
        # WHEN a rotation starts THEN two secrets sign, the new one first, stored encrypted
        code, rotated, _ = ops("secret", "rotate")
        assert code == 0 and rotated["secrets"][1:] == before["secrets"] and "new_secret" not in rotated
        stored = ssm.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]
        assert ssm.get_parameter(Name=parameter)["Parameter"]["Type"] == "SecureString"
        new, old = signing.parse_secrets(stored["Value"])
        # AND deliveries go on during the overlap
        during = wired.create(auth)
        wired.drain()
        assert wired.preview(auth, during["channel_integration_room_id"])["deal"]["id"] == during["id"]
        # AND the rotation cannot be finished before every function has read it, nor started twice
        code, _, err = ops("secret", "finish")
        assert code == 1 and "finish in" in err
        assert ops("secret", "rotate")[0] == 1
        # WHEN it is finished THEN only the new secret signs, deliveries go on, and the old one is refused
        code, finished, _ = ops("secret", "finish", "--overlap", "0")
        assert code == 0 and finished["dropped"] == before["secrets"]
        after = wired.create(auth)
        wired.drain()
        assert wired.preview(auth, after["channel_integration_room_id"])["deal"]["id"] == after["id"]
        body = json.dumps({"eventType": "qontak.crm.deal.create", "event_id": "evt_old", "company_id": made.id, "occurred_at": after["created_at"], "data": {**after, "id": "forged"}})
        signed_with_old = signing.sign("evt_old", body, [old], now=datetime.now(timezone.utc))
        assert wired.gateway.invoke("POST", "/webhooks/qontak-crm", headers={**signed_with_old, "content-type": "application/json"}, body=body).status == 401
        assert new != old and ops("secret", "show")[1]["secrets"] == [finished["secrets"][0]]
    finally:  # other tests sign with the deploy-time secret
        try:
            ssm.delete_parameter(Name=parameter)
        except ssm.exceptions.ParameterNotFound:
            pass


def test_cli_tables_are_readable_without_json(wired, company, capsys):
    from parity_dev.cli import main

    made = company()
    capsys.readouterr()
    assert main(["ops", "flag", "show", made.id, "--stack", "parity"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split() == ["COMPANY", "OWN", "FLAG", "STACK", "DEFAULT", "EFFECTIVE", "CHANGED"]
    assert made.id in text and "ON" in text


def test_parity_ops_is_also_a_command_of_its_own(wired, company, capsys):
    from parity_ops.cli import main

    made = company()
    capsys.readouterr()
    assert main(["flag", "show", made.id, "--stack", "parity", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["company_id"], shown["effective"]) == (made.id, True)


def _failing_stream_poller(wired, runtime, function: str, table: str) -> DynamoDbStreamPoller:
    """``function``'s poller of ``table``'s stream with retries cut to 0: a batch that fails once is
    described on its DLQ at once, as Lambda does when the retries are exhausted."""
    mapping = next(m for m in wired.stack.event_source_mappings
                   if m.source_kind == "dynamodb" and m.function == function and f"table/{wired.stack.tables[table]}/" in m.source_arn)
    return DynamoDbStreamPoller(dataclasses.replace(mapping, maximum_retry_attempts=0), runtime, wired.aws, starting_position="LATEST")


def test_a_conversation_outbox_dead_letter_is_replayed_from_the_stream(wired, company, ops, runtime):
    from .test_conversations import channel, post, whatsapp_message
    from .test_feedback import bus_tap

    made = company()
    auth = wired.login(made.api_key)
    tap = bus_tap(wired.aws, wired.stack, made.id, "parity.conversations")
    # GIVEN a customer's first message, whose stream records the outbox cannot publish (the bus is
    # misnamed) until Lambda gives up and describes the batch on ConversationOutboxDLQ
    outbox = _failing_stream_poller(wired, runtime, "ConversationOutboxFunction", "ConversationTable")
    wired.only_queues()
    whatsapp = channel(wired, auth)
    with wired.setting(EVENT_BUS_NAME="no-such-bus"):
        assert post(wired, whatsapp, whatsapp_message("halo, pesanan saya belum sampai")).status == 200
        wired.drain()
        while outbox.poll_once():
            pass
    assert tap() == []
    code, listed, _ = ops("dlq", "list", "conversation-outbox")
    assert code == 0 and any("stream batch" in m["about"] for m in listed["messages"])
    # WHEN the operator redrives it
    code, redriven, _ = ops("dlq", "redrive", "conversation-outbox")
    # THEN the conversation's events are published, under the ids the outbox derives from the records
    assert code == 0 and redriven["redriven"] >= 1
    published = {e["detail"]["event_id"]: e["detail-type"] for e in tap()}
    assert sorted(published.values()) == ["conversation.created", "message.received"]
    assert set(published) <= {e["event_id"] for e in redriven["events"]}
    # AND the queue is empty of it
    assert ops("dlq", "list", "conversation-outbox")[1]["count"] == 0


def test_a_trust_router_dead_letter_is_replayed_and_its_activity_line_is_written_once(wired, company, ops, runtime):
    from .test_approvals import Trust
    from .test_feedback import bus_tap

    trust = Trust(wired, company())
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    held = trust.hold()
    wired.drain()
    tap = bus_tap(wired.aws, wired.stack, trust.company.id, "parity.approvals")
    # GIVEN an approval decided while its stream record cannot be published (the bus is misnamed),
    # until Lambda gives up and describes the batch on TrustRouterDLQ
    router = _failing_stream_poller(wired, runtime, "TrustRouterFunction", "TrustTable")
    wired.only_queues()
    with wired.setting(EVENT_BUS_NAME="no-such-bus"):
        assert trust.call("POST", f"/approvals/{held['id']}/approve").status == 200
        while router.poll_once():
            pass
    assert tap() == []
    # WHEN the operator redrives it
    code, redriven, _ = ops("dlq", "redrive", "trust-router")
    # THEN the decision is on the bus once, and the activity log holds its line once
    assert code == 0 and redriven["redriven"] >= 1 and any(r["record_id"] == held["id"] and r["published"] == 1 for r in redriven["events"])
    assert [(e["detail-type"], e["detail"]["approval_id"]) for e in tap()] == [("approval.approved", held["id"])]
    decided = [line for line in trust.activity() if line.get("approval_id") == held["id"] and line["action"] == "approved"]
    assert len(decided) == 1, trust.activity()
    assert ops("dlq", "list", "trust-router")[1]["count"] == 0
