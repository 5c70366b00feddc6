"""``parity ops``: see, stop and heal the pipeline without a redeploy (RFC §4 rollout and rollback).

Works on a deployed stack, found by name through its CloudFormation outputs (``--stack NAME``; the
caller's AWS credentials, which the stack's ``OperatorPolicyArn`` output grants exactly enough), and
on the local stack (``--local http://127.0.0.1:N``, found through its ``GET /_local/stack``):

    flag on|off|clear|show COMPANY      the rollout switch and the rollback (effective within 60 s)
    dlq list|show|redrive QUEUE          dead letters of webhook, timeline or router; redrive re-delivers
    reconcile ROOM --company C           re-emit the room's bot/AI records so a missed event heals its preview
    key issue|list|revoke COMPANY        company API keys (a new key is printed once)
    secret show|rotate|finish            the webhook signing secret, rotated with an overlap window

Every command prints a readable table, or JSON with ``--json``. Each is also a function here, so
tests and scripts can call it with a ``Target``.

Dead letters: ``list_dead_letters`` peeks (and leaves them visible);
``redrive`` sends webhook and timeline messages back to the queue they came from, where they are
processed afresh under their own event ids (the receiver and the note writer dedupe them). The
router's dead letters are not events but descriptions of stream batches Lambda gave up on:
redriving one re-reads those stream records (the stream keeps 24 h) and routes them as the router
would, under the same derived event ids; past 24 h it is left in place and ``reconcile`` heals the
rooms instead.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import hashlib
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from secrets import token_bytes
from typing import Any

#: Attributes the sender adds when it gives up; the redriven message starts clean without them.
_FAILURE_ATTRIBUTES = ("failure_reason", "attempts", "source_queue")
#: How long one sweep of ``list`` hides the messages it peeks at (they are made visible again after).
PEEK_SECONDS = 5
#: The longest a change of flag or secret takes to reach every warm container (their caches).
from parity.core.settings import MAX_CACHE_SECONDS as EFFECTIVE_WITHIN_SECONDS  # noqa: E402

#: How long a rotation must have been in place before ``secret finish``: the functions' longest cache,
#: so no receiver can still hold only the old secret when the sender stops signing with it.
DEFAULT_OVERLAP_SECONDS = EFFECTIVE_WITHIN_SECONDS

DLQS = {
    # name: (its DLQ output, the queue a redrive sends it back to)
    "webhook": ("WebhookDLQUrl", "WebhookQueueUrl"),
    "timeline": ("TimelineDLQUrl", "TimelineQueueUrl"),
    "router": ("RouterDLQUrl", None),
}


class OpsError(Exception):
    """A command that cannot or must not run; the message says why and what to do instead."""


# ---- finding the stack ---------------------------------------------------------------------------
@dataclass
class Target:
    """A deployed or local stack: its outputs and AWS clients that reach it."""

    name: str
    outputs: dict[str, str]
    clients: Any  # parity_dev.aws.Clients

    def output(self, key: str) -> str:
        value = self.outputs.get(key)
        if not value:
            raise OpsError(f"stack {self.name} has no output {key}; deploy the current template.yaml")
        return value

    def client(self, service: str) -> Any:
        return self.clients.client(service)

    def crm(self) -> Any:
        from parity.crm.store import CrmStore

        return CrmStore(self.output("CrmTableName"), client=self.client("dynamodb"))

    def parity_default(self) -> bool:
        return self.outputs.get("ParityDefaultEnabled", "false").lower() == "true"

    def url_template(self) -> str:
        """Record URLs in events, as the stack's functions make them."""
        from parity.core.settings import DEFAULT_CRM_RECORD_URL_TEMPLATE

        return self.outputs.get("CrmRecordUrlTemplate") or DEFAULT_CRM_RECORD_URL_TEMPLATE


def stack_target(stack_name: str, *, region: str | None = None) -> Target:
    """A deployed stack, by name, through its CloudFormation outputs (the default credential chain)."""
    from botocore.exceptions import BotoCoreError, ClientError

    import boto3

    from parity_dev.aws import Clients, default_clients

    region = region or boto3.Session().region_name  # the caller's AWS configuration
    shared = default_clients()
    clients = shared if region in (None, shared.region) else Clients(region=region)
    try:
        described = clients.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    except (ClientError, BotoCoreError) as exc:
        raise OpsError(f"cannot read stack {stack_name}: {exc}") from exc
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in described.get("Outputs", [])}
    return Target(stack_name, outputs, clients)


