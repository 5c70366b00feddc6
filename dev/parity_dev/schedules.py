"""The template's schedules, run on the local stack (dev only, never deployed).

On AWS an EventBridge rule (SAM ``Schedule``) or an EventBridge Scheduler schedule (SAM
``ScheduleV2``) invokes a function on a clock; moto keeps the rule and runs nothing. ``Scheduler``
runs them here: a thread that invokes each schedule's function through the runtime at the times
its expression names, with the event the service would send, and a mount for developers, tests
and the demo:

    GET  /_local/schedules                           every schedule: function, expression, next run, last runs
    POST /_local/schedules/{FunctionLogicalId}/run   run that function's schedule(s) now; answers the runs

Expressions, as AWS reads them: ``rate(N minute|minutes|hour|hours|day|days)``;
``cron(minutes hours day-of-month month day-of-week year)`` with ``*``, ``?``, ``,``, ``-``, ``/`` and
month and day names (day-of-week 1-7 is SUN-SAT; ``L``, ``W`` and ``#`` are refused as not emulated);
``at(yyyy-mm-ddThh:mm:ss)`` (Scheduler's one-time schedules). Rules run in UTC; Scheduler
schedules in their ``ScheduleExpressionTimezone``. A rate schedule first runs one period after the
stack starts, as a new rule does.

The event is the target's ``Input`` when the template sets one; otherwise a rule sends its
"Scheduled Event" (``source`` ``aws.events``, ``detail`` ``{}``) and Scheduler its default
notification (``source`` ``aws.scheduler``, ``detail`` ``"{}"``). Invocations are asynchronous on
AWS: here each run is invoked in a thread of its own, so a slow function never delays another
schedule. A run that fails is logged and kept in the schedule's last runs; Lambda's two retries of
a failed asynchronous invocation are not emulated (the next run comes at the next time).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from parity_dev.aws import ACCOUNT_ID, REGION
from parity_dev.lambda_process import FunctionError

if TYPE_CHECKING:  # pragma: no cover
    from parity_dev.declared import ScheduleSource
    from parity_dev.lambdas import LambdaRuntime

log = logging.getLogger("parity_dev.schedules")

PREFIX = "/_local/schedules"
_RUN_PATH = re.compile(r"^/_local/schedules/([A-Za-z0-9]+)/run$")
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_MONTHS = {name: number for number, name in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)}
_DAYS = {name: number for number, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}
#: How far ahead a cron expression is searched for its next time (its year field may name none).
_CRON_HORIZON_DAYS = 366 * 5
#: Runs kept per schedule for ``GET /_local/schedules``.
KEPT_RUNS = 10

Reply = tuple[int, dict[str, str], bytes]


# ---- expressions -----------------------------------------------------------------------------------
class Expression:
    """A schedule expression: ``next_after(moment)`` is the first time it names after ``moment``
    (None: never again). ``moment`` and the answer are aware datetimes."""

    def __init__(self, text: str, timezone_name: str = "UTC") -> None:
        self.text = text
        self.zone = ZoneInfo(timezone_name)
        self.period: timedelta | None = None
        self.at: datetime | None = None
        self.fields: list[set[int] | None] | None = None
        if found := _RATE.match(text):
            amount, unit = int(found.group(1)), found.group(2)
            if amount < 1:
                raise ValueError(f"{text}: a rate must be at least 1")
            self.period = timedelta(**{unit.rstrip("s") + "s": amount})
        elif found := _AT.match(text):
            self.at = datetime.fromisoformat(found.group(1)).replace(tzinfo=self.zone)
        elif found := _CRON.match(text):
            self.fields = _cron_fields(text, found.group(1))
        else:
            raise ValueError(f"{text!r} is not a schedule expression (rate(…), cron(…) or at(…))")

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def first_after(self, started: datetime) -> datetime | None:
        """The first run of a schedule that exists from ``started``: a rate runs one period later."""
        return started + self.period if self.period is not None else self.next_after(started)

    def next_after(self, moment: datetime) -> datetime | None:
        if self.period is not None:
            return moment + self.period
        if self.at is not None:
            return self.at if self.at > moment else None
        return self._next_cron(moment)

    def _next_cron(self, moment: datetime) -> datetime | None:
        minutes, hours, days, months, weekdays, years = self.fields  # type: ignore[misc]
        local = moment.astimezone(self.zone)
        day = local.date()
        for _ in range(_CRON_HORIZON_DAYS):
            if _day_matches(day, days, months, weekdays, years):
                for hour in sorted(hours if hours is not None else range(24)):
                    for minute in sorted(minutes if minutes is not None else range(60)):
                        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.zone)
                        if candidate > moment:
                            return candidate.astimezone(timezone.utc)
            day += timedelta(days=1)
        return None


def _day_matches(day: date, days: set[int] | None, months: set[int] | None, weekdays: set[int] | None, years: set[int] | None) -> bool:
    sunday_first = day.isoweekday() % 7 + 1  # AWS: 1 = SUN … 7 = SAT
    return (
        (months is None or day.month in months)
        and (years is None or day.year in years)
        and (days is None or day.day in days)
        and (weekdays is None or sunday_first in weekdays)
    )


def _cron_fields(text: str, body: str) -> list[set[int] | None]:
    parts = body.split()
    if len(parts) != 6:
        raise ValueError(f"{text}: a cron expression has six fields (minutes hours day-of-month month day-of-week year)")
    if "?" not in (parts[2], parts[4]):
        raise ValueError(f"{text}: one of day-of-month and day-of-week must be '?'")
    ranges = [(0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, _MONTHS), (1, 7, _DAYS), (1970, 2199, {})]
    return [_cron_field(text, part, low, high, names) for part, (low, high, names) in zip(parts, ranges, strict=True)]


def _cron_field(text: str, part: str, low: int, high: int, names: Mapping[str, int]) -> set[int] | None:
    """The values one field allows; None for any value (``*`` or ``?``)."""
    if part in ("*", "?"):
        return None
    bare = part.upper()
    for name in names:  # JUL and WED are names, not the L and W wildcards
        bare = bare.replace(name, "")
    if any(mark in bare for mark in ("L", "W", "#")):
        raise NotImplementedError(f"{text}: the cron wildcards L, W and # are not emulated")

    def value(token: str) -> int:
        number = names.get(token.upper()) if not token.isdigit() else int(token)
        if number is None or not low <= number <= high:
            raise ValueError(f"{text}: {token!r} is not in {low}-{high}")
        return number

    allowed: set[int] = set()
    for item in part.split(","):
        span, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if step_text and (not step_text.isdigit() or step < 1):
            raise ValueError(f"{text}: bad step in {item!r}")
        if span == "*":
            start, end = low, high
        elif "-" in span:
            first, _, last = span.partition("-")
            start, end = value(first), value(last)
        else:
            start = value(span)
            end = high if step_text else start
        allowed.update(range(start, end + 1, step))
    return allowed


# ---- the scheduler ----------------------------------------------------------------------------------
@dataclass
class _Entry:
    source: ScheduleSource
    expression: Expression
    next_at: datetime | None
    runs: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=KEPT_RUNS))


def scheduled_event(source: ScheduleSource, at: datetime) -> Any:
    """What the schedule's target receives for the run at ``at`` (module docstring)."""
    if source.input is not None:
        return json.loads(source.input)
    stamp = at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT_ID, "time": stamp, "region": REGION, "resources": [source.arn], "detail": {},
    }
    if source.kind == "scheduler":
        event.update(source="aws.scheduler", detail="{}")
    return event


