"""The one Logger, Metrics and (optional) Tracer of the service: import them from here, never build another.

**Correlation id.** One id follows a record's change through every hop: the create or PATCH request
(the producer's ``X-Correlation-Id`` header when it sends a sane one, else API Gateway's request id)
→ stored on the record item (``correlation_id``, never in the API shape) → the stream image the
router reads → the ``correlation_id`` attribute of the queued message → the sender's log and its
``X-Correlation-Id`` header → the receiver's log; and from the router → the timeline-note queue →
the note function's log. Every log line also names the company, room and record it is about.

**Never logged:** API keys, bearer tokens, signing secrets, the hub token, chat message texts, record
bodies. Log the ids and outcomes; the tests scan captured logs for the secrets and texts they used.

**Metrics** are EMF log lines (namespace ``Parity``, one dimension ``service``): no API call, no
extra latency, and dimension-light so each name is one custom metric. The stop-condition alarms in
template.yaml read them (README "Operating").

**Tracer** is off unless ``POWERTOOLS_TRACE_DISABLED`` is ``false``: building one imports the X-Ray
SDK (~240 ms of cold start, measured) and active tracing needs an IAM grant on ``*``; with it off,
nothing of X-Ray is imported.
"""

from __future__ import annotations

import functools
import os
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "parity"
NAMESPACE = "Parity"

logger = Logger(service=SERVICE)
# The source location (``"location":"record_handler:58"``) is a developer's aid, and each line's
# message already names what happened; log volume is a line of the cost budget (docs/performance.md).
logger.remove_keys(["location"])
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)
#: The keys every line carries (level, message, timestamp, service …); an invocation's own go on top.
_BASE_KEYS = frozenset(logger.get_current_keys())

# ---- metric names (RFC §4 "post-deploy signals"; the alarms use exactly these) --------------------
BOT_DEAL_CREATED = "bot_deal_created"
AI_DEAL_CREATED = "ai_deal_created"
BOT_TICKET_CREATED = "bot_ticket_created"
AI_TICKET_CREATED = "ai_ticket_created"
DEAL_PREVIEW_DISPLAYED = "deal_preview_displayed"
TICKET_PREVIEW_DISPLAYED = "ticket_preview_displayed"
WEBHOOK_DELIVERED = "webhook_delivered"
#: Milliseconds from the event's ``occurred_at`` to the receiver's 2xx (queueing and retries included).
WEBHOOK_DELIVERY_LATENCY = "webhook_delivery_latency"
WEBHOOK_DELIVERY_FAILED = "webhook_delivery_failed"
TIMELINE_LOG_CREATED = "timeline_log_created"
TIMELINE_LOG_CREATION_FAILED = "timeline_log_creation_failed"
TIMELINE_PREVIEW_UNAVAILABLE = "timeline_preview_unavailable"

_CREATOR_PREFIX = {"bot": "bot", "agentic_ai": "ai"}
PREVIEW_DISPLAYED = {"deal": DEAL_PREVIEW_DISPLAYED, "ticket": TICKET_PREVIEW_DISPLAYED}


def created_metric(creator_flag: Any, record_type: Any) -> str | None:
    """``bot_deal_created`` … ``ai_ticket_created`` for a bot/AI record; None for anything else."""
    prefix = _CREATOR_PREFIX.get(creator_flag) if isinstance(creator_flag, str) else None
    return f"{prefix}_{record_type}_created" if prefix and record_type in PREVIEW_DISPLAYED else None


def count(name: str, value: float = 1) -> None:
    """Add ``value`` to a counter metric (flushed when the invocation ends)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def milliseconds(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=max(0.0, float(value)))


def flush_metrics() -> None:
    """Print the invocation's metrics as one EMF line; nothing (and no warning) when there are none."""
    if metrics.metric_set:
        metrics.flush_metrics()


# ---- correlation id and log keys ------------------------------------------------------------------
CORRELATION_HEADER = "x-correlation-id"
#: The SQS message attribute (and record item attribute) that carries the id between hops.
CORRELATION_ATTRIBUTE = "correlation_id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