def local_target(base_url: str) -> Target:
    """The local stack at ``base_url`` (``parity local``): its embedded AWS, with its fake credentials."""
    import boto3
    import httpx

    from parity_dev.aws import FAKE_CREDENTIALS, Clients

    try:
        info = httpx.get(f"{base_url.rstrip('/')}/_local/stack", timeout=5).raise_for_status().json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OpsError(f"no local stack answers at {base_url} ({exc}); start one with `parity local`") from exc
    session = boto3.Session(
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=info["region"],
    )
    return Target(base_url, dict(info["outputs"]), Clients(session, endpoint_url=info["aws_endpoint_url"], region=info["region"]))


def _operator(target: Target) -> str:
    """Who is running the command, for the audit fields of a flag change."""
    try:
        return str(target.client("sts").get_caller_identity()["Arn"])
    except Exception:  # no STS (or no network): the local account name is still better than nothing
        return getpass.getuser()


def _now() -> int:
    return int(time.time())


def _iso(epoch: float | int | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(float(epoch), timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# ---- flag ----------------------------------------------------------------------------------------
def flag_show(target: Target, company_id: str) -> dict[str, Any]:
    """The company's own flag, the stack default, and what the router therefore does."""
    company = target.crm().company(company_id)
    if company is None:
        raise OpsError(f"no company {company_id!r} (onboard one with `parity ops key issue {company_id}`)")
    from parity.crm import flags

    own = company.get("parity_enabled")
    default = target.parity_default()
    return {
        "company_id": company_id,
        "own": None if own is None else bool(own),
        "default": default,
        "effective": flags.effective(own, default=default),
        "changed_at": _iso(company.get("parity_changed_at")),
        "changed_by": company.get("parity_changed_by"),
        "effective_within_s": EFFECTIVE_WITHIN_SECONDS,
    }


def flag_set(target: Target, company_id: str, enabled: bool | None) -> dict[str, Any]:
    """Turn the company's parity flag on or off (None: clear it, so the stack default applies).

    Off is the rollback: the router stops queueing events and timeline notes for the company
    within its flag cache (30 s by default, 60 s at most); records are still created. Previews
    already shown stay until their records change; on again resumes with the next change.
    """
    crm = target.crm()
    if crm.company(company_id) is None:
        raise OpsError(f"no company {company_id!r} (onboard one with `parity ops key issue {company_id}`)")
    crm.set_company_parity(company_id, enabled, changed_by=_operator(target), now=_now())
    return flag_show(target, company_id)


# ---- dead letters --------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    body: str
    reason: str | None
    attempts: int | None
    sent_at: str | None = None
    receive_count: int | None = None
    attributes: dict[str, str] = field(default_factory=dict)


def _dead_letter(message: Mapping[str, Any]) -> DeadLetter:
    attributes = {k: v.get("StringValue", "") for k, v in message.get("MessageAttributes", {}).items()}
    system = message.get("Attributes", {})
    attempts = attributes.get("attempts")
    sent = system.get("SentTimestamp")
    return DeadLetter(
        message["MessageId"],
        message["Body"],
        attributes.get("failure_reason"),
        int(attempts) if attempts else None,
        _iso(int(sent) / 1000) if sent else None,
        int(system["ApproximateReceiveCount"]) if system.get("ApproximateReceiveCount") else None,
        attributes,
    )


def list_dead_letters(sqs: Any, dlq_url: str, *, limit: int = 100) -> list[DeadLetter]:
    """Peek at up to ``limit`` dead letters, leaving them in the queue.

    Each receive hides what it returned for ``PEEK_SECONDS``, so one sweep sees every message once;
    at the end they are made visible again, so a ``redrive`` right after finds them.
    """
    found: dict[str, DeadLetter] = {}
    handles: list[str] = []
    try:
        while len(found) < limit:
            messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"], VisibilityTimeout=PEEK_SECONDS).get("Messages", [])
            handles += [m["ReceiptHandle"] for m in messages]
            fresh = [m for m in messages if m["MessageId"] not in found]
            if not fresh:
                break
            for message in fresh:
                found[message["MessageId"]] = _dead_letter(message)
    finally:
        for start in range(0, len(handles), 10):
            entries = [{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0} for i, h in enumerate(handles[start : start + 10])]
            sqs.change_message_visibility_batch(QueueUrl=dlq_url, Entries=entries)
    return list(found.values())[:limit]


def redrive(
    sqs: Any,
    dlq_url: str,
    target_url: str,
    *,
    limit: int | None = None,
    message_ids: Iterable[str] | None = None,
    send: Callable[[Mapping[str, Any]], None] | None = None,
) -> int:
    """Move dead letters back to ``target_url``; each is deleted from the DLQ only once re-sent.

    With ``message_ids`` only those move; the others are made visible again at once. ``send``
    replaces the plain re-send (the router's descriptors are redriven by re-reading the stream);
    it raises ``OpsError`` to leave a message where it is. Stops when every message has been seen
    once, so messages that fail again during the redrive are not picked up twice.
    """
    wanted = set(message_ids) if message_ids is not None else None
    seen: set[str] = set()
    moved = 0
    while limit is None or moved < limit:
        messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"], VisibilityTimeout=30).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        for message in messages:
            if message not in fresh:
                sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
        if not fresh:
            return moved
        for message in fresh:
            seen.add(message["MessageId"])
            chosen = (wanted is None or message["MessageId"] in wanted) and (limit is None or moved < limit)
            if not chosen:
                sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
                continue
            try:
                if send is not None:
                    send(message)
                else:
                    attributes = {k: v for k, v in message.get("MessageAttributes", {}).items() if k not in _FAILURE_ATTRIBUTES}
                    sqs.send_message(QueueUrl=target_url, MessageBody=message["Body"], **({"MessageAttributes": attributes} if attributes else {}))
            except OpsError:
                sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
                raise
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
        if wanted is not None and wanted <= seen:
            return moved
    return moved


def _summary(which: str, letter: DeadLetter) -> dict[str, Any]:
    """What a dead letter is about, without its record's fields (those are for ``dlq show``)."""
    row: dict[str, Any] = {"message_id": letter.message_id, "sent_at": letter.sent_at, "receives": letter.receive_count}
    try:
        body = json.loads(letter.body)
    except ValueError:
        return {**row, "about": "(not JSON)", "reason": letter.reason}
    if which == "router":
        info = body.get("DDBStreamBatchInfo", {}) if isinstance(body, dict) else {}
        condition = (body.get("requestContext") or {}).get("condition") if isinstance(body, dict) else None
        about = f"stream batch of {info.get('batchSize')} from {info.get('startSequenceNumber')} to {info.get('endSequenceNumber')}"
        return {**row, "about": about, "reason": condition or letter.reason}
    data = body.get("data") if isinstance(body, dict) and isinstance(body.get("data"), dict) else {}
    about = f"{body.get('eventType')} {data.get('id')} company {body.get('company_id')} room {data.get('channel_integration_room_id')}" if data else "(not an event)"
    return {**row, "about": about, "reason": letter.reason, "attempts": letter.attempts, "correlation_id": letter.attributes.get("correlation_id")}


def _dlq_urls(target: Target, which: str) -> tuple[str, str | None]:
    if which not in DLQS:
        raise OpsError(f"no dead-letter queue {which!r}; choose one of {', '.join(DLQS)}")
    dlq_output, queue_output = DLQS[which]
    return target.output(dlq_output), target.output(queue_output) if queue_output else None


def dlq_list(target: Target, which: str, *, limit: int = 100) -> dict[str, Any]:
    """What a dead-letter queue holds, one line per message (left in the queue)."""
    dlq_url, _ = _dlq_urls(target, which)
    letters = list_dead_letters(target.client("sqs"), dlq_url, limit=limit)
    return {"queue": which, "count": len(letters), "messages": [_summary(which, letter) for letter in letters]}


def dlq_show(target: Target, which: str, message_id: str) -> dict[str, Any]:
    """One dead letter in full: its body (parsed when JSON) and attributes."""
    dlq_url, _ = _dlq_urls(target, which)
    for letter in list_dead_letters(target.client("sqs"), dlq_url, limit=1000):
        if letter.message_id == message_id:
            try:
                body: Any = json.loads(letter.body)
            except ValueError:
                body = letter.body
            return {"queue": which, **_summary(which, letter), "attributes": letter.attributes, "body": body}
    raise OpsError(f"no message {message_id} in the {which} dead-letter queue")


def dlq_redrive(target: Target, which: str, *, message_ids: Sequence[str] | None = None, limit: int | None = None) -> dict[str, Any]:
    """Send dead letters back to be processed again (all, or the ones named)."""
    dlq_url, queue_url = _dlq_urls(target, which)
    sqs = target.client("sqs")
    if which != "router":
        moved = redrive(sqs, dlq_url, queue_url, limit=limit, message_ids=message_ids or None)  # type: ignore[arg-type]
        return {"queue": which, "redriven": moved, "to": queue_url}
    routed: list[dict[str, Any]] = []
    moved = redrive(sqs, dlq_url, "", limit=limit, message_ids=message_ids or None, send=lambda message: routed.extend(_replay_stream_batch(target, message["Body"])))
    return {"queue": which, "redriven": moved, "events": routed}


def _replay_stream_batch(target: Target, body: str) -> list[dict[str, Any]]:
    """Route the stream records a router dead letter describes, as the router would have.

    The events get the ids the router derives from the stream records, so whatever was delivered
    before is a duplicate for the receiver, and the preview only moves forward by version.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from parity.core.queues import Queues

    try:
        info = json.loads(body)["DDBStreamBatchInfo"]
        shard, start, end, stream = info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"], info["streamArn"]
    except (ValueError, KeyError, TypeError) as exc:
        raise OpsError("not a stream-batch failure description; inspect it with `dlq show router`") from exc
    streams = target.client("dynamodbstreams")
    try:
        iterator = streams.get_shard_iterator(StreamArn=stream, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=start)["ShardIterator"]
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
        raise OpsError(
            f"the stream no longer holds records {start}..{end} ({code}; it keeps 24 h): "
            "left in the queue; heal the affected rooms with `parity ops reconcile`"
        ) from exc
    records: list[dict[str, Any]] = []
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=100)
        batch = page.get("Records", [])
        records += [r for r in batch if int(start) <= int(r["dynamodb"]["SequenceNumber"]) <= int(end)]
        if not batch or int(batch[-1]["dynamodb"]["SequenceNumber"]) >= int(end):
            break
        iterator = page.get("NextShardIterator")
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    from parity.crm import flags
    from parity.outbox import router

    crm = target.crm()
    routing = router.Router(
        Queues(client=target.client("sqs")),
        webhook_queue_url=target.output("WebhookQueueUrl"),
        timeline_queue_url=target.output("TimelineQueueUrl"),
        parity_enabled=lambda company_id: flags.effective(crm.company_parity(company_id), default=target.parity_default()),
        url_template=target.url_template(),
    )
    events: list[dict[str, Any]] = []
    for record in records:
        change = router.change_of(DynamoDBRecord(record))
        events += [
            {"event_id": e["event_id"], "event_type": e["eventType"], "record_id": e["data"]["id"], "correlation_id": change.correlation_id}
            for e in routing.route(change).events
        ]
    return events


# ---- reconcile -----------------------------------------------------------------------------------
def reconcile(target: Target, room_id: str, *, company_id: str, notes: bool = False) -> dict[str, Any]:
    """Re-emit the current state of the company's bot/AI records in a room, so a lost event heals
    the room's preview.

    Each live record goes out as a create event with a fresh event id (the receiver must not take
    it for a delivery it has seen), carrying the record's current version: the receiver applies it
    only where it is ahead of what the room knows, so nothing moves backwards. A record the room
    still shows but which is gone from the CRM goes out as a delete (final), one that has left the room
as a delete whose reason is ``left_room`` (a newer version may bring it back). With
    ``notes`` the creates also go to the timeline queue, so a missing note is written (an existing
    one is kept: one note per record and room).
    """
    from parity.core.clock import iso_ms
    from parity.core.observability import CORRELATION_ATTRIBUTE
    from parity.core.queues import Queues
    from parity.inbox.store import PreviewStore
    from parity.outbox import events, router

    state = flag_show(target, company_id)
    if not state["effective"]:
        raise OpsError(f"parity is off for {company_id}: its previews are rolled back; `parity ops flag on {company_id}` first")
    crm = target.crm()
    now = iso_ms(datetime.now(timezone.utc))
    url_template = target.url_template()
    correlation_id = f"reconcile-{uuid.uuid4().hex[:16]}"
    live = [r for r in crm.room_records(company_id, room_id) if events.eligible(r)]
    creates = [events.build("create", r, event_id=_fresh_event_id(), occurred_at=now, url_template=url_template) for r in live]
    deletes = []
    if target.outputs.get("PreviewTableName"):
        shown = PreviewStore(target.output("PreviewTableName"), client=target.client("dynamodb")).entries(company_id, room_id)
        kept = {(r["type"], r["id"]) for r in live}
        for entry in shown:
            if not entry.live or (entry.record_type, entry.record_id) in kept:
                continue
            # Gone from the CRM: deleted for good; still there (in another room, or none): it left.
            change = "leave" if crm.get_record(company_id, entry.record_type, entry.record_id) else "delete"
            record = {**entry.data, "company_id": company_id}
            deletes.append({**events.build(change, record, event_id=_fresh_event_id(), occurred_at=now, url_template=url_template), "data": dict(entry.data)})
    messages = creates + deletes
    router.publish(
        Queues(client=target.client("sqs")), messages, webhook_queue_url=target.output("WebhookQueueUrl"),
        timeline_queue_url=target.output("TimelineQueueUrl") if notes else None, attributes={CORRELATION_ATTRIBUTE: correlation_id},
    )
    return {
        "company_id": company_id,
        "room_id": room_id,
        "correlation_id": correlation_id,
        "events": [
            {"event_type": m["eventType"], "record_id": m["data"]["id"], "version": m["data"].get("version"), "name": m["data"].get("name"), "event_id": m["event_id"]}
            for m in messages
        ],
    }


def _fresh_event_id() -> str:
    return f"evt_rec_{uuid.uuid4().hex}"


# ---- API keys ------------------------------------------------------------------------------------
def key_issue(target: Target, company_id: str) -> dict[str, Any]:
    """A new API key for the company (created, flag unset, when it does not exist yet). The key is
    returned once and stored only as its hash."""
    from parity.crm.store import key_id
    from parity.crm.credentials import hash_secret, new_api_key

    crm = target.crm()
    created = crm.ensure_company(company_id)
    api_key = new_api_key()
    crm.put_api_key(hash_secret(api_key), company_id)
    return {"company_id": company_id, "key_id": key_id(hash_secret(api_key)), "api_key": api_key, "company_created": created}


def key_list(target: Target, company_id: str) -> dict[str, Any]:
    """The company's keys by id (never the keys themselves), with their state."""
    keys = target.crm().api_keys(company_id)
    return {
        "company_id": company_id,
        "keys": [
            {"key_id": k.get("key_id"), "created_at": _iso(k.get("created_at")), "revoked": bool(k.get("revoked")), "revoked_at": _iso(k.get("revoked_at"))}
            for k in sorted(keys, key=lambda k: int(k.get("created_at") or 0))
        ],
    }


def key_revoke(target: Target, company_id: str, *, key_id: str | None = None) -> dict[str, Any]:
    """Revoke one of the company's keys (by id), or all of them. A revoked key can no longer be
    exchanged for a token, and the tokens already issued from it stop working within the
    authorizer's 60 s cache."""
    crm = target.crm()
    keys = [k for k in crm.api_keys(company_id) if not k.get("revoked")]
    if key_id is not None:
        keys = [k for k in keys if str(k.get("key_id")) == key_id or str(k["key_hash"]).startswith(key_id)]
        if not keys:
            raise OpsError(f"{company_id} has no active key {key_id} (see `parity ops key list {company_id}`)")
    if not keys:
        raise OpsError(f"{company_id} has no active keys")
    now = _now()
    revoked = [str(k.get("key_id")) for k in keys if crm.revoke_api_key(company_id, str(k["key_hash"]), now=now)]
    return {"company_id": company_id, "revoked": revoked, "tokens_stop_within_s": 60}


# ---- the webhook signing secret ------------------------------------------------------------------
def _fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


def _parameter(target: Target) -> Any:
    """The signing-secret parameter, read and written as the functions read it (``parity.outbox.secrets``)."""
    from parity.outbox.secrets import SigningSecretParameter

    return SigningSecretParameter(boto3_client=target.client("ssm"))


def _stored_secrets(target: Target) -> tuple[list[str], datetime | None]:
    """The secrets in the parameter and when it was last written; ([], None) before the first rotation."""
    from parity.outbox.secrets import SecretsUnavailable

    try:
        stored = _parameter(target).read(target.output("WebhookSigningSecretParameter"), max_age=0)
    except SecretsUnavailable as exc:
        raise OpsError(f"{exc}; check your access to the stack's SSM parameter") from exc
    return (stored.secrets, stored.changed_at) if stored else ([], None)


def _deploy_time_secrets(target: Target) -> list[str]:
    """What signs until the parameter exists: the sender's ``WEBHOOK_SIGNING_SECRET``."""
    from parity.outbox.signing import parse_secrets

    config = target.client("lambda").get_function_configuration(FunctionName=target.output("WebhookSenderFunctionName"))
    return parse_secrets(config.get("Environment", {}).get("Variables", {}).get("WEBHOOK_SIGNING_SECRET"))


def _put_secrets(target: Target, values: Sequence[str]) -> None:
    _parameter(target).write(target.output("WebhookSigningSecretParameter"), values)


def secret_show(target: Target) -> dict[str, Any]:
    """Which secrets sign now (by fingerprint), where they come from, and since when."""
    stored, modified = _stored_secrets(target)
    if stored:
        age = (datetime.now(timezone.utc) - modified).total_seconds() if modified else None
        return {
            "source": f"parameter {target.output('WebhookSigningSecretParameter')}",
            "secrets": [_fingerprint(s) for s in stored],
            "rotating": len(stored) > 1,
            "changed_at": modified.isoformat(timespec="seconds") if modified else None,
            "age_s": None if age is None else int(age),
        }
    return {"source": "deploy-time WEBHOOK_SIGNING_SECRET", "secrets": [_fingerprint(s) for s in _deploy_time_secrets(target)], "rotating": False, "changed_at": None, "age_s": None}


def secret_rotate(target: Target) -> dict[str, Any]:
    """Start a rotation: a new secret, stored beside the current one so that both sign.

    Sender and receiver read the parameter at most every 30 s (60 s at most), so while the two
    overlap every delivery carries a signature each side accepts, whichever secrets it has cached.
    ``secret finish`` drops the old one once every container has seen the new one.
    """
    stored, _ = _stored_secrets(target)
    current = stored or _deploy_time_secrets(target)
    if len(current) > 1:
        raise OpsError("a rotation is already in progress (two secrets sign); `parity ops secret finish` first")
    if not current:
        raise OpsError("no current signing secret found; set WebhookSigningSecret and deploy")
    new = "whsec_" + base64.b64encode(token_bytes(32)).decode()
    _put_secrets(target, [new, *current])
    return {
        "new_secret": new,
        "secrets": [_fingerprint(new), *(_fingerprint(s) for s in current)],
        "finish_after_s": DEFAULT_OVERLAP_SECONDS,
        "next": "parity ops secret finish",
    }


def secret_finish(target: Target, *, overlap_seconds: float = DEFAULT_OVERLAP_SECONDS) -> dict[str, Any]:
    """End a rotation: only the newest secret signs from now on. Refused until the rotation is
    ``overlap_seconds`` old, so no container still verifies with the old secret alone."""
    stored, modified = _stored_secrets(target)
    if len(stored) < 2:
        raise OpsError("no rotation in progress (one secret signs); start one with `parity ops secret rotate`")
    age = (datetime.now(timezone.utc) - modified).total_seconds() if modified else overlap_seconds
    if age < overlap_seconds:
        raise OpsError(
            f"the rotation is {int(age)} s old; functions cache the secret for up to {EFFECTIVE_WITHIN_SECONDS} s: "
            f"finish in {int(overlap_seconds - age) + 1} s (or pass a shorter --overlap if yours is configured shorter)"
        )
    _put_secrets(target, stored[:1])
    return {"secrets": [_fingerprint(stored[0])], "dropped": [_fingerprint(s) for s in stored[1:]]}


# ---- the command line ----------------------------------------------------------------------------
def company_arg(value: str) -> str:
    """A command-line company id, checked as every entry checks it (``parity.crm.credentials.COMPANY_ID``)."""
    from parity.core.ids import check_company_id

    try:
        return check_company_id(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register ``parity ops`` on the ``parity`` command's subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("which stack")
    where.add_argument("--stack", default=argparse.SUPPRESS, metavar="NAME", help="a deployed stack (default: $PARITY_STACK)")
    where.add_argument("--local", default=argparse.SUPPRESS, metavar="URL", help="a local stack, e.g. http://127.0.0.1:3000 (default: $PARITY_LOCAL)")
    where.add_argument("--region", default=argparse.SUPPRESS, help="AWS region of --stack (default: your AWS configuration)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON instead of a table")

    ops = commands.add_parser(
        "ops", parents=[common], help="operate the rollout: flags, dead letters, reconcile, keys, secret",
        description="See, stop and heal the pipeline without a redeploy, on a deployed stack (--stack NAME) or a local one (--local URL).",
        epilog="Each command takes --json for scripts. README \"Operating\" has the runbook.",
    )
    groups = ops.add_subparsers(dest="ops_command", required=True, metavar="COMMAND")

    flag = groups.add_parser("flag", parents=[common], help="the per-company parity flag: rollout and rollback")
    flag.add_argument("action", choices=["on", "off", "clear", "show"])
    flag.add_argument("company", type=company_arg)
    flag.set_defaults(op=_cmd_flag)

    dlq = groups.add_parser("dlq", parents=[common], help="dead-letter queues: list, show, redrive")
    dlq.add_argument("action", choices=["list", "show", "redrive"])
    dlq.add_argument("queue", choices=list(DLQS))
    dlq.add_argument("message_ids", nargs="*", metavar="MESSAGE_ID", help="show: the one message; redrive: only these (default: all)")
    dlq.add_argument("--limit", type=int, default=None, help="at most this many messages")
    dlq.set_defaults(op=_cmd_dlq)

    rec = groups.add_parser("reconcile", parents=[common], help="re-emit a room's bot/AI records so its preview heals")
    rec.add_argument("room")
    rec.add_argument("--company", required=True, type=company_arg)
    rec.add_argument("--notes", action="store_true", help="also write timeline notes that are missing")
    rec.set_defaults(op=_cmd_reconcile)

    key = groups.add_parser("key", parents=[common], help="company API keys: issue, list, revoke")
    key.add_argument("action", choices=["issue", "list", "revoke"])
    key.add_argument("company", type=company_arg)
    key.add_argument("--key-id", help="revoke: only this key (default: every active key of the company)")
    key.set_defaults(op=_cmd_key)

    secret = groups.add_parser("secret", parents=[common], help="the webhook signing secret: show, rotate, finish")
    secret.add_argument("action", choices=["show", "rotate", "finish"])
    secret.add_argument("--overlap", type=float, default=DEFAULT_OVERLAP_SECONDS, metavar="SECONDS", help=f"finish: how old the rotation must be (default {DEFAULT_OVERLAP_SECONDS})")
    secret.add_argument("--reveal", action="store_true", help="rotate: print the new secret (for a receiver run by another team)")
    secret.set_defaults(op=_cmd_secret)

    ops.set_defaults(run=run_ops)
    return ops


def run_ops(args: argparse.Namespace, *, out: Any = None, err: Any = None) -> int:
    """Run one ``parity ops`` command; 0 when done, 1 when refused or failed (the reason on stderr)."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        target = _target(args)
        result, render = args.op(target, args)
    except OpsError as exc:
        print(f"parity ops: {exc}", file=err)
        return 1
    if getattr(args, "json", False):
        print(json.dumps(result, indent=2, default=str), file=out)
    else:
        print(render(result), file=out)
    return 0


def _target(args: argparse.Namespace) -> Target:
    local = getattr(args, "local", None) or (None if getattr(args, "stack", None) else os.environ.get("PARITY_LOCAL"))
    stack = getattr(args, "stack", None) or os.environ.get("PARITY_STACK")
    if local and getattr(args, "stack", None):
        raise OpsError("give either --stack or --local, not both")
    if local:
        return local_target(local)
    if stack:
        return stack_target(stack, region=getattr(args, "region", None))
    raise OpsError("which stack? give --stack NAME (a deployed stack) or --local URL (a `parity local`)")


def _cmd_flag(target: Target, args: argparse.Namespace) -> tuple[Any, Callable[[Any], str]]:
    if args.action == "show":
        result = flag_show(target, args.company)
    else:
        result = flag_set(target, args.company, {"on": True, "off": False, "clear": None}[args.action])

    def render(r: dict[str, Any]) -> str:
        own = "unset" if r["own"] is None else ("on" if r["own"] else "off")
        lines = [table([{"company": r["company_id"], "own flag": own, "stack default": "on" if r["default"] else "off", "effective": "ON" if r["effective"] else "OFF", "changed": f"{r['changed_at'] or '-'} by {r['changed_by'] or '-'}"}])]
        if args.action != "show":
            lines.append(f"takes effect within {r['effective_within_s']} s (the event router's flag cache); creates keep succeeding either way")
        return "\n".join(lines)

    return result, render


def _cmd_dlq(target: Target, args: argparse.Namespace) -> tuple[Any, Callable[[Any], str]]:
    if args.action == "list":
        result = dlq_list(target, args.queue, limit=args.limit or 100)
        return result, lambda r: (f"{table(r['messages'])}\n{r['count']} message(s)" if r["messages"] else f"the {r['queue']} dead-letter queue is empty")
    if args.action == "show":
        if len(args.message_ids) != 1:
            raise OpsError("dlq show takes one MESSAGE_ID")
        result = dlq_show(target, args.queue, args.message_ids[0])
        return result, lambda r: json.dumps(r, indent=2, default=str)
    result = dlq_redrive(target, args.queue, message_ids=args.message_ids or None, limit=args.limit)

    def render(r: dict[str, Any]) -> str:
        lines = [f"redrove {r['redriven']} message(s) from the {r['queue']} dead-letter queue"]
        if r.get("events"):
            lines.append(table(r["events"]))
        return "\n".join(lines)

    return result, render


def _cmd_reconcile(target: Target, args: argparse.Namespace) -> tuple[Any, Callable[[Any], str]]:
    result = reconcile(target, args.room, company_id=args.company, notes=args.notes)

    def render(r: dict[str, Any]) -> str:
        if not r["events"]:
            return f"room {r['room_id']} of {r['company_id']} has no bot/AI records and shows none: nothing to re-emit"
        return f"{table(r['events'])}\nqueued {len(r['events'])} event(s) for room {r['room_id']} (correlation id {r['correlation_id']})"

    return result, render


def _cmd_key(target: Target, args: argparse.Namespace) -> tuple[Any, Callable[[Any], str]]:
    if args.action == "issue":
        result = key_issue(target, args.company)
        created = " (new company: its parity flag follows the stack default)" if result["company_created"] else ""
        return result, lambda r: f"API key for {r['company_id']}{created}, shown this once:\n\n    {r['api_key']}\n\nkey id {r['key_id']} (to revoke it: parity ops key revoke {r['company_id']} --key-id {r['key_id']})"
    if args.action == "list":
        result = key_list(target, args.company)
        return result, lambda r: table(r["keys"]) if r["keys"] else f"{r['company_id']} has no keys on record"
    result = key_revoke(target, args.company, key_id=args.key_id)
    return result, lambda r: f"revoked {', '.join(r['revoked'])} of {r['company_id']}; tokens issued from them stop working within {r['tokens_stop_within_s']} s"


def _cmd_secret(target: Target, args: argparse.Namespace) -> tuple[Any, Callable[[Any], str]]:
    if args.action == "show":
        result = secret_show(target)
        return result, lambda r: table([{"source": r["source"], "signing with": " ".join(r["secrets"]), "rotating": "yes" if r["rotating"] else "no", "since": r["changed_at"] or "-"}])
    if args.action == "rotate":
        result = secret_rotate(target)
        if not args.reveal:
            result = {k: v for k, v in result.items() if k != "new_secret"}
        return result, lambda r: (
            f"rotation started: signing with {' and '.join(r['secrets'])} (new first)\n"
            + (f"new secret: {r['new_secret']}\n" if "new_secret" in r else "")
            + f"after {r['finish_after_s']} s, when every function has read it: {r['next']}"
        )
    result = secret_finish(target, overlap_seconds=args.overlap)
    return result, lambda r: f"rotation finished: signing with {r['secrets'][0]} only (dropped {', '.join(r['dropped'])})"


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as an aligned text table, columns in first-seen order; None shows as "-"."""
    if not rows:
        return ""
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    cells = [[("-" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()  # noqa: E731
    return "\n".join([line([c.upper().replace("_", " ") for c in columns]), line(["-" * w for w in widths]), *(line(r) for r in cells)])
