"""The producer client (``parity_client``) against the local stack: typed calls end to end, and a
token that the server expires while the client still holds it (one refresh, the call succeeds)."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Iterator

import boto3
import httpx
import pytest
from parity_client import NotFoundError, ParityClient, ValidationError

from .helpers import eventually


class Recording(httpx.HTTPTransport):
    """A real transport that remembers what was sent (method, path, Authorization, Idempotency-Key)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, str | None, str | None]] = []
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.sent.append((request.method, request.url.path, request.headers.get("authorization"), request.headers.get("idempotency-key")))
        return super().handle_request(request)

    def to(self, method: str, path: str) -> list[tuple[str, str, str | None, str | None]]:
        return [s for s in self.sent if s[0] == method and s[1] == path]


@pytest.fixture
def recording() -> Recording:
    return Recording()


@pytest.fixture
def client(local_stack: str, companies: dict[str, str], recording: Recording) -> Iterator[ParityClient]:
    with ParityClient(local_stack, companies["a"], transport=recording, timeout=5.0) as made:
        yield made


def expire_in_the_stack(http: httpx.Client, token: str) -> None:
    """Expire a bearer token where the stack keeps it (its DynamoDB, found through /_local/stack)."""
    info = http.get("/_local/stack").json()
    dynamodb = boto3.client("dynamodb", endpoint_url=info["aws_endpoint_url"], region_name=info["region"], aws_access_key_id="testing", aws_secret_access_key="testing")
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    dynamodb.update_item(
        TableName=info["outputs"]["CrmTableName"], Key={"pk": {"S": f"TOKEN#{token_hash}"}, "sk": {"S": "#TOKEN"}},
        UpdateExpression="SET #ttl = :past", ExpressionAttributeNames={"#ttl": "ttl"},
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}}, ConditionExpression="attribute_exists(pk)",
    )


def test_a_producer_creates_reads_updates_and_deletes_with_typed_answers(client):
    room = f"room-{uuid.uuid4().hex[:10]}"
    # GIVEN the customer's contact, found again by phone as the chatbot looks it up
    contact = client.create_contact(name="Budi", phone="+62 812-3456-7890")
    assert contact.id in [c.id for c in client.find_contacts(phone="+6281234567890")]
    # WHEN the bot creates a deal from the room and the AI a ticket
    created = client.create_deal("Budi - 2 units", amount=1_500_000, source="Whatsapp Chatbot", room_id=room, contact_id=contact.id, creator_flag="bot")
    ticket = client.create_ticket("Refund", room_id=room, creator_flag="agentic_ai", contact_id="no-such-contact").record
    deal = created.record
    # THEN typed records come back with labels, room, contact and source; an unknown contact is a warning
    assert (deal.creator_label, deal.contact_ids, deal.channel_integration_room_id, deal.source, deal.version) == ("Bot", [contact.id], room, "Whatsapp Chatbot", 1)
    assert not created.replayed and created.warnings == []
    assert ticket.creator_label == "AI" and ticket.unique_ticket_id and ticket.contact_ids == []
    # ... and the room preview and the timeline show them
    preview = eventually(lambda: (p := client.room_preview(room)).deal and p.ticket and p, timeout=3)
    assert (preview.deal.id, preview.ticket.id) == (deal.id, ticket.id)
    notes = eventually(lambda: client.timeline("deal", deal.id), timeout=3)
    assert notes[0].room_id == room and notes[0].deeplink.endswith(room)
    # WHEN the deal is renamed, then deleted THEN get follows, and a deleted deal is a typed 404
    renamed = client.update("deal", deal.id, name="Budi - 3 units")
    assert (renamed.name, renamed.version, client.get("deal", deal.id).name) == ("Budi - 3 units", 2, "Budi - 3 units")
    client.delete("deal", deal.id)
    with pytest.raises(NotFoundError) as missing:
        client.get("deal", deal.id)
    assert missing.value.status == 404 and missing.value.code == "not_found"


def test_a_bad_body_is_a_typed_validation_error_naming_the_fields(client):
    with pytest.raises(ValidationError) as raised:
        client.create_deal("", amount=-5)
    assert raised.value.code == "validation_error" and set(raised.value.fields) == {"name", "amount"}


def test_a_retried_create_with_the_same_key_is_the_same_deal(client):
    first = client.create_deal("Flow 7", creator_flag="bot", idempotency_key=f"flow-7-{uuid.uuid4().hex}")
    again = client.create_deal("Flow 7", creator_flag="bot", idempotency_key=first.idempotency_key)
    assert again.replayed and again.record.id == first.record.id


def test_a_token_expired_mid_run_is_refreshed_exactly_once_and_the_create_succeeds(client, recording, http):
    room = f"room-{uuid.uuid4().hex[:10]}"
    # GIVEN a client holding a token it believes valid for an hour, which the server has expired
    # (expired before its first use: the authorizer caches a token it has seen for up to 60 s)
    token = client.authenticate()
    assert token.expires_in >= 60
    expire_in_the_stack(http, token.access_token)
    # WHEN the bot creates a deal
    created = client.create_deal("After expiry", room_id=room, creator_flag="bot")
    # THEN the first attempt was refused, the key was exchanged again exactly once, and the same
    # logical create (same Idempotency-Key) went through with the new token
    attempts = recording.to("POST", "/api/v3.1/deals")
    assert len(recording.to("POST", "/api/v3.1/teams/company_token")) == client.token_exchanges == 2
    assert len(attempts) == 2 and attempts[0][2] == f"Bearer {token.access_token}" and attempts[1][2] != attempts[0][2]
    assert attempts[0][3] == attempts[1][3] == created.idempotency_key
    assert created.record.creator_label == "Bot" and not created.replayed
    # ... and it is the only deal that create made: the room shows it, and the key replays it
    assert eventually(lambda: client.room_preview(room).deal, timeout=3).id == created.record.id
    assert client.create_deal("After expiry", room_id=room, creator_flag="bot", idempotency_key=created.idempotency_key).record.id == created.record.id
    # WHEN it goes on THEN the new token is reused: no further exchange
    client.get("deal", created.record.id)
    assert client.token_exchanges == 2
