"""A room's chat history for the timeline note (``parity.timeline.writer``'s ``fetch_history``): a
room Parity hosts is read from the conversation table directly; any other room is fetched from the
hub (``HUB_API_BASE_URL``) as before. A store that cannot be read gives no history (the note is
still written, without its excerpt: RFC ERR-2), never an error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from parity.core.clock import parse_time
from parity.core.errors import ServiceUnavailable
from parity.timeline.excerpt import ChatHistory, ChatMessage

#: As many of the newest messages as the hub's first page holds.
PAGE = 100


class Hub(Protocol):
    def chat_history(self, room_id: str) -> ChatHistory: ...


class ConversationHistory:
    """``table`` is a factory: a function that never meets a Parity room never needs the table."""

    def __init__(self, table: Callable[[], Any], hub: Hub) -> None:
        self._table = table
        self.hub = hub

    @property
    def table(self) -> Any:
        return self._table()

    def history(self, company_id: str, room_id: str) -> ChatHistory:
        if not room_id.startswith("room_") or len(room_id) > 128:
            return self.hub.chat_history(room_id)
        try:
            if self.table.conversation_item(company_id, room_id) is None:
                return self.hub.chat_history(room_id)
            page = self.table.messages(company_id, room_id, limit=PAGE, cursor=None, newest_first=True)
        except ServiceUnavailable as exc:
            return ChatHistory(None, f"the conversation table could not be read ({exc.message})")
        messages = []
        for item in reversed(page.items):
            moment = parse_time(item.get("created_at"))
            if moment is not None:
                messages.append(ChatMessage(str(item["id"]), room_id, str(item.get("sender_type") or "customer"), item.get("sender_name"), item.get("text"), moment))
        return ChatHistory(tuple(messages), attempts=1)
