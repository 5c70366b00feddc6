"""Each provider's webhook signature, verified exactly as the provider signs, over the raw body
bytes (already base64-decoded when API Gateway encoded them). Pure: the clock is a parameter.

* WhatsApp (Meta): ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, body)>``. Meta signs
  no timestamp: replays are stopped by the dedupe on the provider's ids.
* Slack: ``X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:" + ts + ":" + body)>`` with
  ``X-Slack-Request-Timestamp`` within 300 s of now, either way — slack-sdk's ``SignatureVerifier``.
* Intercom: ``X-Hub-Signature: sha1=<hex HMAC-SHA1(client secret, body)>``: SHA-1, as Intercom signs
  (the feedback-hub seed says SHA-256; Intercom's documentation says SHA-1). No timestamp either.

Every check fails closed: a missing or blank secret, a missing header, a malformed one, a body
that is not UTF-8 where the provider's scheme needs text — all refuse (slack-sdk would raise on a
blank secret, and would verify against any secret it is given).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping

SLACK_TOLERANCE_SECONDS = 300


class BadSignature(Exception):
    """The delivery is not signed by the channel's provider secret (or not recently, for Slack)."""


def _header(headers: Mapping[str, str], name: str) -> str:
    value = {k.lower(): v for k, v in headers.items()}.get(name.lower())
    if not value:
        raise BadSignature(f"{name} is missing")
    return value


def _secret(secret: str | None) -> bytes:
    if not secret or not secret.strip():
        raise BadSignature("the channel has no signing secret")
    return secret.encode("utf-8")


def _hub_signature(body: bytes, headers: Mapping[str, str], secret: str | None, *, header: str, algorithm: str) -> None:
    """Meta's and Intercom's shared scheme: ``<algorithm>=<hex HMAC(secret, body)>``."""
    key = _secret(secret)
    given = _header(headers, header)
    prefix, _, digest = given.partition("=")
    if prefix.strip().lower() != algorithm or not digest:
        raise BadSignature(f"{header} is not {algorithm}=<hex>")
    expected = hmac.new(key, body, getattr(hashlib, algorithm)).hexdigest()
    if not hmac.compare_digest(expected, digest.strip().lower()):
        raise BadSignature(f"{header} does not match the body")


def verify_whatsapp(body: bytes, headers: Mapping[str, str], secret: str | None) -> None:
    """Meta's ``X-Hub-Signature-256`` with the app secret; raises ``BadSignature``."""
    _hub_signature(body, headers, secret, header="X-Hub-Signature-256", algorithm="sha256")


def verify_intercom(body: bytes, headers: Mapping[str, str], secret: str | None) -> None:
    """Intercom's ``X-Hub-Signature`` (HMAC-SHA1) with the app's client secret; raises ``BadSignature``."""
    _hub_signature(body, headers, secret, header="X-Hub-Signature", algorithm="sha1")


def verify_slack(body: bytes, headers: Mapping[str, str], secret: str | None, *, now: Callable[[], float] = time.time) -> None:
    """Slack's ``v0`` signature through slack-sdk's ``SignatureVerifier`` (300 s window, past or
    future); raises ``BadSignature``."""
    from slack_sdk.signature import SignatureVerifier

    _secret(secret)
    timestamp = _header(headers, "X-Slack-Request-Timestamp")
    _header(headers, "X-Slack-Signature")
    if not timestamp.strip().isdigit():
        raise BadSignature("X-Slack-Request-Timestamp is not a Unix time")

    class _Clock:
        def now(self) -> float:
            return now()

    verifier = SignatureVerifier(str(secret), clock=_Clock())  # type: ignore[arg-type]
    try:
        valid = verifier.is_valid_request(body, dict(headers))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadSignature("the body or headers cannot be checked") from exc
    if not valid:
        if abs(now() - int(timestamp)) > SLACK_TOLERANCE_SECONDS:
            raise BadSignature("X-Slack-Request-Timestamp is more than 300 s from now")
        raise BadSignature("X-Slack-Signature does not match the body")


VERIFIERS: dict[str, Callable[..., None]] = {"whatsapp": verify_whatsapp, "slack": verify_slack, "intercom": verify_intercom}


def whatsapp_challenge(query: Mapping[str, str], verify_token: str | None) -> str | None:
    """Meta's subscription handshake: ``hub.challenge`` when ``hub.mode`` is ``subscribe`` and
    ``hub.verify_token`` is the channel's; else None (the route answers 403). Fails closed without
    a verify token."""
    if not verify_token or query.get("hub.mode") != "subscribe":
        return None
    given = query.get("hub.verify_token") or ""
    if not hmac.compare_digest(given.encode("utf-8"), verify_token.encode("utf-8")):
        return None
    challenge = query.get("hub.challenge")
    return challenge if challenge else None


# ---- signing, as the providers do: the local stack's simulator and the tests --------------------
def sign_whatsapp(body: bytes, secret: str) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def sign_intercom(body: bytes, secret: str) -> dict[str, str]:
    return {"X-Hub-Signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()}


def sign_slack(body: bytes, secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    from slack_sdk.signature import SignatureVerifier

    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": str(signature)}


SIGNERS: dict[str, Callable[..., dict[str, str]]] = {"whatsapp": sign_whatsapp, "slack": sign_slack, "intercom": sign_intercom}
