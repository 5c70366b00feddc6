"""The one way the service builds an AWS client: explicit timeouts, a bounded retry, keep-alive.

Client-side parameter validation is off. Every request the adapters send is assembled by our own
code from values pydantic has already validated at the edge, so botocore's walk over the request
against the service model only re-checks our code (a bug there still fails, as the service's
``ValidationException``). That walk was ~18 % of the handler CPU of a create, the largest single
item above a bare handler (issue #7 figure 3; docs/performance.md).
"""

from __future__ import annotations

from typing import Any


def client(service: str, *, read_timeout: float, attempts: int, connect_timeout: float = 1) -> Any:
    """A boto3 client for ``service``: ``attempts`` in all (standard retry mode), timeouts in seconds."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": attempts},
        tcp_keepalive=True,
        parameter_validation=False,
    )
    return boto3.client(service, config=config)
