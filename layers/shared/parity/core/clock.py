"""Time and ids: the one time format of every contract, and injectable time and id generation so
domain code stays deterministic under test."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


def iso_ms(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds, the one time format of every contract."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 timestamp as an aware UTC datetime (no offset means UTC), else None."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def new_id(now: datetime) -> str:
    """Time-ordered, random-suffixed id: 12 hex digits of epoch ms + 12 random hex digits."""
    return f"{int(now.timestamp() * 1000):012x}{secrets.token_hex(6)}"


@dataclass
class Clock:
    """Injectable time and ids, so the domain stays deterministic under test."""

    now: Callable[[], datetime] = field(default=utc_now)
    make_id: Callable[[datetime], str] = new_id


def parse_delays(value: str | None, *, default: tuple[int, ...], name: str) -> tuple[int, ...]:
    """A retry schedule from configuration: seconds separated by commas or spaces (``"1,4,15"``);
    ``default`` when unset. ``ValueError`` naming the variable for anything else."""
    if not value:
        return default
    try:
        delays = tuple(int(part) for part in value.replace(",", " ").split())
    except ValueError:
        delays = ()
    if not delays or any(d < 0 for d in delays):
        raise ValueError(f"{name} must be non-negative seconds")
    return delays
