"""Runtime settings: read once from the environment template.yaml passes in, validated."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Largest request body the API accepts, in bytes (documented in the README). Larger → 413.
MAX_BODY_BYTES = 64 * 1024
#: How long an Idempotency-Key is remembered per company (IETF draft: at least 24 h).
IDEMPOTENCY_TTL_SECONDS = 24 * 3600


class Settings(BaseModel):
    """The environment of every function, as a typed, validated model."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    # Each function gets only the variables it needs (template.yaml), so most are optional here;
    # ``require`` names the missing one when a use case needs it.
    crm_table_name: str | None = Field(alias="CRM_TABLE_NAME", default=None, min_length=1)
    preview_table_name: str | None = Field(alias="PREVIEW_TABLE_NAME", default=None, min_length=1)
    webhook_queue_url: str | None = Field(alias="WEBHOOK_QUEUE_URL", default=None)
    webhook_dlq_url: str | None = Field(alias="WEBHOOK_DLQ_URL", default=None)
    timeline_queue_url: str | None = Field(alias="TIMELINE_QUEUE_URL", default=None)
    omnichannel_webhook_url: str | None = Field(alias="OMNICHANNEL_WEBHOOK_URL", default=None)
    webhook_signing_secret: str | None = Field(alias="WEBHOOK_SIGNING_SECRET", default=None, repr=False)
    webhook_retry_schedule: str | None = Field(alias="WEBHOOK_RETRY_SCHEDULE", default=None)
    allow_private_targets: bool = Field(alias="ALLOW_PRIVATE_TARGETS", default=False)
    parity_default_enabled: bool = Field(alias="PARITY_DEFAULT_ENABLED", default=False)
    crm_record_url_template: str = Field(
        alias="CRM_RECORD_URL_TEMPLATE", default="https://crm.example.com/{type}s/{id}"
    )
    token_ttl_seconds: int = Field(alias="TOKEN_TTL_SECONDS", default=3600, ge=60, le=86400)
    hub_api_base_url: str | None = Field(alias="HUB_API_BASE_URL", default=None)
    hub_api_token: str | None = Field(alias="HUB_API_TOKEN", default=None, repr=False)
    room_deeplink_template: str = Field(
        alias="ROOM_DEEPLINK_TEMPLATE", default="https://chat.example.com/inbox/{room_id}"
    )

    @field_validator("crm_record_url_template")
    @classmethod
    def _has_id_placeholder(cls, value: str) -> str:
        if "{id}" not in value:
            raise ValueError("must contain the {id} placeholder")
        try:
            value.format(type="deal", id="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only {{type}} and {{id}} placeholders are allowed ({exc})") from exc
        return value

    @field_validator("hub_api_base_url")
    @classmethod
    def _http_base_url(cls, value: str | None) -> str | None:
        if value and not value.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value or None

    @field_validator("room_deeplink_template")
    @classmethod
    def _has_room_placeholder(cls, value: str) -> str:
        if "{room_id}" not in value:
            raise ValueError("must contain the {room_id} placeholder")
        try:
            value.format(room_id="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only the {{room_id}} placeholder is allowed ({exc})") from exc
        return value

    def require(self, name: str) -> str:
        """The value of a setting a use case cannot do without; a clear error when unset."""
        value = getattr(self, name)
        if not value:
            alias = type(self).model_fields[name].alias
            raise RuntimeError(f"{alias} is not set for this function (see template.yaml)")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings; read on first use so importing a module costs nothing."""
    return Settings.model_validate(dict(os.environ))
