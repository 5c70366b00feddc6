"""Figure 1: cold start as a caller feels it — a fresh process that imports a function and answers its
first request — against a bare boto3 handler making the same AWS calls (DESIGN.md "Budgets", issue 17).
(Over 400 lines: one first request per function, each event built beside the others.)

AWS is a local moto server (the local stack's, behind its edge) for both sides. For each function:

1. one fresh process imports the function and answers one request, its AWS calls recorded at the
   edge (by the access key the process signs with): those calls are what the bare handler makes;
2. then ``pairs`` pairs: a fresh process running the bare handler (``import boto3`` and ``json``,
   parse the event, one plain ``boto3.client`` per service, the recorded calls in order, a JSON
   answer), and right after it a fresh process importing the function and answering a new request
   of the same kind (its own ids, keys and signatures, so it does the same work, not a replay).

Both children see what a deployed function sees: ``python -S`` with only the function directory,
the parity source, the layer's dependencies (``make build``) and the runtime's boto3; the function's
deployed environment (table names, queue URLs, secrets) on the local stack. Each child times itself
from its first line to the handler's return: CPU time (the figure, as the import-only figure before
it) and wall time (context; it includes the moto round trips, the same for both sides).

API functions (a caller waits on them) have the budget of 1.5×; the asynchronous consumers are
reported without one (nobody waits on their cold start). A bare handler replaying a conditional
write meets the condition the function's write already consumed: AWS answers it with an error,
which the bare handler catches; the round trip and the parsing are the same.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from parity_dev.bench.coldstart import lambda_path

#: Functions whose caller waits: an HTTP API route's function or the authorizer in front of them.
API_FUNCTIONS = (
    "authorizer", "company_token", "create_deal", "create_ticket", "records", "contacts", "room_preview",
    "webhook_receiver", "channels", "channel_webhook", "conversations", "chat_history", "feedback_api",
)
CONSUMERS = ("event_router", "timeline_note", "webhook_sender", "ingest", "conversation_outbox", "message_sender", "snooze_waker")
BUDGET = 1.5

_FUNCTION_CHILD = r"""
import sys, time
start, cpu = time.perf_counter(), time.process_time()
code_dir, event_file, out_file, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
sys.path[:0] = [code_dir, *extra]
import json
with open(event_file) as f:
    event = json.load(f)
import app

class Context:
    function_name = "parity-BenchFunction-1Q2W3E4R5T6Y"
    memory_limit_in_mb = "256"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:parity-BenchFunction-1Q2W3E4R5T6Y"
    aws_request_id = "8f5e2a4c-3b1d-4e6f-9a7b-0c2d4e6f8a1b"
    def get_remaining_time_in_millis(self):
        return 10000

