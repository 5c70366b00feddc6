"""Runtime settings: read once from the environment template.yaml passes in, validated.

A frozen dataclass read straight from ``os.environ``: importing it costs nothing (no pydantic on
the cold path of any function, the authorizer included — issue #7). The validation and the error
type stay pydantic's: a bad value raises ``pydantic.ValidationError`` naming the variable, built
only on that (rare) path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any, Mapping

#: Largest request body the API accepts, in bytes (documented in the README). Larger → 413.
MAX_BODY_BYTES = 64 * 1024
#: A record's CRM URL unless ``CRM_RECORD_URL_TEMPLATE`` says otherwise (template.yaml's parameter
#: ``CrmRecordUrlTemplate`` has the same default; a functional test holds them equal).
DEFAULT_CRM_RECORD_URL_TEMPLATE = "https://crm.example.com/{type}s/{id}"
#: The longest a warm container trusts a value an operator changes without a redeploy (a company's
#: parity flag, the signing secrets, an API key's revocation through the authorizer's token cache):
#: ``parity ops`` promises its changes take effect within it.
MAX_CACHE_SECONDS = 60

_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


class _Invalid(Exception):
    """One refused value: a pydantic error type, its context and message."""

    def __init__(self, kind: str, message: str, **ctx: Any) -> None:
        super().__init__(message)
        self.kind, self.ctx = kind, ctx


def _env(alias: str, **meta: Any) -> Any:
    return {"alias": alias, **meta}


@dataclass(frozen=True)
class Settings:
    """The environment of every function, typed and validated."""

    # Each function gets only the variables it needs (template.yaml), so most are optional here;
    # ``require`` names the missing one when a use case needs it.
    crm_table_name: str | None = field(default=None, metadata=_env("CRM_TABLE_NAME", min_length=1))
    preview_table_name: str | None = field(default=None, metadata=_env("PREVIEW_TABLE_NAME", min_length=1))
    webhook_queue_url: str | None = field(default=None, metadata=_env("WEBHOOK_QUEUE_URL"))
    webhook_dlq_url: str | None = field(default=None, metadata=_env("WEBHOOK_DLQ_URL"))
    timeline_queue_url: str | None = field(default=None, metadata=_env("TIMELINE_QUEUE_URL"))
    omnichannel_webhook_url: str | None = field(default=None, metadata=_env("OMNICHANNEL_WEBHOOK_URL"))
    webhook_signing_secret: str | None = field(default=None, repr=False, metadata=_env("WEBHOOK_SIGNING_SECRET"))
    #: SSM parameter holding the signing secret(s) once an operator rotated them (``parity ops
    #: secret rotate``); until it exists, ``WEBHOOK_SIGNING_SECRET`` signs and verifies.
    webhook_signing_secret_parameter: str | None = field(default=None, metadata=_env("WEBHOOK_SIGNING_SECRET_PARAMETER"))
    #: How long a warm container trusts the secret(s) it read; a rotation reaches every function within it.
    webhook_secret_cache_seconds: float = field(default=30.0, metadata=_env("WEBHOOK_SECRET_CACHE_SECONDS", kind=float, ge=0, le=MAX_CACHE_SECONDS))
    #: How long the router trusts a company's parity flag: the rollback takes effect within it.
    flag_cache_seconds: float = field(default=30.0, metadata=_env("PARITY_FLAG_CACHE_SECONDS", kind=float, ge=0, le=MAX_CACHE_SECONDS))
    webhook_retry_schedule: str | None = field(default=None, metadata=_env("WEBHOOK_RETRY_SCHEDULE"))
    allow_private_targets: bool = field(default=False, metadata=_env("ALLOW_PRIVATE_TARGETS", kind=bool))
    parity_default_enabled: bool = field(default=False, metadata=_env("PARITY_DEFAULT_ENABLED", kind=bool))
    crm_record_url_template: str = field(default=DEFAULT_CRM_RECORD_URL_TEMPLATE, metadata=_env("CRM_RECORD_URL_TEMPLATE", check="_has_id_placeholder"))
    token_ttl_seconds: int = field(default=3600, metadata=_env("TOKEN_TTL_SECONDS", kind=int, ge=60, le=86400))
    hub_api_base_url: str | None = field(default=None, metadata=_env("HUB_API_BASE_URL", check="_http_base_url"))
    hub_api_token: str | None = field(default=None, repr=False, metadata=_env("HUB_API_TOKEN"))
    room_deeplink_template: str = field(default="https://chat.example.com/inbox/{room_id}", metadata=_env("ROOM_DEEPLINK_TEMPLATE", check="_has_room_placeholder"))

    # ---- conversations (contracts/conversations.md) --------------------------------------------
    conversation_table_name: str | None = field(default=None, metadata=_env("CONVERSATION_TABLE_NAME", min_length=1))
    #: SSM path under which each channel's secrets live (``<prefix>/<channel id>/<name>``).
    channel_secrets_prefix: str | None = field(default=None, metadata=_env("CHANNEL_SECRETS_PREFIX", min_length=1))
    #: Where channel webhooks are reached from outside, when not the API's own address (a custom domain).
    channel_webhook_base_url: str | None = field(default=None, metadata=_env("CHANNEL_WEBHOOK_BASE_URL", check="_http_base_url"))
    ingest_queue_url: str | None = field(default=None, metadata=_env("INGEST_QUEUE_URL"))
    ingest_dlq_url: str | None = field(default=None, metadata=_env("INGEST_DLQ_URL"))
    delivery_queue_url: str | None = field(default=None, metadata=_env("DELIVERY_QUEUE_URL"))
    delivery_dlq_url: str | None = field(default=None, metadata=_env("DELIVERY_DLQ_URL"))
    event_bus_name: str | None = field(default=None, metadata=_env("EVENT_BUS_NAME", min_length=1))
    whatsapp_api_base_url: str = field(default="https://graph.facebook.com", metadata=_env("WHATSAPP_API_BASE_URL", check="_http_base_url"))
    slack_api_base_url: str = field(default="https://slack.com", metadata=_env("SLACK_API_BASE_URL", check="_http_base_url"))
    intercom_api_base_url: str = field(default="https://api.intercom.io", metadata=_env("INTERCOM_API_BASE_URL", check="_http_base_url"))

    #: Seconds before a reply's 2nd, 3rd … attempt (default 1,4,15,60; then every 5 minutes).
    reply_retry_schedule: str | None = field(default=None, metadata=_env("REPLY_RETRY_SCHEDULE"))
    #: Replies other capabilities ask conversations for (``parity.conversations.requests``).
    reply_request_queue_url: str | None = field(default=None, metadata=_env("REPLY_REQUEST_QUEUE_URL"))

    # ---- feedback (contracts/feedback.md) -------------------------------------------------------
    feedback_table_name: str | None = field(default=None, metadata=_env("FEEDBACK_TABLE_NAME", min_length=1))

    def provider_base_urls(self) -> dict[str, str]:
        """Each provider's send API base (the local stack points them at its fakes)."""
        return {"whatsapp": self.whatsapp_api_base_url, "slack": self.slack_api_base_url, "intercom": self.intercom_api_base_url}

    # ---- the checks (the messages pydantic's field validators gave) ----------------------------
    @staticmethod
    def _has_id_placeholder(value: str) -> str:
        if "{id}" not in value:
            raise ValueError("must contain the {id} placeholder")
        try:
            value.format(type="deal", id="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only {{type}} and {{id}} placeholders are allowed ({exc})") from exc
        return value

    @staticmethod
    def _http_base_url(value: str | None) -> str | None:
        if value and not value.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value or None

    @staticmethod
    def _has_room_placeholder(value: str) -> str:
        if "{room_id}" not in value:
            raise ValueError("must contain the {room_id} placeholder")
        try:
            value.format(room_id="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only the {{room_id}} placeholder is allowed ({exc})") from exc
        return value

    @classmethod
    def model_validate(cls, data: Mapping[str, Any]) -> Settings:
        """Read the settings from an environment mapping (aliases, or field names); extra keys are
        ignored. Raises ``pydantic.ValidationError`` listing every refused variable."""
        values: dict[str, Any] = {}
        errors: list[tuple[str, Any, _Invalid]] = []
        for f in fields(cls):
            alias = f.metadata["alias"]
            if alias in data:
                raw = data[alias]
            elif f.name in data:
                raw = data[f.name]
            else:
                continue
            try:
                values[f.name] = _convert(cls, f.metadata, raw)
            except _Invalid as exc:
                errors.append((alias, raw, exc))
        if errors:
            raise _validation_error(cls.__name__, errors)
        return cls(**values)

    def require(self, name: str) -> str:
        """The value of a setting a use case cannot do without; a clear error when unset."""
        value = getattr(self, name)
        if not value:
            alias = next(f.metadata["alias"] for f in fields(self) if f.name == name)
            raise RuntimeError(f"{alias} is not set for this function (see template.yaml)")
        return value


