"""Typed errors. An answer from the API carries its error body (``code``, ``message``, ``details``);
a call that never got an answer is a ``TransportError``."""

from __future__ import annotations

from typing import Any


class ParityClientError(Exception):
    """Base of every error this client raises."""


class TransportError(ParityClientError):
    """No answer after the bounded retries: connection refused, timed out or cut.

    For a create, retrying with the same ``idempotency_key`` is safe: it can never create twice.
    """

    def __init__(self, message: str, *, idempotency_key: str | None = None) -> None:
        super().__init__(message)
        self.idempotency_key = idempotency_key


class ApiError(ParityClientError):
    """The API answered with an error: its HTTP status and its error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}
        self.idempotency_key = idempotency_key

    @property
    def fields(self) -> list[str]:
        """The fields the error names (a validation error names every offending one)."""
        return [str(d["field"]) for d in self.details if isinstance(d, dict) and "field" in d]


class AuthenticationError(ApiError):
    """401: the API key was refused, or a freshly issued token was refused too."""


class NotFoundError(ApiError):
    """404: no such record in the caller's company (another company's record is a 404 as well)."""


class ConflictError(ApiError):
    """409: the record changed under the server's retries, or the same create is still running."""


class ValidationError(ApiError):
    """422: bad input (``details`` names each field), a reused Idempotency-Key, or an immutable field."""


class ServiceUnavailableError(ApiError):
    """503 (or 429) after the bounded retries: safe to try again later."""


_BY_STATUS: dict[int, type[ApiError]] = {
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: ServiceUnavailableError,
    503: ServiceUnavailableError,
}


def error_for(status: int, body: Any, headers: dict[str, str], *, idempotency_key: str | None = None) -> ApiError:
    """The typed error for an error answer; a body that is not the API's error shape still gives one."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code") or f"http_{status}")
        message = str(error.get("message") or "")
        details = error.get("details") if isinstance(error.get("details"), list) else []
    else:
        # API Gateway's own answers ({"message": "Unauthorized"}) and anything else in front of us.
        code = f"http_{status}"
        message = str(body.get("message")) if isinstance(body, dict) and "message" in body else (str(body)[:200] if body else "")
        details = []
    cls = _BY_STATUS.get(status, ApiError)
    return cls(status, code, message, details=details, headers=headers, idempotency_key=idempotency_key)
