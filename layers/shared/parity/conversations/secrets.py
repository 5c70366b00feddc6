"""Channel secrets in SSM Parameter Store (SecureString), write-only from the API's side.

    {CHANNEL_SECRETS_PREFIX}/{channel id}/secret         the provider's signing secret
    {CHANNEL_SECRETS_PREFIX}/{channel id}/api_token      what Parity sends with
    {CHANNEL_SECRETS_PREFIX}/{channel id}/verify_token   WhatsApp's handshake token

Reads go through powertools' parameters (decrypted, cached ``max_age`` seconds in a warm
container); a parameter that does not exist reads as None (the webhook then fails closed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from parity.core.errors import ServiceUnavailable
from parity.core.settings import get_settings
from parity.core.warm import warm

CACHE_SECONDS = 60
NAMES = ("secret", "api_token", "verify_token")


def new_client() -> Any:
    """An SSM client: 1 s connect, 2 s read, 2 attempts (``parity.core.aws``)."""
    from parity.core.aws import client

    return client("ssm", read_timeout=2, attempts=2)


class SsmChannelSecrets:
    """``parity.conversations.channels.ChannelSecrets`` over SSM."""

    def __init__(self, prefix: str, *, client: Any = None, max_age: int = CACHE_SECONDS) -> None:
        self.prefix = prefix.rstrip("/")
        self._client = client
        self.max_age = max_age
        self._provider: Any = None

    def __repr__(self) -> str:  # nothing secret in logs and tracebacks
        return f"SsmChannelSecrets(prefix={self.prefix!r})"

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = new_client()
        return self._client

    def name(self, channel_id: str, secret: str) -> str:
        return f"{self.prefix}/{channel_id}/{secret}"

    def put(self, channel_id: str, values: Mapping[str, str]) -> None:
        try:
            for secret, value in values.items():
                self.client.put_parameter(Name=self.name(channel_id, secret), Value=value, Type="SecureString", Overwrite=True)
        except (ClientError, BotoCoreError) as exc:
            raise ServiceUnavailable("the secret store did not take the channel's secrets; retry") from exc

    def get(self, channel_id: str, name: str) -> str | None:
        from aws_lambda_powertools.utilities.parameters import SSMProvider
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        if self._provider is None:
            self._provider = SSMProvider(boto3_client=self.client)
        try:
            value = self._provider.get(self.name(channel_id, name), decrypt=True, max_age=self.max_age)
        except GetParameterError as exc:
            if "ParameterNotFound" in repr(exc.__cause__) or "ParameterNotFound" in str(exc):
                return None
            raise ServiceUnavailable("the secret store did not answer; retry") from exc
        return value if isinstance(value, str) and value else None

    def delete(self, channel_id: str) -> None:
        try:
            self.client.delete_parameters(Names=[self.name(channel_id, n) for n in NAMES])
        except (ClientError, BotoCoreError):
            pass  # the channel is gone already; an orphan parameter holds a secret nobody reads


@warm
def channel_secrets() -> SsmChannelSecrets:
    return SsmChannelSecrets(get_settings().require("channel_secrets_prefix"))
