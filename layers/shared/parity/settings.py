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

    crm_table_name: str = Field(alias="CRM_TABLE_NAME", min_length=1)
    crm_record_url_template: str = Field(
        alias="CRM_RECORD_URL_TEMPLATE", default="https://crm.example.com/{type}s/{id}"
    )
    token_ttl_seconds: int = Field(alias="TOKEN_TTL_SECONDS", default=3600, ge=60, le=86400)

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings; read on first use so importing a module costs nothing."""
    return Settings.model_validate(dict(os.environ))
