"""``ParityClient``: what a producer (chatbot flow, AI agent) needs to call the Parity API safely.

Auth, as the chatbot's ``CrmHttpClient`` does it (RFC "token expired" path): the company API key is
exchanged for a bearer token on first use; the token is reused until shortly before it expires;
a 401 refreshes it **once** and the call is sent again; a second 401 is an ``AuthenticationError``.
Many threads may share one client: one refresh serves them all.

Retries never create twice: each ``create_deal`` / ``create_ticket`` call generates one
``Idempotency-Key`` and sends it on every attempt, so a create the server did finish while its
answer was lost comes back as a replay, not as a second record. Other calls are retried only where
repeating them cannot change the outcome (reads, or a request that never reached the server).
Every request has a timeout; retries are bounded, back off exponentially and honour ``Retry-After``.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Literal, TypedDict, Unpack, overload
from urllib.parse import quote

import httpx

from parity_client.errors import AuthenticationError, TransportError, error_for
from parity_client.models import Contact, Created, Deal, RecordKind, RoomPreview, Ticket, TimelineNote, Token

log = logging.getLogger("parity_client")

API = "/api/v3.1"
#: Errors raised before the request could reach the server: always safe to send again.
_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Answers that say "not done, try again" whatever the call.
_TRY_AGAIN = {429, 503}
#: Answers after which the server may or may not have done the work (retried only where that is safe).
_MAYBE_DONE = {500, 502, 504}


class CreateOptions(TypedDict, total=False):
    """What a create of either type takes besides its type's own fields: the declared origin fields
    (``room_id`` stands for ``channel_integration_room_id``, the chat room), ``status``, and the
    call's ``idempotency_key``. ``creator_flag`` is ``"bot"`` or ``"agentic_ai"``; ``confidence``
    (0..1) and ``agent_id`` say how sure which agent was: below the company's threshold, the create
    is held for a person."""

    status: str | None
    source: str | None
    room_id: str | None
    contact_id: str | None
    crm_lead_ids: list[str] | None
    creator_flag: str | None
    confidence: Decimal | float | None
    agent_id: str | None
    idempotency_key: str | None


class ParityClient:
    """A thread-safe client of one Parity API for one company.

    ``base_url`` is the API's root (``http://127.0.0.1:3000`` locally), ``api_key`` the company's
    API key. ``timeout`` bounds every request (seconds); ``max_retries`` bounds the extra attempts
    of one call. ``transport``, ``clock`` and ``sleep`` are for tests.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        sso_id: str = "parity-client",
        timeout: float = 10.0,
        max_retries: int = 3,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        max_retry_after: float = 30.0,
        refresh_margin: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise ValueError("an API key is required")
        self._api_key = api_key
        self._sso_id = sso_id
        self._max_retries = max(0, max_retries)
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._max_retry_after = max_retry_after
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": "parity-client/0.1", "Accept": "application/json"},
        )
        self._token_lock = threading.Lock()
        self._token: Token | None = None
        self._token_renew_at = 0.0
        self._exchanges = 0

    # ---- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ParityClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def token_exchanges(self) -> int:
        """How many times this client has exchanged its API key for a token (first one included)."""
        return self._exchanges

    # ---- auth ----------------------------------------------------------------------------------
    def authenticate(self) -> Token:
        """Exchange the API key for a fresh token now (fails fast on a wrong key); later calls use it."""
        with self._token_lock:
            return self._exchange_locked()

    def _current_token(self) -> str:
        with self._token_lock:
            if self._token is None or self._clock() >= self._token_renew_at:
                self._exchange_locked()
            assert self._token is not None
            return self._token.access_token

    def _refresh_after_401(self, rejected: str) -> None:
        """Replace the token the server just refused, unless another thread already has."""
        with self._token_lock:
            if self._token is None or self._token.access_token == rejected:
                self._exchange_locked()

    def _exchange_locked(self) -> Token:
        started = self._clock()
        response = self._send(
            "POST", f"{API}/teams/company_token", json={"sso_id": self._sso_id},
            headers={"X-Crm-Api-Key": self._api_key}, retry_unanswered=True,
        )
        self._exchanges += 1
        if response.status_code != 200:
            error = error_for(response.status_code, _json(response), dict(response.headers))
            if response.status_code == 401:
                raise AuthenticationError(401, error.code, f"the API key was refused: {error.message}", details=error.details, headers=error.headers)
            raise error
        token = Token.model_validate(_exact(response))
        margin = min(self._refresh_margin, token.expires_in / 2)
        self._token, self._token_renew_at = token, started + token.expires_in - margin
        log.debug("token for company %s, renewed in %.0f s", token.company_id, token.expires_in - margin)
        return token

    # ---- producers: contacts and creates -------------------------------------------------------
    def find_contacts(self, *, phone: str | None = None, email: str | None = None) -> list[Contact]:
        """The producers' lead lookup: contacts whose phone digits (or email) match exactly."""
        if bool(phone) == bool(email):
            raise ValueError("give exactly one of phone or email")
        params = {"phone": phone} if phone else {"email": email}
        body = _exact(self._call("GET", f"{API}/contacts", params=params))
        return [Contact.model_validate(c) for c in body["data"]]

    def create_contact(self, *, name: str | None = None, phone: str | None = None, email: str | None = None) -> Contact:
        """Create a contact (at least one of phone/email). Not retried once sent: it has no idempotency key."""
        body = _exact(self._call("POST", f"{API}/contacts", json=_present(name=name, phone=phone, email=email)))
        return Contact.model_validate(body["data"])

    def create_deal(
        self, name: str, *, pipeline: str | None = None, stage: str | None = None, amount: Decimal | int | float | None = None,
        **options: Unpack[CreateOptions],
    ) -> Created[Deal]:
        """Create a deal; ``options`` are the fields any record takes (``CreateOptions``). One logical
        create: pass the same ``idempotency_key`` to repeat it. A create the company's approval policy
        holds comes back ``held``, with the ``approval`` a person decides and no record yet."""
        return self._create("deal", Deal, _present(name=name, pipeline=pipeline, stage=stage, amount=_number(amount)), options)

    def create_ticket(
        self, name: str, *, description: str | None = None, priority: str | None = None, category: str | None = None,
        resolution_note: str | None = None, **options: Unpack[CreateOptions],
    ) -> Created[Ticket]:
        """Create a ticket; as ``create_deal``."""
        fields = _present(name=name, description=description, priority=priority, category=category, resolution_note=resolution_note)
        return self._create("ticket", Ticket, fields, options)

    def _create(self, kind: str, model: type[Any], fields: dict[str, Any], options: Mapping[str, Any]) -> Any:
        unknown = sorted(set(options) - CreateOptions.__optional_keys__)
        if unknown:
            raise TypeError(f"create_{kind}() got unexpected keyword arguments: {', '.join(unknown)}")
        sent = dict(options)
        key = sent.pop("idempotency_key", None) or f"parity-client-{uuid.uuid4()}"
        if "room_id" in sent:
            sent["channel_integration_room_id"] = sent.pop("room_id")
        sent["confidence"] = _number(sent.get("confidence"))
        response = self._call("POST", f"{API}/{kind}s", json={**fields, **_present(**sent)}, idempotency_key=key)
        body = _exact(response)
        held = response.status_code == 202
        return Created[model].model_validate({  # type: ignore[valid-type]
            "record": None if held else body["data"],
            "approval": body["data"]["approval"] if held else None,
            "warnings": body.get("warnings") or [],
            "replayed": response.headers.get("idempotent-replayed", "").lower() == "true",
            "idempotency_key": key,
        })

    # ---- records -------------------------------------------------------------------------------
    @overload
    def get(self, kind: Literal["deal"], record_id: str) -> Deal: ...
    @overload
    def get(self, kind: Literal["ticket"], record_id: str) -> Ticket: ...
    def get(self, kind: RecordKind, record_id: str) -> Deal | Ticket:
        """A record of the caller's company; ``NotFoundError`` otherwise."""
        return _record(kind, _exact(self._call("GET", _record_path(kind, record_id)))["data"])

    @overload
    def update(self, kind: Literal["deal"], record_id: str, **changes: Any) -> Deal: ...
    @overload
    def update(self, kind: Literal["ticket"], record_id: str, **changes: Any) -> Ticket: ...
    def update(self, kind: RecordKind, record_id: str, **changes: Any) -> Deal | Ticket:
        """Change the fields given (``None`` clears one); ``room_id`` stands for ``channel_integration_room_id``.

        Retried only when the request never reached the server: a lost answer is an error, not a replay.
        """
        if "room_id" in changes:
            changes["channel_integration_room_id"] = changes.pop("room_id")
        if "amount" in changes:
            changes["amount"] = _number(changes["amount"])
        return _record(kind, _exact(self._call("PATCH", _record_path(kind, record_id), json=changes))["data"])

    def delete(self, kind: RecordKind, record_id: str) -> None:
        """Delete a record (final: its room preview falls back to the next record, or the call to action)."""
        self._call("DELETE", _record_path(kind, record_id))

    def timeline(self, kind: RecordKind, record_id: str) -> list[TimelineNote]:
        """The record's timeline notes, newest first."""
        body = _exact(self._call("GET", f"{_record_path(kind, record_id)}/timeline"))
        return [TimelineNote.model_validate(n) for n in body["data"]]

    def room_preview(self, room_id: str) -> RoomPreview:
        """What the chat room's sidebar shows (None in a slot = the "Create …" call to action)."""
        return RoomPreview.model_validate(_exact(self._call("GET", f"{API}/rooms/{quote(room_id, safe='')}/preview")))

    # ---- the call ------------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """One logical call with the company token: one refresh on 401, bounded retries, typed errors."""
        # A read, or a create carrying its idempotency key, may be sent again even if the server did it.
        repeatable = method == "GET" or idempotency_key is not None
        refreshed = False
        while True:
            token = self._current_token()
            headers = {"Authorization": f"Bearer {token}"}
            if idempotency_key:
                headers["Idempotency-Key"] = idempotency_key
            response = self._send(method, path, json=json, params=params, headers=headers,
                                  retry_unanswered=repeatable, idempotency_key=idempotency_key)
            if response.status_code == 401 and not refreshed:
                refreshed = True
                log.info("%s %s: token refused (401); refreshing once", method, path)
                self._refresh_after_401(token)
                continue
            if response.is_error:
                raise error_for(response.status_code, _json(response), dict(response.headers), idempotency_key=idempotency_key)
            return response

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str],
        retry_unanswered: bool,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Send one request, retrying (bounded) what is safe to retry; the last answer, or TransportError."""
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, json=json, params=params, headers=headers)
            except httpx.TransportError as exc:
                if attempt < self._max_retries and (retry_unanswered or isinstance(exc, _UNSENT)):
                    delay = self._delay(attempt, None)
                    log.info("%s %s: %s; retry %d in %.2f s", method, path, type(exc).__name__, attempt + 1, delay)
                    self._sleep(delay)
                    attempt += 1
                    continue
                raise TransportError(f"{method} {path}: no answer ({type(exc).__name__}: {exc})", idempotency_key=idempotency_key) from exc
            if attempt < self._max_retries and self._should_retry(response, retry_unanswered, idempotency_key):
                delay = self._delay(attempt, response.headers.get("retry-after"))
                log.info("%s %s: %d; retry %d in %.2f s", method, path, response.status_code, attempt + 1, delay)
                response.close()
                self._sleep(delay)
                attempt += 1
                continue
            return response

    @staticmethod
    def _should_retry(response: httpx.Response, retry_unanswered: bool, idempotency_key: str | None) -> bool:
        status = response.status_code
        if status in _TRY_AGAIN:
            return True
        if status == 409:
            body = _json(response)
            code = (body.get("error") or {}).get("code") if isinstance(body, dict) else None
            # "Still running" is only safe to wait out with the same key; "conflict" was not applied at all.
            return code == "conflict" or (code == "idempotency_request_in_progress" and idempotency_key is not None)
        return status in _MAYBE_DONE and retry_unanswered

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(max(float(retry_after), 0.0), self._max_retry_after)
            except ValueError:
                pass  # an HTTP date: fall back to our own backoff
        ceiling = min(self._max_backoff, self._backoff * (2 ** attempt))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not security


def _json(response: httpx.Response) -> Any:
    try:
        return _exact(response)
    except ValueError:
        return response.text


def _exact(response: httpx.Response) -> Any:
    """The answer's JSON with fractions as ``Decimal``: Parity answers amounts exactly
    (``999999999999999.99``), and a float would round them."""
    return json.loads(response.content, parse_float=Decimal)


def _present(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _number(value: Decimal | int | float | None) -> int | float | None:
    """JSON has no Decimal: integral amounts go as integers, others as the nearest float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _record_path(kind: str, record_id: str) -> str:
    if kind not in ("deal", "ticket"):
        raise ValueError(f"kind must be 'deal' or 'ticket', not {kind!r}")
    return f"{API}/{kind}s/{quote(record_id, safe='')}"


def _record(kind: str, data: Mapping[str, Any]) -> Deal | Ticket:
    return (Deal if kind == "deal" else Ticket).model_validate(data)
