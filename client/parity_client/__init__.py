"""A typed producer client of the Parity API (chatbot flows, AI agents).

    from parity_client import ParityClient

    with ParityClient("http://127.0.0.1:3000", "demo-key") as parity:
        created = parity.create_deal("Budi - 2 units", room_id="room-123", creator_flag="bot")
        print(created.record.id, created.record.creator_label)

Token exchange and refresh, idempotent retries and typed errors are described in ``client.py``.
"""

from parity_client.client import ParityClient
from parity_client.errors import (
    ApiError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    ParityClientError,
    ServiceUnavailableError,
    TransportError,
    ValidationError,
)
from parity_client.models import ApiWarning, ChatMessage, Contact, Created, Deal, RoomPreview, Ticket, TimelineNote, Token

__all__ = [
    "ApiError",
    "ApiWarning",
    "AuthenticationError",
    "ChatMessage",
    "ConflictError",
    "Contact",
    "Created",
    "Deal",
    "NotFoundError",
    "ParityClient",
    "ParityClientError",
    "RoomPreview",
    "ServiceUnavailableError",
    "Ticket",
    "TimelineNote",
    "Token",
    "TransportError",
    "ValidationError",
]
