"""Domain errors. Each carries the HTTP status and error code it maps to, so the mapping to
the DESIGN.md error body happens in exactly one place (``parity.core.http``)."""

from __future__ import annotations

from typing import Any


class ParityError(Exception):
    """Base of every error the API reports to its caller."""

    status: int = 500
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.headers = headers or {}


class InvalidJson(ParityError):
    status, code = 400, "invalid_json"


class Unauthorized(ParityError):
    status, code = 401, "unauthorized"


class Forbidden(ParityError):
    """The caller's role is too low for the route (same company: another company's object stays a 404)."""

    status, code = 403, "forbidden"


class NotFound(ParityError):
    status, code = 404, "not_found"


class Conflict(ParityError):
    """The record changed under us more often than we retry; the caller may try again."""

    status, code = 409, "conflict"


class IdempotencyInProgress(ParityError):
    status, code = 409, "idempotency_request_in_progress"


class PayloadTooLarge(ParityError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ParityError):
    status, code = 415, "unsupported_media_type"


class ValidationFailed(ParityError):
    """Bad input. ``details`` names every offending field: ``{"field", "message", "type"}``."""

    status, code = 422, "validation_error"


class IdempotencyKeyReused(ParityError):
    status, code = 422, "idempotency_key_reused"


class ImmutableField(ParityError):
    status, code = 422, "immutable_field"


class ServiceUnavailable(ParityError):
    """A dependency is throttling or failing after our bounded retries: safe to retry."""

    status, code = 503, "temporarily_unavailable"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
