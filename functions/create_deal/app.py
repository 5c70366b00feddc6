"""POST /api/v3.1/deals: a producer (chatbot, AI agent or person) creates a deal
(``parity.crm.create_route``: the route and the body it shares with the other create function)."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from parity.core.observability import instrumented
from parity.crm import create_route

app = create_route.router("deal")


@instrumented(http=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event)
