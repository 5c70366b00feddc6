"""The per-company parity flag: the rollout switch and the rollback (RFC §4).

A company's own setting wins; without one, ``PARITY_DEFAULT_ENABLED`` decides. A warm container
remembers an answer for ``PARITY_FLAG_CACHE_SECONDS`` (30 s by default, never more than 60 s), so
``parity ops flag off COMPANY`` takes effect within a minute with no redeploy. The timeline note is
gated here too: the router queues nothing for a company whose flag is off.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: The promise of the rollback: whatever the configuration, an answer is trusted at most this long.
from parity.core.settings import MAX_CACHE_SECONDS

FLAG_CACHE_SECONDS = 30.0

_cache: dict[str, tuple[bool, float]] = {}


def parity_enabled(
    company_id: str,
    *,
    lookup: Callable[[str], bool | None],
    default: bool,
    ttl: float = FLAG_CACHE_SECONDS,
    now: Callable[[], float] = time.monotonic,
) -> bool:
    """Whether ``company_id``'s bot/AI records make events; asks ``lookup`` at most every ``ttl`` s."""
    cached = _cache.get(company_id)
    moment = now()
    if cached is not None and cached[1] > moment:
        return cached[0]
    enabled = effective(lookup(company_id), default=default)
    _cache[company_id] = (enabled, moment + min(ttl, MAX_CACHE_SECONDS))
    return enabled


def effective(own: bool | None, *, default: bool) -> bool:
    """The flag that applies: the company's own setting, else (None: it has none) the stack default."""
    return default if own is None else bool(own)


def forget() -> None:
    """Drop every remembered answer (tests, and the local stack after an operator's change)."""
    _cache.clear()
