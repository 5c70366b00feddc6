"""Races for the tests: calls released at the same moment, each in its own thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def at_once(calls: Sequence[Callable[[], T]], *, timeout: float = 60.0) -> list[T]:
    """Run ``calls`` in threads that all wait at one barrier, then go together; their answers in the
    calls' order. The first exception a call raised is raised here, after every thread ended."""
    start = threading.Barrier(len(calls), timeout=timeout)
    answers: list[T | None] = [None] * len(calls)
    raised: list[BaseException] = []

    def run(index: int, call: Callable[[], T]) -> None:
        start.wait()
        try:
            answers[index] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test below
            raised.append(exc)

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if raised:
        raise raised[0]
    return answers  # type: ignore[return-value]