def _convert(cls: type, meta: Mapping[str, Any], raw: Any) -> Any:
    kind = meta.get("kind", str)
    if kind is str:
        if raw is None:
            return None
        if not isinstance(raw, str):
            raise _Invalid("string_type", "Input should be a valid string")
        value: Any = raw
        if len(raw) < meta.get("min_length", 0):
            raise _Invalid("string_too_short", "String should have at least {min_length} character", min_length=meta["min_length"])
    elif kind is bool:
        if isinstance(raw, bool):
            value = raw
        elif isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            value = raw.strip().lower() in _TRUE
        else:
            raise _Invalid("bool_parsing", "Input should be a valid boolean, unable to interpret input")
    else:
        try:
            if isinstance(raw, bool):
                raise ValueError
            value = kind(raw.strip() if isinstance(raw, str) else raw)
            if kind is int and isinstance(raw, float) and raw != value:
                raise ValueError
        except (TypeError, ValueError):
            name = "integer" if kind is int else "number"
            raise _Invalid(f"{kind.__name__}_parsing", f"Input should be a valid {name}, unable to parse string as {'an' if kind is int else 'a'} {name}") from None
        if "ge" in meta and value < meta["ge"]:
            raise _Invalid("greater_than_equal", "Input should be greater than or equal to {ge}", ge=meta["ge"])
        if "le" in meta and value > meta["le"]:
            raise _Invalid("less_than_equal", "Input should be less than or equal to {le}", le=meta["le"])
    check = meta.get("check")
    if check:
        try:
            value = getattr(cls, check)(value)
        except ValueError as exc:
            raise _Invalid("value_error", f"Value error, {exc}", error=exc) from None
    return value


def _validation_error(title: str, errors: list[tuple[str, Any, _Invalid]]) -> Exception:
    """pydantic's ValidationError (imported only here, on the failure path)."""
    from pydantic import ValidationError

    return ValidationError.from_exception_data(
        title, [{"type": e.kind, "loc": (alias,), "input": raw, "ctx": e.ctx} for alias, raw, e in errors]
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings; read on first use so importing a module costs nothing."""
    return Settings.model_validate(os.environ)


def settings() -> Settings:
    """The process's settings (``get_settings``, by the name handlers use)."""
    return get_settings()
