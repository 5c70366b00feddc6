"""A function's cold start without the cyclic garbage collector.

Importing a function's module builds a few hundred thousand objects that live as long as the
container (boto3 and botocore's service models, powertools, pydantic on first use, our modules).
While they are built the cyclic collector keeps interrupting to scan a heap that is nearly all
live: 15-60 ms of a function's cold start, measured (docs/performance.md).

Importing this module first, before anything heavy, pauses the collector.
``parity.core.observability.instrumented``, which wraps each handler at the end of its module, then
calls ``resume()`` (the authorizer, which has no such wrapper, calls it as its last statement): what the import built moves to the permanent generation (``gc.freeze``), so no
later collection rescans it, and collection resumes for the invocations. Reference counting frees
everything without cycles all along; only cyclic garbage waits for ``resume()``.

The pause happens once per process (module bodies run once): the cold start of the one function
the container runs.
"""

from __future__ import annotations

import gc

gc.disable()


def resume() -> None:
    """Keep everything built so far out of later collections, and collect again."""
    gc.freeze()
    gc.enable()