class Scheduler:
    """Runs the schedules of a deployed stack's template (module docstring). ``start()`` runs them
    on the clock in a thread; ``tick(now)`` runs what is due at ``now`` in the caller's thread (tests);
    ``run_now(function)`` runs a function's schedules at once. ``clock`` gives aware UTC datetimes;
    the thread reads it at least every ``resolution`` seconds, so a wall clock that jumps (or a test's
    fast one) is followed within that."""

    def __init__(
        self,
        schedules: Iterable[ScheduleSource],
        runtime: LambdaRuntime,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        resolution: float = 1.0,
    ) -> None:
        self.runtime = runtime
        self.clock = clock
        self.resolution = resolution
        started = clock()
        self._entries = []
        for source in schedules:
            expression = Expression(source.expression, source.timezone)  # refused at start, never later
            self._entries.append(_Entry(source, expression, expression.first_after(started) if source.enabled else None))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._runs: list[threading.Thread] = []

    @property
    def functions(self) -> list[str]:
        return sorted({entry.source.function for entry in self._entries})

    # ---- running ----
    def start(self) -> Scheduler:
        """Run the schedules on the clock, in a daemon thread, until ``stop()``."""
        if self._entries and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            for entry, at in self._take_due(self.clock()):
                thread = threading.Thread(target=self._run, args=(entry, at), name=f"schedule-{entry.source.logical_id}", daemon=True)
                thread.start()
                with self._lock:
                    self._runs = [t for t in self._runs if t.is_alive()] + [thread]
            upcoming = [e.next_at for e in self._entries if e.next_at is not None]
            wait = (min(upcoming) - self.clock()).total_seconds() if upcoming else self.resolution
            self._stop.wait(min(max(wait, 0.01), self.resolution))

    def _take_due(self, now: datetime) -> list[tuple[_Entry, datetime]]:
        """The runs due at ``now``, each schedule's next time moved on past ``now`` (a run missed
        while the machine slept is run once, not once per missed time)."""
        due = []
        with self._lock:
            for entry in self._entries:
                if entry.next_at is not None and entry.next_at <= now:
                    due.append((entry, entry.next_at))
                    following = entry.expression.next_after(entry.next_at)
                    while following is not None and following <= now:
                        following = entry.expression.next_after(following)
                    entry.next_at = following
        return due

    def tick(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Run, in this thread, every schedule due at ``now`` (default: the clock); the runs."""
        return [self._run(entry, at) for entry, at in self._take_due(now or self.clock())]

    def run_now(self, function: str) -> list[dict[str, Any]]:
        """Run each of ``function``'s schedules once, now (whatever its clock says); KeyError when
        the function has none."""
        entries = [e for e in self._entries if e.source.function == function]
        if not entries:
            raise KeyError(function)
        return [self._run(entry, self.clock(), manual=True) for entry in entries]

    def _run(self, entry: _Entry, at: datetime, *, manual: bool = False) -> dict[str, Any]:
        source = entry.source
        run: dict[str, Any] = {"schedule": source.logical_id, "function": source.function, "at": _iso(at), "manual": manual}
        started = time.monotonic()
        try:
            run["result"] = self.runtime.invoke(source.function, scheduled_event(source, at))
            run["status"] = "ok"
        except FunctionError as error:
            run.update(status="error", error=str(error))
            log.error("schedule %s: %s failed: %s", source.logical_id, source.function, error)
        except Exception as error:  # the runtime is stopping, or broken: never kill the scheduler
            run.update(status="error", error=f"{type(error).__name__}: {error}")
            log.exception("schedule %s: could not invoke %s", source.logical_id, source.function)
        run["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
        with self._lock:
            entry.runs.append(run)
        log.info("schedule %s ran %s at %s: %s (%.0f ms)", source.logical_id, source.function, run["at"], run["status"], run["duration_ms"])
        return run

    def stop(self) -> None:
        """No new runs; wait briefly for the ones in progress (the runtime ends them when it stops)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            running = list(self._runs)
        for thread in running:
            thread.join(timeout=1)

    # ---- the mount ----
    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "schedule": e.source.logical_id, "function": e.source.function, "expression": e.source.expression,
                    "kind": e.source.kind, "enabled": e.source.enabled, "timezone": e.source.timezone,
                    "next_run_at": _iso(e.next_at) if e.next_at else None, "last_runs": list(e.runs),
                }
                for e in self._entries
            ]

    def handle(self, method: str, raw_path: str, raw_query: str, headers: Any, body: bytes) -> Reply | None:
        if raw_path in (PREFIX, PREFIX + "/"):
            return _json(200, {"data": self.describe()}) if method == "GET" else _json(405, {"message": "Method Not Allowed"})
        found = _RUN_PATH.match(raw_path)
        if found is None:
            return _json(404, {"error": {"code": "not_found", "message": "no such route", "details": []}}) if raw_path.startswith(PREFIX + "/") else None
        if method != "POST":
            return _json(405, {"message": "Method Not Allowed"})
        try:
            runs = self.run_now(found.group(1))
        except KeyError:
            known = ", ".join(self.functions) or "none"
            return _json(404, {"error": {"code": "not_found", "message": f"{found.group(1)} has no schedule (functions with one: {known})", "details": []}})
        return _json(200 if all(r["status"] == "ok" for r in runs) else 502, {"data": runs})


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json(status: int, payload: Any) -> Reply:
    return status, {"content-type": "application/json", "cache-control": "no-store"}, json.dumps(payload, default=str).encode()
