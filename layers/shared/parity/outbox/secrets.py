"""The webhook signing secret(s), rotatable without a redeploy.

They live in an SSM parameter (a SecureString on AWS; ``parity ops secret rotate`` writes it) that the
sender and the receiver read with a short cache, so a rotation reaches every warm container within
``WEBHOOK_SECRET_CACHE_SECONDS``. Until the parameter exists (a fresh deploy, the local stack before
its first rotation) the deploy-time ``WEBHOOK_SIGNING_SECRET`` is used. The value has the variable's
form: one ``whsec_…`` secret, or several separated by spaces while a rotation overlaps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

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
        self._now = now
        self._lock = threading.Lock()
        self._secrets: list[str] | None = None
        self._until = 0.0

    def __repr__(self) -> str:  # the secrets stay out of logs and tracebacks
        return f"SigningSecrets(parameter_name={self.parameter_name!r})"

    @property
    def client(self) -> SSMClient:
        if self._client is None:
            self._client = new_client()
        return self._client

    def current(self) -> list[str]:
        """The secrets to sign with (each) and to verify against (any)."""
        if not self.parameter_name:
            return list(self._fallback)
        with self._lock:
            moment = self._now()
            if self._secrets is not None and moment < self._until:
                return list(self._secrets)
            try:
                stored = self._read()
            except (ClientError, BotoCoreError) as exc:
                # Keep what we had (or the deploy-time value): an SSM hiccup must not stop deliveries.
                logger.warning("signing secret parameter unreadable; keeping the previous secrets", extra={"problem": type(exc).__name__})
                self._secrets = self._secrets if self._secrets is not None else list(self._fallback)
                self._until = moment + min(self.ttl_seconds, RETRY_AFTER_FAILURE_SECONDS)
                return list(self._secrets)
            self._secrets = stored if stored else list(self._fallback)
            self._until = moment + self.ttl_seconds
            return list(self._secrets)

    def _read(self) -> list[str] | None:
        """The parameter's secrets, or None when it does not exist (yet)."""
        try:
            response = self.client.get_parameter(Name=self.parameter_name, WithDecryption=True)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
                return None
            raise
        return parse_secrets(response["Parameter"].get("Value")) or None


@warm
def signing_secrets() -> SigningSecrets:
    """The webhook signing secret(s): the operator-rotated SSM parameter, else the deploy-time value."""
    config = get_settings()
    return SigningSecrets(config.webhook_signing_secret_parameter, config.webhook_signing_secret, ttl_seconds=config.webhook_secret_cache_seconds)