result = app.handler(event, Context())
wall, used = (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000
with open(out_file, "w") as f:
    json.dump({"ms": wall, "cpu_ms": used, "result": result}, f, default=str)
"""

_BARE_CHILD = r"""
import sys, time
start, cpu = time.perf_counter(), time.process_time()
spec_file, out_file, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.path[:0] = extra
import json
import boto3
from botocore import xform_name
from botocore.exceptions import ClientError
with open(spec_file) as f:
    spec = json.load(f)
clients = {}

def handler(event, context):
    body = event.get("body") if isinstance(event, dict) else None
    parsed = json.loads(body) if body else event
    answer = None
    for service, operation, params in spec["calls"]:
        client = clients.get(service)
        if client is None:
            client = clients[service] = boto3.client(service)
        try:
            answer = getattr(client, xform_name(operation))(**params)
        except ClientError as exc:
            answer = exc.response
    return {"statusCode": 200, "body": json.dumps({"data": parsed, "aws": answer}, default=str)}

handler(spec["event"], None)
wall, used = (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000
with open(out_file, "w") as f:
    json.dump({"ms": wall, "cpu_ms": used}, f)
"""


@dataclass
class Sample:
    ms: float
    cpu_ms: float
    result: Any = None


class _Children:
    """Runs the two kinds of child against the local stack's AWS, each with a fresh access key."""

    def __init__(self, stack: Any, path: list[str], isolated: bool, tmp: Path) -> None:
        self.stack, self.path, self.isolated, self.tmp = stack, path, isolated, tmp
        self.runtime = stack.runtime
        self.logical = {spec.code_dir.name: lid for lid, spec in stack.deployed.functions.items() if spec.code_dir is not None}
        self._n = 0

    def _env(self, function: str) -> tuple[dict[str, str], str]:
        self._n += 1
        key = f"ASIABENCH{self._n:011d}"
        env = self.runtime.worker_environment(self.logical[function], access_key=key)
        env.pop("PYTHONPATH", None)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env, key

    def _run(self, args: list[str], env: dict[str, str], out: Path) -> Sample:
        done = subprocess.run([sys.executable, "-S" if self.isolated else "-s", *args], env=env, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"child failed ({done.returncode}):\n{done.stderr[-1500:]}")
        data = json.loads(out.read_text())
        out.unlink()
        return Sample(float(data["ms"]), float(data["cpu_ms"]), data.get("result"))

    def function(self, function: str, event: Any) -> tuple[Sample, str]:
        env, key = self._env(function)
        event_file, out = self.tmp / f"event-{self._n}.json", self.tmp / f"out-{self._n}.json"
        event_file.write_text(json.dumps(event))
        code_dir = str(self.stack.deployed.functions[self.logical[function]].code_dir)
        sample = self._run(["-c", _FUNCTION_CHILD, code_dir, str(event_file), str(out), *self.path], env, out)
        return sample, key

    def bare(self, function: str, event: Any, calls: list[tuple[str, str, dict[str, Any]]]) -> Sample:
        env, _ = self._env(function)
        spec_file, out = self.tmp / f"spec-{self._n}.json", self.tmp / f"out-{self._n}.json"
        spec_file.write_text(json.dumps({"event": event, "calls": calls}))
        runtime_only = self.path[-1:] if self.isolated else []
        return self._run(["-c", _BARE_CHILD, str(spec_file), str(out), *runtime_only], env, out)


def _sqs_event(bodies: list[str]) -> dict[str, Any]:
    from parity_dev.bench.handlers import _sqs_event as build

    return build(bodies)


def _stream_event(item: dict[str, Any], table_arn: str, *, event_name: str = "INSERT") -> dict[str, Any]:
    return {"Records": [{
        "eventID": uuid.uuid4().hex, "eventName": event_name, "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "eventSourceARN": f"{table_arn}/stream/2026-01-01T00:00:00.000",
        "dynamodb": {"ApproximateCreationDateTime": time.time(), "Keys": {"pk": item["pk"], "sk": item["sk"]}, "NewImage": item,
                     "SequenceNumber": str(int(time.time() * 1000)), "SizeBytes": 900, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }]}


class Fixtures:
    """What the first requests need, made through the local stack's own API (and its pollers,
    drained by hand), then the event of each function's first request, fresh on every call."""

    def __init__(self, stack: Any, providers_url: str) -> None:
        from parity_dev.pollers import Pollers

        self.stack = stack
        self.gateway = stack.gateway
        self.pollers = Pollers(stack.deployed, stack.runtime, stack.clients)
        self.dynamodb = stack.clients.client("dynamodb")
        self.outputs = stack.deployed.outputs
        self.recorded: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
        token = self._ok(self.gateway.invoke("POST", "/api/v3.1/teams/company_token", headers={"X-Crm-Api-Key": "demo-key"}, json={"sso_id": "bench"}), 200)
        self.token = token["access_token"]
        self.auth = {"Authorization": f"Bearer {self.token}"}
        self.channel_secret = "bench-meta-app-secret"
        channel = self._ok(self.gateway.invoke("POST", "/api/v3.1/channels", headers=self.auth, json={
            "type": "whatsapp", "name": "bench line", "secret": self.channel_secret, "api_token": "bench-token-1234",
            "account_id": "106540352242922", "verify_token": "verify-me", "default_region": "ID"}), 201)
        self.channel = channel["data"]
        self._whatsapp("Halo, saya mau pesan 2 unit", wa_id="6281200000001")
        self.pollers.drain(timeout=30)
        conversations = self._ok(self.gateway.invoke("GET", "/api/v3.1/conversations", headers=self.auth), 200)["data"]
        self.room = conversations[0]["id"]
        deal = self._ok(self.gateway.invoke("POST", "/api/v3.1/deals", headers=self.auth, json={"name": "Bench deal", "creator_flag": "bot", "channel_integration_room_id": self.room}), 201)
        self.deal = deal["data"]
        self._ok(self.gateway.invoke("POST", f"/api/v3.1/conversations/{self.room}/messages", headers={**self.auth, "Idempotency-Key": uuid.uuid4().hex},
                                     json={"text": "Baik, kami kirim penawaran", "sender_type": "agent", "sender_name": "Sari"}), 202)
        self.pollers.drain(timeout=30)
        self.names = 0

    @staticmethod
    def _ok(response: Any, status: int) -> dict[str, Any]:
        if response.status != status:
            raise RuntimeError(f"fixture request answered {response.status}: {response.text[:300]}")
        return response.json()

    def _whatsapp(self, text: str, *, wa_id: str) -> tuple[bytes, dict[str, str]]:
        from parity_dev import simulate

        payload = simulate.whatsapp(sender=wa_id, text=text, name="Budi", at=datetime.now(timezone.utc))
        body, headers = simulate.signed("whatsapp", payload, self.channel_secret)
        answer = self.gateway.invoke("POST", f"/channels/whatsapp/{self.channel['id']}", headers=headers, body=body)
        self._ok(answer, 200)
        return body, headers

    def _item(self, table_output: str, pk: str, sk_prefix: str) -> dict[str, Any]:
        table = self.outputs[table_output]
        found = self.dynamodb.query(TableName=table, KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
                                    ExpressionAttributeValues={":pk": {"S": pk}, ":sk": {"S": sk_prefix}})["Items"]
        if not found:
            raise RuntimeError(f"no fixture item {pk} {sk_prefix} in {table}")
        return found[-1]

    def _table_arn(self, output: str) -> str:
        return f"arn:aws:dynamodb:us-east-1:123456789012:table/{self.outputs[output]}"

    def _http(self, method: str, path: str, *, route: str, body: Any = None, headers: dict[str, str] | None = None, company: bool = True, query: str = "") -> dict[str, Any]:
        from parity_dev.http_api_event import http_api_event

        raw = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
        return http_api_event(method, path, raw_query=query, route_key=route, headers={"content-type": "application/json", "user-agent": "bench", **(headers or {})},
                              body=raw, request_id=uuid.uuid4().hex, authorizer={"company_id": "demo", "role": "admin", "sso_id": "bench"} if company else None)  # as the demo's admin key

    def event(self, function: str) -> Any:
        """The event of a new first request for ``function`` (new ids, keys and signatures)."""
        n = uuid.uuid4().hex[:10]
        room = self.room
        if function == "authorizer":
            return {"version": "2.0", "type": "REQUEST", "routeArn": "arn:aws:execute-api:us-east-1:123456789012:localapi/$default/POST/api/v3.1/deals",
                    "identitySource": [f"Bearer {self.token}"], "routeKey": "POST /api/v3.1/deals", "rawPath": "/api/v3.1/deals", "rawQueryString": "",
                    "headers": {"authorization": f"Bearer {self.token}", "content-type": "application/json"},
                    "requestContext": {"http": {"method": "POST", "path": "/api/v3.1/deals"}, "routeKey": "POST /api/v3.1/deals", "stage": "$default"}}
        if function == "company_token":
            return self._http("POST", "/api/v3.1/teams/company_token", route="POST /api/v3.1/teams/company_token", body={"sso_id": f"bench-{n}"}, headers={"x-crm-api-key": "demo-key"}, company=False)
        if function in ("create_deal", "create_ticket"):
            kind = "deals" if function == "create_deal" else "tickets"
            return self._http("POST", f"/api/v3.1/{kind}", route=f"POST /api/v3.1/{kind}", body={"name": f"Bot {kind[:-1]} {n}", "creator_flag": "bot", "channel_integration_room_id": room, **({"amount": 1250} if kind == "deals" else {"priority": "high"})}, headers={"idempotency-key": f"first-{n}"})
        if function == "records":
            return self._http("PATCH", f"/api/v3.1/deals/{self.deal['id']}", route="PATCH /api/v3.1/deals/{id}", body={"name": f"Bench deal {n}", "stage": "Negotiation"})
        if function == "contacts":
            return self._http("POST", "/api/v3.1/contacts", route="POST /api/v3.1/contacts", body={"name": f"Budi {n}", "phone": f"+62812{int(n, 16) % 10**8:08d}"})
        if function == "room_preview":
            return self._http("GET", f"/api/v3.1/rooms/{room}/preview", route="GET /api/v3.1/rooms/{room_id}/preview")
        if function == "webhook_receiver":
            return self._receiver_event()
        if function == "channels":
            return self._http("POST", "/api/v3.1/channels", route="POST /api/v3.1/channels", body={"type": "slack", "name": f"bench {n}", "secret": "slack-signing-secret", "api_token": "xoxb-bench-1234", "account_id": "T0PARITY"})
        if function == "channel_webhook":
            from parity_dev import simulate

            payload = simulate.whatsapp(sender="6281200000001", text=f"pesan {n}", name="Budi", at=datetime.now(timezone.utc))
            body, headers = simulate.signed("whatsapp", payload, self.channel_secret)
            return self._http("POST", f"/channels/whatsapp/{self.channel['id']}", route="POST /channels/{type}/{id}", body=body.decode(), headers={k.lower(): v for k, v in headers.items()}, company=False)
        if function == "conversations":
            return self._http("POST", f"/api/v3.1/conversations/{room}/messages", route="POST /api/v3.1/conversations/{room_id}/messages", body={"text": f"Baik {n}", "sender_type": "agent", "sender_name": "Sari"}, headers={"idempotency-key": f"reply-{n}"})
        if function == "chat_history":
            return self._http("GET", f"/api/open/v1/messages/rooms/{room}", route="GET /api/open/v1/messages/rooms/{room_id}", query="offset=1&limit=100")
        if function == "feedback_api":
            return self._http("POST", "/api/v3.1/feedback", route="POST /api/v3.1/feedback", body={"text": f"The invoice page crashes on save {n}. Please fix.", "reporter": {"email": f"rina.{n}@example.com"}, "source": "in_app"})
        # ---- the consumers: their events as their event sources would hand them over ----
        if function == "event_router":
            item = self._item("CrmTableName", "COMPANY#demo", "DEAL#")
            item = {**item, "sk": {"S": f"DEAL#{n}"}, "id": {"S": n}}
            return _stream_event(item, self._table_arn("CrmTableName"))
        if function in ("timeline_note", "webhook_sender"):
            queue = self.outputs["TimelineQueueUrl" if function == "timeline_note" else "WebhookQueueUrl"]
            sent = [p for s, o, p in self.recorded.get("event_router", []) if o == "SendMessageBatch" and p["QueueUrl"] == queue]
            if not sent:
                raise RuntimeError("the router's first request queued nothing for this consumer")
            body = sent[0]["Entries"][0]["MessageBody"]
            if function == "timeline_note":  # the router's recorded event names a record that does not exist: use the fixture deal
                event = json.loads(body)
                event["data"] = {**event["data"], "id": self.deal["id"]}
                event["event_id"] = uuid.uuid4().hex
                body = json.dumps(event)
            return _sqs_event([body])
        if function == "ingest":
            sent = [p for s, o, p in self.recorded.get("channel_webhook", []) if o == "SendMessage"]
            if not sent:
                raise RuntimeError("the channel webhook's first request queued nothing")
            body = json.loads(sent[0]["MessageBody"])
            from parity_dev import simulate

            payload = simulate.whatsapp(sender="6281200000001", text=f"pesan {n}", name="Budi", at=datetime.now(timezone.utc))
            body["body"] = json.dumps(payload)
            return _sqs_event([json.dumps(body)])
        if function in ("conversation_outbox", "message_sender"):
            item = self._queued_reply(n)
            if function == "conversation_outbox":
                return _stream_event(item, self._table_arn("ConversationTableName"))
            from boto3.dynamodb.types import TypeDeserializer

            from parity.conversations import outbox

            plain = {k: TypeDeserializer().deserialize(v) for k, v in item.items()}
            decided = outbox.decide(uuid.uuid4().hex, None, plain, now_iso=datetime.now(timezone.utc).isoformat())
            if not decided.deliveries:
                raise RuntimeError("a new reply makes no delivery")
            return _sqs_event([json.dumps(decided.deliveries[0], default=str)])
        if function == "snooze_waker":
            return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
                    "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1", "resources": [], "detail": {}}
        raise KeyError(function)

    def _queued_reply(self, n: str) -> dict[str, Any]:
        """A new reply, queued and not yet delivered (its stream record is what the outbox sees)."""
        made = self._ok(self.gateway.invoke("POST", f"/api/v3.1/conversations/{self.room}/messages", headers={**self.auth, "Idempotency-Key": f"fx-{n}"},
                                            json={"text": f"Baik {n}", "sender_type": "agent", "sender_name": "Sari"}), 202)["data"]
        items = self.dynamodb.query(TableName=self.outputs["ConversationTableName"], KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
                                    ExpressionAttributeValues={":pk": {"S": f"ROOM#demo#{self.room}"}, ":sk": {"S": "MSG#"}})["Items"]
        found = [i for i in items if i.get("id", {}).get("S") == made["id"]]
        if not found:
            raise RuntimeError("the new reply is not in the table")
        return found[0]

    def _receiver_event(self) -> dict[str, Any]:
        from parity_dev.local_stack import LOCAL_SIGNING_SECRET

        n = uuid.uuid4().hex
        record = {**self.deal, "id": n, "version": 1}
        body = json.dumps({"eventType": "qontak.crm.deal.create", "event_id": n, "company_id": "demo", "occurred_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"), "data": record})
        msg_id, ts = f"msg_{n}", str(int(time.time()))
        key = base64.b64decode(LOCAL_SIGNING_SECRET.removeprefix("whsec_"))
        sig = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.{body}".encode(), hashlib.sha256).digest()).decode()
        return self._http("POST", "/webhooks/qontak-crm", route="POST /webhooks/qontak-crm", body=body, headers={"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": f"v1,{sig}"}, company=False)


def _ok_result(function: str, result: Any) -> None:
    """A first request must have been answered as on the happy path, or the figure measures an error."""
    if function == "authorizer":
        good = isinstance(result, dict) and (result.get("context") or {}).get("company_id") == "demo"
    elif function in API_FUNCTIONS:
        good = isinstance(result, dict) and 200 <= int(result.get("statusCode", 500)) < 300
    else:
        good = not (isinstance(result, dict) and result.get("batchItemFailures"))
    if not good:
        raise RuntimeError(f"{function}'s first request was not answered on its happy path: {str(result)[:400]}")


def first_responses(root: Path, *, pairs: int = 9, build: Path | None = None, functions: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Figure 1 (module docstring): per function, CPU and wall of the first response, of the bare
    handler's, and the median of the paired ratios."""
    from parity_dev.bench.handlers import silenced
    from parity_dev.loopback import serve_mount
    from parity_dev.fake_providers import FakeProviders
    from parity_dev.local_stack import DEMO_COMPANY, LocalStack

    wanted = functions or (*API_FUNCTIONS, *CONSUMERS)
    path, isolated = lambda_path(root, build)
    out: dict[str, Any] = {"functions": {}, "pairs": pairs, "lambda_path": isolated}
    with ExitStack() as stack_exit, tempfile.TemporaryDirectory(prefix="parity-first-") as tmp:
        fake = FakeProviders()
        providers = stack_exit.enter_context(serve_mount(fake.handle))
        base = f"{providers.url}/_fake"
        stack = LocalStack(root / "template.yaml", port=0, poll=False, variables={
            "WHATSAPP_API_BASE_URL": f"{base}/whatsapp", "SLACK_API_BASE_URL": f"{base}/slack", "INTERCOM_API_BASE_URL": f"{base}/intercom"})
        with silenced():
            stack.start([DEMO_COMPANY])
        stack_exit.callback(lambda: _quiet(stack.stop))
        with silenced():
            fixtures = Fixtures(stack, base)
        children = _Children(stack, path, isolated, Path(tmp))
        edge = stack.edge
        for function in wanted:
            try:
                out["functions"][function] = _one(function, fixtures, children, edge, pairs)
            except Exception as exc:  # a consumer's fixture failing must not hide the API figures
                out["functions"][function] = {"error": f"{type(exc).__name__}: {exc}"[:600]}
    return out


def _quiet(step: Callable[[], None]) -> None:
    from parity_dev.bench.handlers import silenced

    with silenced():
        step()


def _one(function: str, fixtures: Fixtures, children: _Children, edge: Any, pairs: int) -> dict[str, Any]:
    # The recording run: the function's own AWS calls (by the access key its child signed with).
    with edge.recording() as calls:
        sample, key = children.function(function, fixtures.event(function))
    _ok_result(function, sample.result)
    mine = [(c.service, c.operation, c.params) for c in calls if c.access_key == key]
    fixtures.recorded[function] = mine
    ratios: list[tuple[float, float]] = []
    bare: list[Sample] = []
    real: list[Sample] = []
    for _ in range(pairs):
        event = fixtures.event(function)
        b = children.bare(function, event, mine)
        f, _ = children.function(function, event)
        _ok_result(function, f.result)
        bare.append(b)
        real.append(f)
        ratios.append((f.cpu_ms / b.cpu_ms, f.ms / b.ms))
    return {
        "api": function in API_FUNCTIONS,
        "budget": BUDGET if function in API_FUNCTIONS else None,
        "ratio": statistics.median(r[0] for r in ratios),
        "wall_ratio": statistics.median(r[1] for r in ratios),
        "cpu_ms": statistics.median(s.cpu_ms for s in real), "ms": statistics.median(s.ms for s in real),
        "bare_cpu_ms": statistics.median(s.cpu_ms for s in bare), "bare_ms": statistics.median(s.ms for s in bare),
        "aws_calls": [f"{s}:{o}" for s, o, _ in mine],
    }
