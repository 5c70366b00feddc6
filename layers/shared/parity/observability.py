"""The one Logger of the service: import it, never build another.

Secrets (API keys, tokens) and message texts are never passed to it.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths

logger = Logger(service="parity")

__all__ = ["logger", "correlation_paths"]
