"""What a warm container keeps between invocations: the adapters and clients a function builds on
first use (their connections stay open for the next invocation).

``warm`` makes a factory build its object once per process; ``forget`` drops every one of them,
for a benchmark that measures a cold first use again in one process.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

T = TypeVar("T")
_factories: list = []


def warm(factory: Callable[[], T]) -> Callable[[], T]:
    """``factory``, built once per process; registered so ``forget`` can drop what it built."""
    cached = lru_cache(maxsize=1)(factory)
    _factories.append(cached)
    return cached


def factories() -> list[Callable[[], object]]:
    """Every warm factory registered so far."""
    return list(_factories)


def forget() -> None:
    """Drop what every warm factory built (and the settings read): the next use builds afresh."""
    from parity.core.settings import get_settings

    for factory in _factories:
        factory.cache_clear()
    get_settings.cache_clear()
