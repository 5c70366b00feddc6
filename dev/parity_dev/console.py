"""The dev console (local stack only): the conversations, the chat inbox's sidebar and the CRM's
record timeline in a browser, fed by the real API.

    GET /_console                        the page (plain HTML + vanilla JS from ``static/``, no build step)
    GET /_console/<file>                 its scripts and stylesheet
    GET /_local/console/config           {"api_key": the seeded key to start with}
    GET /_local/console/rooms            rooms to look at: those in the caller's previews

The page itself signs in through ``POST /api/v3.1/teams/company_token`` and reads conversations,
messages, previews, records and timelines through the public routes with that token, as the inbox
and CRM front ends would; only the room list (which the API has no route for) comes from here, for
the caller's company only (``Authorization: Bearer <company token>``). The "customer writes" box
posts to ``/_local/simulate`` (``parity_dev.local_channels``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger("parity_dev.console")

STATIC = Path(__file__).with_name("static")
PAGE_PATHS = ("/_console", "/_console/")
ASSETS = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "conversations.js": "text/javascript; charset=utf-8",
    "conversations.css": "text/css; charset=utf-8",
    "feedback.js": "text/javascript; charset=utf-8",
    "feedback.css": "text/css; charset=utf-8",
}
Reply = tuple[int, dict[str, str], bytes]


class Console:
    """Serves the console and its two JSON helpers; mount ``handle`` on the local server."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        crm_table: str,
        preview_table: str,
        dynamodb: Any = None,
    ) -> None:
        """``crm_table`` and ``preview_table`` are the deployed tables' names; ``dynamodb`` a client that reaches them."""
        self._api_key = api_key
        self._crm_table = crm_table
        self._preview_table = preview_table
        self._dynamodb = dynamodb

    def handle(self, method: str, raw_path: str, raw_query: str, headers: Iterable[tuple[str, str]] | Mapping[str, str], body: bytes) -> Reply | None:
        """Answer a console path; None for any other path."""
        if raw_path in PAGE_PATHS or (raw_path.startswith("/_console/") and raw_path[len("/_console/"):] in ASSETS):
            if method not in ("GET", "HEAD"):
                return _json(405, {"error": {"code": "method_not_allowed", "message": "use GET", "details": []}})
            name = "console.html" if raw_path in PAGE_PATHS else raw_path[len("/_console/"):]
            return self._static(name)
        if raw_path == "/_local/console/config" and method == "GET":
            return _json(200, {"api_key": self._api_key})
        if raw_path == "/_local/console/rooms" and method == "GET":
            return self._rooms(headers)
        return None

    def _static(self, name: str) -> Reply:
        content_type = ASSETS.get(name, "text/html; charset=utf-8")
        try:
            payload = (STATIC / name).read_bytes()
        except OSError:
            log.exception("console file %s is missing", name)
            return _json(500, {"error": {"code": "internal_error", "message": f"console file {name} is missing", "details": []}})
        return 200, {"content-type": content_type, "cache-control": "no-store"}, payload

    def _rooms(self, headers: Iterable[tuple[str, str]] | Mapping[str, str]) -> Reply:
        from parity.crm.credentials import bearer_token
        from parity.crm.service import company_for_token
        from parity.crm.store import CrmStore

        pairs = headers.items() if isinstance(headers, Mapping) else headers
        authorization = next((v for k, v in pairs if k.lower() == "authorization"), None)
        token = bearer_token(authorization)
        company = company_for_token(CrmStore(self._crm_table, client=self._dynamodb), token) if token else None
        if company is None:
            return _json(401, {"error": {"code": "unauthorized", "message": "the bearer token is missing, unknown or expired", "details": []}})
        rooms = [{"room_id": room_id, "in_previews": True} for room_id in sorted(self._preview_rooms(company))]
        return _json(200, {"data": rooms})

    def _preview_rooms(self, company_id: str) -> set[str]:
        """Room ids the preview table holds for ``company_id`` (a Scan: fine for a local table only)."""
        from parity.inbox.store import PreviewStore, room_pk

        store = PreviewStore(self._preview_table, client=self._dynamodb)
        kwargs: dict[str, Any] = {
            "TableName": store.table_name,
            "ProjectionExpression": "#d.channel_integration_room_id",
            "FilterExpression": "begins_with(pk, :prefix)",
            "ExpressionAttributeNames": {"#d": "data"},
            "ExpressionAttributeValues": {":prefix": {"S": room_pk(company_id, "")}},
        }
        return {item["data"]["channel_integration_room_id"] for item in store._pages("scan", **kwargs)}


def _json(status: int, payload: Any) -> Reply:
    return status, {"content-type": "application/json", "cache-control": "no-store"}, json.dumps(payload).encode()