def clean_correlation_id(value: Any) -> str | None:
    """A caller-supplied id we are willing to log and forward (short, no spaces or control characters)."""
    return value if isinstance(value, str) and _SANE_ID.match(value) else None


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def http_correlation_id(event: Mapping[str, Any]) -> str:
    """The producer's ``X-Correlation-Id`` when sane, else API Gateway's request id."""
    headers = event.get("headers") or {}
    given = clean_correlation_id(headers.get(CORRELATION_HEADER) or headers.get("X-Correlation-Id"))
    return given or str((event.get("requestContext") or {}).get("requestId") or new_correlation_id())


def sqs_correlation_id(message: Mapping[str, Any]) -> str | None:
    """The correlation id a queued message carries (its ``correlation_id`` attribute), if sane."""
    attribute = (message.get("messageAttributes") or {}).get(CORRELATION_ATTRIBUTE) or {}
    return clean_correlation_id(attribute.get("stringValue"))


def bind(**keys: Any) -> None:
    """Add keys to every following log line of this invocation; None removes one."""
    present = {k: v for k, v in keys.items() if v is not None}
    absent = [k for k, v in keys.items() if v is None]
    if present:
        logger.append_keys(**present)
    if absent:
        logger.remove_keys(absent)


@contextmanager
def bound(**keys: Any) -> Iterator[None]:
    """``bind`` for a block, e.g. one record of a batch: the keys are gone afterwards."""
    bind(**keys)
    try:
        yield
    finally:
        logger.remove_keys(list(keys))


def correlation_id() -> str | None:
    """The correlation id of the work this invocation is doing, if one is bound."""
    value = logger.get_current_keys().get("correlation_id")
    return str(value) if value else None


def _forget_keys() -> None:
    """Drop every key an invocation bound (powertools' ``clear_state`` would also bring back ``location``)."""
    logger.remove_keys([key for key in list(logger.get_current_keys()) if key not in _BASE_KEYS])


# ---- the handler decorator --------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def tracer() -> Any:
    """The X-Ray tracer when tracing is switched on (``POWERTOOLS_TRACE_DISABLED=false``), else None."""
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").strip().lower() not in ("false", "0", "no"):
        return None
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


_cold_start = True


def instrumented(handler: Callable[..., Any] | None = None, *, http: bool = False) -> Any:
    """Every function's entry point: fresh log state per invocation (no keys leak from the previous
    one), the correlation id bound for HTTP requests and named in their answer (``X-Correlation-Id``),
    metrics flushed at the end, traced when on.

    Each line names the function and the Lambda request id, and the lines of a container's first
    invocation say ``cold_start``. Not powertools' ``inject_lambda_context``: it adds the function's
    ARN and memory size to every line (≈ 120 B that the log group and the REPORT line already say;
    log volume is a line of the cost budget, docs/performance.md) and builds a context model per call.

    Batch handlers bind the correlation id per record (``bound``), from the message it arrived with.
    """
    if handler is None:
        return functools.partial(instrumented, http=http)

    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        global _cold_start
        cold, _cold_start = _cold_start, False
        _forget_keys()  # nothing leaks from the container's previous invocation, even one that crashed
        bind(
            function_name=getattr(context, "function_name", None),
            function_request_id=getattr(context, "aws_request_id", None),
            cold_start=True if cold else None,
        )
        if http and isinstance(event, Mapping):
            bind(correlation_id=http_correlation_id(event))
        try:
            result = handler(event, context)
            if http and isinstance(result, dict) and "statusCode" in result:
                # Every answer names the id, so a producer can quote it and an operator can follow it.
                current = correlation_id()
                if current:
                    result["headers"] = {**(result.get("headers") or {}), "X-Correlation-Id": current}
            return result
        finally:
            flush_metrics()
            _forget_keys()

    active = tracer()
    wrapped = active.capture_lambda_handler(run) if active is not None else run
    # The handler is defined last in its module: the cold start's imports are done (parity.core.coldstart).
    from parity.core.coldstart import resume

    resume()
    return wrapped


__all__ = [
    "logger",
    "metrics",
    "correlation_paths",
    "count",
    "milliseconds",
    "flush_metrics",
    "bind",
    "bound",
    "correlation_id",
    "instrumented",
    "created_metric",
]
