"""The webhook signing secret(s), rotatable without a redeploy.

They live in an SSM parameter (a SecureString on AWS; ``parity ops secret rotate`` writes it) that the
sender and the receiver read through powertools' parameters utility, whose cache keeps an answer
``WEBHOOK_SECRET_CACHE_SECONDS``: a rotation reaches every warm container within that. Until the
parameter exists (a fresh deploy, the local stack before its first rotation) the deploy-time
``WEBHOOK_SIGNING_SECRET`` is used. The value has the variable's form: one ``whsec_…`` secret, or
several separated by spaces while a rotation overlaps (``signing.parse_secrets``).

This module is the one place that reads and writes the parameter: the functions through
``signing_secrets()``, ``parity ops secret`` through ``SigningSecretParameter``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parameters import GetParameterError, SSMProvider
from botocore.exceptions import ClientError

from parity.core.observability import logger
from parity.core.settings import get_settings
from parity.core.warm import warm
from parity.outbox.signing import parse_secrets

if TYPE_CHECKING:  # pragma: no cover
    from mypy_boto3_ssm import SSMClient

#: After a failed read, how long to go on with what we had before asking SSM again.
RETRY_AFTER_FAILURE_SECONDS = 5.0


def new_client() -> SSMClient:
    """An SSM client: 1 s connect, 2 s read, 2 attempts (``parity.core.aws``)."""
    from parity.core.aws import client

    return client("ssm", read_timeout=2, attempts=2)


class SecretsUnavailable(Exception):
    """SSM did not answer, or refused, after the client's bounded retries."""


@dataclass(frozen=True)
class Stored:
    """What the parameter holds: the secrets, newest first, and when it was last written."""

    secrets: list[str] = field(repr=False)
    changed_at: datetime | None


class SigningSecretParameter(SSMProvider):
    """The parameter, through powertools' SSM provider: its client, its cache (``max_age``), its errors.

    One read differs from the provider's own: it answers the whole parameter, so the operator tool
    can say when it was written, and a parameter that does not exist yet is an answer (``{}``),
    cached like any other, not a failure: a fresh deploy signs with the deploy-time secret
    without asking SSM on every delivery.
    """

    def _get(self, name: str, decrypt: bool = False, **sdk_options: Any) -> dict[str, Any]:
        try:
            return dict(self.client.get_parameter(Name=name, WithDecryption=decrypt, **sdk_options)["Parameter"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
                return {}
            raise

    def read(self, name: str, *, max_age: float) -> Stored | None:
        """The parameter's secrets, or None when it does not exist; an answer younger than
        ``max_age`` seconds comes from the cache (0: ask SSM). Raises ``SecretsUnavailable``."""
        try:
            parameter = self.get(name, max_age=max_age, decrypt=True)  # type: ignore[arg-type]
        except GetParameterError as exc:  # powertools' wrapper: the cause is the one it wraps
            raise SecretsUnavailable(f"cannot read {name}: {type(exc.__context__ or exc).__name__}") from exc
        if not isinstance(parameter, dict) or not parameter:
            return None
        changed = parameter.get("LastModifiedDate")
        return Stored(parse_secrets(parameter.get("Value")), changed if isinstance(changed, datetime) else None)

    def write(self, name: str, secrets: Sequence[str]) -> None:
        """Write the secrets, newest first, encrypted (``parity ops secret rotate|finish``)."""
        self.set(
            name, " ".join(secrets), overwrite=True, parameter_type="SecureString",  # type: ignore[call-overload]
            description="Parity webhook signing secret(s), newest first; managed by `parity ops secret`.",
        )


class SigningSecrets:
    """The current signing secrets: ``current()`` is cheap (cached) and never raises for SSM."""

    def __init__(
        self,
        parameter_name: str | None,
        fallback: str | None,
        *,
        ttl_seconds: float,
        client: SSMClient | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.parameter_name = parameter_name
        self._fallback = parse_secrets(fallback)
        self.ttl_seconds = ttl_seconds
        self._client = client
        self._parameter: SigningSecretParameter | None = None
        self._now = now
        self._last: list[str] | None = None
        self._quiet_until = 0.0

    def __repr__(self) -> str:  # the secrets stay out of logs and tracebacks
        return f"SigningSecrets(parameter_name={self.parameter_name!r})"

    @property
    def parameter(self) -> SigningSecretParameter:
        if self._parameter is None:
            self._parameter = SigningSecretParameter(boto3_client=self._client or new_client())
        return self._parameter

    def current(self) -> list[str]:
        """The secrets to sign with (each) and to verify against (any): the parameter's, else the
        deploy-time ones. When SSM fails, the last known ones (or the deploy-time ones) go on
        signing, and SSM is asked again after ``RETRY_AFTER_FAILURE_SECONDS``, not a whole cache period."""
        if not self.parameter_name:
            return list(self._fallback)
        moment = self._now()
        if self._last is not None and moment < self._quiet_until:
            return list(self._last)
        try:
            stored = self.parameter.read(self.parameter_name, max_age=self.ttl_seconds)
        except SecretsUnavailable as exc:
            logger.warning("signing secret parameter unreadable; keeping the previous secrets", extra={"problem": str(exc)})
            self._last = self._last if self._last is not None else list(self._fallback)
            self._quiet_until = moment + min(self.ttl_seconds, RETRY_AFTER_FAILURE_SECONDS)
            return list(self._last)
        self._last = stored.secrets if stored and stored.secrets else list(self._fallback)
        return list(self._last)


@warm
def signing_secrets() -> SigningSecrets:
    """The webhook signing secret(s): the operator-rotated SSM parameter, else the deploy-time value."""
    config = get_settings()
    return SigningSecrets(config.webhook_signing_secret_parameter, config.webhook_signing_secret, ttl_seconds=config.webhook_secret_cache_seconds)
