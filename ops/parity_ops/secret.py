"""``parity ops secret``: the webhook signing secret, rotated with an overlap window.

The parameter is read and written by the library (``parity.outbox.secrets.SigningSecretParameter``),
as the sender and the receiver read it; secrets are shown only by fingerprint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from parity.core.settings import MAX_CACHE_SECONDS
from parity.outbox.signing import new_secret, parse_secrets
from parity_ops.target import OpsError, Target

if TYPE_CHECKING:  # pragma: no cover
    from parity.outbox.secrets import SigningSecretParameter, Stored

#: How long a rotation must have been in place before ``secret finish``: the functions' longest cache,
#: so no receiver can still hold only the old secret when the sender stops signing with it.
DEFAULT_OVERLAP_SECONDS = MAX_CACHE_SECONDS


def fingerprint(secret: str) -> str:
    """How a secret is named to an operator: enough to tell two apart, nothing to sign with."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


def _parameter(target: Target) -> tuple[SigningSecretParameter, str]:
    # Imported here: it sets up the service's logger, which ``parity local`` must configure first
    # (the ``parity`` command builds this tool's parser on every start).
    from parity.outbox.secrets import SigningSecretParameter

    return SigningSecretParameter(boto3_client=target.client("ssm")), target.output("WebhookSigningSecretParameter")


def _stored(target: Target) -> Stored:
    """The parameter's secrets and when it was last written; none before the first rotation."""
    from parity.outbox.secrets import SecretsUnavailable, Stored

    parameter, name = _parameter(target)
    try:
        stored = parameter.read(name, max_age=0)
    except SecretsUnavailable as exc:
        raise OpsError(f"{exc}; check your access to the stack's SSM parameter") from exc
    return stored or Stored([], None)


def _write(target: Target, secrets: Sequence[str]) -> None:
    parameter, name = _parameter(target)
    parameter.write(name, secrets)


def _deploy_time_secrets(target: Target) -> list[str]:
    """What signs until the parameter exists: the sender's ``WEBHOOK_SIGNING_SECRET``."""
    config = target.client("lambda").get_function_configuration(FunctionName=target.output("WebhookSenderFunctionName"))
    return parse_secrets(config.get("Environment", {}).get("Variables", {}).get("WEBHOOK_SIGNING_SECRET"))


def _age(stored: Stored) -> float | None:
    return (datetime.now(timezone.utc) - stored.changed_at).total_seconds() if stored.changed_at else None


def secret_show(target: Target) -> dict[str, Any]:
    """Which secrets sign now (by fingerprint), where they come from, and since when."""
    stored = _stored(target)
    if stored.secrets:
        age = _age(stored)
        return {
            "source": f"parameter {target.output('WebhookSigningSecretParameter')}",
            "secrets": [fingerprint(s) for s in stored.secrets],
            "rotating": len(stored.secrets) > 1,
            "changed_at": stored.changed_at.isoformat(timespec="seconds") if stored.changed_at else None,
            "age_s": None if age is None else int(age),
        }
    return {"source": "deploy-time WEBHOOK_SIGNING_SECRET", "secrets": [fingerprint(s) for s in _deploy_time_secrets(target)], "rotating": False, "changed_at": None, "age_s": None}


def secret_rotate(target: Target) -> dict[str, Any]:
    """Start a rotation: a new secret, stored beside the current one so that both sign.

    Sender and receiver read the parameter at most every 30 s (60 s at most), so while the two
    overlap every delivery carries a signature each side accepts, whichever secrets it has cached.
    ``secret finish`` drops the old one once every container has seen the new one.
    """
    current = _stored(target).secrets or _deploy_time_secrets(target)
    if len(current) > 1:
        raise OpsError("a rotation is already in progress (two secrets sign); `parity ops secret finish` first")
    if not current:
        raise OpsError("no current signing secret found; set WebhookSigningSecret and deploy")
    new = new_secret()
    _write(target, [new, *current])
    return {
        "new_secret": new,
        "secrets": [fingerprint(new), *(fingerprint(s) for s in current)],
        "finish_after_s": DEFAULT_OVERLAP_SECONDS,
        "next": "parity ops secret finish",
    }


def secret_finish(target: Target, *, overlap_seconds: float = DEFAULT_OVERLAP_SECONDS) -> dict[str, Any]:
    """End a rotation: only the newest secret signs from now on. Refused until the rotation is
    ``overlap_seconds`` old, so no container still verifies with the old secret alone."""
    stored = _stored(target)
    if len(stored.secrets) < 2:
        raise OpsError("no rotation in progress (one secret signs); start one with `parity ops secret rotate`")
    age = _age(stored)
    age = overlap_seconds if age is None else age
    if age < overlap_seconds:
        raise OpsError(
            f"the rotation is {int(age)} s old; functions cache the secret for up to {MAX_CACHE_SECONDS} s: "
            f"finish in {int(overlap_seconds - age) + 1} s (or pass a shorter --overlap if yours is configured shorter)"
        )
    _write(target, stored.secrets[:1])
    return {"secrets": [fingerprint(stored.secrets[0])], "dropped": [fingerprint(s) for s in stored.secrets[1:]]}
