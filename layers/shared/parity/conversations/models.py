"""Request bodies of the conversation routes, validated with pydantic v2 (strict, every offending
field named; loaded only where a body is parsed)."""

from __future__ import annotations

from typing import Annotated, Literal

import phonenumbers
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from parity.crm.models import Name, text

Secret = text(4096, min_length=1)
MessageText = text(4096, min_length=1)
SenderName = text(255)
TemplateParameter = text(1024)
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@+-]+$", strict=True)]


def _region(value: str) -> str:
    if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("an ISO 3166 country code phone numbers are written in (e.g. ID)")
    return value.upper()


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ChannelCreate(_Body):
    type: Literal["whatsapp", "slack", "intercom"]
    name: Name
    secret: Secret
    api_token: Secret
    account_id: Identifier
    verify_token: Secret | None = None
    admin_id: Identifier | None = None
    purpose: Literal["conversations", "feedback"] = "conversations"
    default_region: Annotated[str, Field(min_length=2, max_length=2, strict=True), AfterValidator(_region)] | None = None


class TemplateBody(_Body):
    name: Annotated[str, Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$", strict=True)]
    language: Annotated[str, Field(min_length=2, max_length=16, pattern=r"^[A-Za-z]{2,3}(_[A-Za-z0-9]{2,8})?$", strict=True)]
    parameters: Annotated[list[TemplateParameter], Field(max_length=20)] = []


class OutboundMessage(_Body):
    text: MessageText | None = None
    sender_type: Literal["agent", "bot"]
    sender_name: SenderName | None = None
    template: TemplateBody | None = None

