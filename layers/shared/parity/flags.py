"""The per-company parity flag: the rollout switch and the rollback (RFC §4).

A company's own setting wins; without one, ``PARITY_DEFAULT_ENABLED`` decides. A warm container
remembers an answer for at most ``FLAG_CACHE_SECONDS``, so flipping the flag takes effect within a
minute with no redeploy.
"""

from __future__ import annotations

import time
from collections.abc import Callable

FLAG_CACHE_SECONDS = 30.0

_cache: dict[str, tuple[bool, float]] = {}


def parity_enabled(company_id: str, *, lookup: Callable[[str], bool | None], default: bool, now: Callable[[], float] = time.monotonic) -> bool:
    cached = _cache.get(company_id)
    moment = now()
    if cached is not None and cached[1] > moment:
        return cached[0]
    own = lookup(company_id)
    enabled = default if own is None else own
    _cache[company_id] = (enabled, moment + FLAG_CACHE_SECONDS)
    return enabled


def forget() -> None:
    """Drop every remembered answer (tests, and the local stack after an operator's change)."""
    _cache.clear()
