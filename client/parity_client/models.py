"""What the Parity API answers, as typed models (pydantic v2).

Lenient on purpose, unlike the server's request models: a field the client does not know yet is
kept (``extra="allow"``) rather than refused, so a newer server never breaks an older producer.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

RecordKind = Literal["deal", "ticket"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Token(_Model):
    """A company bearer token (``POST /api/v3.1/teams/company_token``)."""

    access_token: str = Field(repr=False)
    token_type: str = "Bearer"
    expires_in: int
    company_id: str


class Contact(_Model):
    id: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    created_at: datetime | None = None


class _Record(_Model):
    id: str
    name: str
    status: str | None = None
    source: str | None = None
    channel_integration_room_id: str | None = None
    contact_ids: list[str] = Field(default_factory=list)
    creator_flag: str | None = None
    #: "Bot", "AI", or None for a record a person created.
    creator_label: str | None = None
    #: How sure the bot or AI agent was (0..1), and which agent it was, as it said.
    confidence: Decimal | None = None
    agent_id: str | None = None
    #: Who approved it, when a company's approval policy held it for a person.
    approved_by: str | None = None
    created_at: datetime
    updated_at: datetime | None = None
    version: int
    url: str | None = None


class Deal(_Record):
    type: Literal["deal"] = "deal"
    pipeline: str | None = None
    stage: str | None = None
    amount: Decimal | None = None


class Ticket(_Record):
    type: Literal["ticket"] = "ticket"
    unique_ticket_id: str | None = None
    description: str | None = None
    priority: str | None = None
    category: str | None = None
    resolution_note: str | None = None


R = TypeVar("R", Deal, Ticket)


class ApiWarning(_Model):
    """Something the server accepted but did not apply (an unknown contact, an unrecognised flag)."""

    code: str
    field: str | None = None
    message: str


class Approval(_Model):
    """An action held for a person by the company's approval policy (``contracts/approvals.md``)."""

    id: str
    kind: str
    status: str
    record_type: str | None = None
    record_id: str | None = None
    proposed: dict[str, Any] = Field(default_factory=dict)
    confidence: Decimal | None = None
    agent_id: str | None = None
    created_at: datetime
    expires_at: datetime


class Created(_Model, Generic[R]):
    """The answer to a create: the record (or, when the company's policy held it, the ``approval``
    a person decides, and no record yet), the warnings, and whether it was an idempotent replay."""

    record: R | None = None
    approval: Approval | None = None
    warnings: list[ApiWarning] = Field(default_factory=list)
    #: True when the server answered from its idempotency memory: the record already existed.
    replayed: bool = False
    #: The Idempotency-Key the create was sent with (reuse it to retry the same logical create).
    idempotency_key: str

    @property
    def held(self) -> bool:
        """Whether the create waits for a person's approval (HTTP 202) instead of being done."""
        return self.approval is not None


class RoomPreview(_Model):
    """What the chat room's sidebar shows; a slot that is None shows the "Create …" call to action."""

    room_id: str
    deal: Deal | None = None
    ticket: Ticket | None = None


class ChatMessage(_Model):
    sender_type: str | None = None
    sender_name: str | None = None
    text: str
    created_at: datetime | None = None


class TimelineNote(_Model):
    """A record's chat-history note: the masked excerpt (None when the history was unavailable) and the deeplink."""

    id: str
    type: str
    record_id: str
    room_id: str
    creator_label: str | None = None
    preview: list[ChatMessage] | None = None
    preview_status: Literal["ok", "unavailable"] | str
    deeplink: str | None = None
    created_at: datetime
