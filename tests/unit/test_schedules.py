"""The local stack's schedules (``parity_dev.schedules``): expressions read as AWS reads them, the
event each service sends, the scheduler's clock, its thread and its mount. A fake runtime records
the invocations; the real functions meet it in tests/functional/test_local_dev.py."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from parity_dev.declared import ScheduleSource, parse_schedules
from parity_dev.schedules import Expression, Scheduler, scheduled_event

T0 = datetime(2026, 11, 28, 10, 15, 30, tzinfo=timezone.utc)  # a Saturday


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def source(expression: str = "rate(1 minute)", **kwargs) -> ScheduleSource:
    fields = {"logical_id": "WakerEveryMinute", "function": "WakerFunction", "expression": expression, "kind": "events",
              "arn": "arn:aws:events:us-east-1:123456789012:rule/parity-WakerEveryMinute-X"}
    return ScheduleSource(**{**fields, **kwargs})


class FakeRuntime:
    def __init__(self, fail: bool = False) -> None:
        self.invocations: list[tuple[str, dict]] = []
        self.fail = fail
        self.lock = threading.Lock()

    def invoke(self, function: str, event: dict) -> dict:
        from parity_dev.lambda_process import FunctionError

        with self.lock:
            self.invocations.append((function, event))
        if self.fail:
            raise FunctionError("Unhandled: RuntimeError: boom")
        return {"woken": 0}


# ---- expressions -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("expression", "period"), [
    ("rate(1 minute)", timedelta(minutes=1)), ("rate(5 minutes)", timedelta(minutes=5)),
    ("rate(1 hour)", timedelta(hours=1)), ("rate(2 days)", timedelta(days=2)),
])
def test_a_rate_first_runs_one_period_after_the_start_then_every_period(expression, period):
    rate = Expression(expression)
    assert rate.first_after(T0) == T0 + period
    assert rate.next_after(T0 + period) == T0 + 2 * period


@pytest.mark.parametrize(("expression", "after", "expected"), [
    ("cron(0 * * * ? *)", T0, at(2026, 11, 28, 11, 0)),                      # every hour on the hour
    ("cron(0/15 * * * ? *)", T0, at(2026, 11, 28, 10, 30)),                  # every quarter hour
    ("cron(15 10 ? * MON-FRI *)", T0, at(2026, 11, 30, 10, 15)),             # weekdays: Saturday waits for Monday
    ("cron(0 8 1 * ? *)", T0, at(2026, 12, 1, 8, 0)),                        # the first of the month
    ("cron(0 12 ? JUL WED 2027)", T0, at(2027, 7, 7, 12, 0)),                # names that hold an L and a W
    ("cron(30 10 * * ? *)", at(2026, 11, 28, 10, 30), at(2026, 11, 29, 10, 30)),  # strictly after
    ("cron(0 0 29 2 ? 2027-2029)", T0, at(2028, 2, 29, 0, 0)),               # a leap day, years ahead
    ("cron(5,35 1-2 * * ? *)", T0, at(2026, 11, 29, 1, 5)),
])
def test_cron_names_its_next_time_as_aws_reads_it(expression, after, expected):
    assert Expression(expression).next_after(after) == expected


def test_a_scheduler_schedule_runs_in_its_time_zone():
    # 09:00 in Jakarta (UTC+7) is 02:00 UTC
    assert Expression("cron(0 9 * * ? *)", "Asia/Jakarta").next_after(T0) == at(2026, 11, 29, 2, 0)


def test_a_one_time_schedule_runs_once():
    once = Expression("at(2026-12-01T09:30:00)")
    assert once.first_after(T0) == at(2026, 12, 1, 9, 30)
    assert once.next_after(at(2026, 12, 1, 9, 30)) is None


@pytest.mark.parametrize("expression", ["cron(0 0 L * ? *)", "cron(0 9 ? * 2#1 *)", "cron(0 9 15W * ? *)", "cron(0 9 ? * 6L *)"])
def test_the_cron_wildcards_it_cannot_emulate_are_refused(expression):
    with pytest.raises(NotImplementedError):
        Expression(expression)


@pytest.mark.parametrize("expression", [
    "every minute", "rate(0 minutes)", "rate(1 week)", "cron(0 * * * *)", "cron(0 9 1 * MON *)",
    "cron(61 * * * ? *)", "cron(0 * * FOO ? *)", "cron(*/0 * * * ? *)",
])
def test_a_malformed_expression_is_refused(expression):
    with pytest.raises(ValueError):
        Expression(expression)


# ---- the event -----------------------------------------------------------------------------------------
def test_a_rule_sends_its_scheduled_event_and_scheduler_its_default_notification():
    rule = scheduled_event(source(), at(2026, 11, 28, 10, 16, 0, 123000))
    assert {k: rule[k] for k in ("version", "detail-type", "source", "account", "time", "region", "resources", "detail")} == {
        "version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
        "time": "2026-11-28T10:16:00Z", "region": "us-east-1", "resources": [source().arn], "detail": {},
    }
    scheduled = scheduled_event(source(kind="scheduler", arn="arn:aws:scheduler:us-east-1:123456789012:schedule/default/Expiry"), T0)
    assert (scheduled["source"], scheduled["detail"], scheduled["resources"]) == ("aws.scheduler", "{}", ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/Expiry"])


def test_a_targets_input_is_sent_as_is():
    assert scheduled_event(source(input='{"job": "expiry", "limit": 50}'), T0) == {"job": "expiry", "limit": 50}


# ---- reading the template --------------------------------------------------------------------------------
def _template(**resources) -> dict:
    return {"Resources": {"WakerFunction": {"Type": "AWS::Lambda::Function", "Properties": {}}, "Queue": {"Type": "AWS::SQS::Queue"}, **resources}}


def test_rules_and_scheduler_schedules_of_the_translated_template_are_read():
    template = _template(
        WakerEveryMinute={"Type": "AWS::Events::Rule", "Properties": {"ScheduleExpression": "rate(1 minute)", "Targets": [
            {"Arn": {"Fn::GetAtt": ["WakerFunction", "Arn"]}, "Id": "t", "Input": '{"a": 1}'}]}},
        Paused={"Type": "AWS::Events::Rule", "Properties": {"ScheduleExpression": "rate(5 minutes)", "State": "DISABLED", "Targets": [{"Arn": {"Fn::GetAtt": ["WakerFunction", "Arn"]}, "Id": "t"}]}},
        OnTheBus={"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"source": ["parity.conversations"]}, "Targets": [{"Arn": {"Fn::GetAtt": ["Queue", "Arn"]}, "Id": "q"}]}},
        Expiry={"Type": "AWS::Scheduler::Schedule", "Properties": {"ScheduleExpression": "cron(0 * * * ? *)", "ScheduleExpressionTimezone": "Asia/Jakarta",
                "FlexibleTimeWindow": {"Mode": "OFF"}, "Target": {"Arn": {"Fn::GetAtt": ["WakerFunction", "Arn"]}, "RoleArn": "arn:aws:iam::123456789012:role/x"}}},
    )
    found = {s.logical_id: s for s in parse_schedules(template, {"WakerEveryMinute": "parity-WakerEveryMinute-X"})}
    assert set(found) == {"WakerEveryMinute", "Paused", "Expiry"}  # a rule on the bus is no schedule
    assert (found["WakerEveryMinute"].function, found["WakerEveryMinute"].input, found["WakerEveryMinute"].arn) == (
        "WakerFunction", '{"a": 1}', "arn:aws:events:us-east-1:123456789012:rule/parity-WakerEveryMinute-X")
    assert not found["Paused"].enabled
    assert (found["Expiry"].kind, found["Expiry"].timezone, found["Expiry"].arn) == (
        "scheduler", "Asia/Jakarta", "arn:aws:scheduler:us-east-1:123456789012:schedule/default/Expiry")


@pytest.mark.parametrize("target", [
    {"Arn": {"Fn::GetAtt": ["Queue", "Arn"]}, "Id": "q"},
    {"Arn": {"Fn::GetAtt": ["WakerFunction", "Arn"]}, "Id": "t", "InputTransformer": {"InputTemplate": "{}"}},
])
def test_a_schedule_it_cannot_run_is_refused_at_deploy(target):
    template = _template(Rule={"Type": "AWS::Events::Rule", "Properties": {"ScheduleExpression": "rate(1 minute)", "Targets": [target]}})
    with pytest.raises(NotImplementedError):
        parse_schedules(template)


# ---- the scheduler ------------------------------------------------------------------------------------------
def test_tick_runs_what_is_due_once_and_moves_each_schedule_on():
    runtime = FakeRuntime()
    scheduler = Scheduler([source(), source("cron(0 * * * ? *)", logical_id="Hourly")], runtime, clock=lambda: T0)
    assert scheduler.tick(T0 + timedelta(seconds=59)) == []
    runs = scheduler.tick(T0 + timedelta(seconds=60))
    assert [(r["schedule"], r["status"], r["result"]) for r in runs] == [("WakerEveryMinute", "ok", {"woken": 0})]
    assert runtime.invocations[0][1]["time"] == "2026-11-28T10:16:30Z"
    # WHEN the machine slept through many runs THEN the schedule runs once, not once per missed time
    late = scheduler.tick(at(2026, 11, 28, 12, 0, 5))
    assert sorted(r["schedule"] for r in late) == ["Hourly", "WakerEveryMinute"]
    assert {d["schedule"]: d["next_run_at"] for d in scheduler.describe()} == {
        "WakerEveryMinute": "2026-11-28T12:00:30.000Z", "Hourly": "2026-11-28T13:00:00.000Z"}


def test_a_disabled_schedule_never_runs_on_the_clock_but_runs_when_asked():
    runtime = FakeRuntime()
    scheduler = Scheduler([source(enabled=False)], runtime, clock=lambda: T0)
    assert scheduler.tick(T0 + timedelta(days=1)) == []
    (run,) = scheduler.run_now("WakerFunction")
    assert run["manual"] and run["status"] == "ok" and len(runtime.invocations) == 1
    with pytest.raises(KeyError):
        scheduler.run_now("NoSuchFunction")


def test_a_failing_run_is_kept_and_the_scheduler_goes_on():
    scheduler = Scheduler([source()], FakeRuntime(fail=True), clock=lambda: T0)
    (run,) = scheduler.tick(T0 + timedelta(minutes=1))
    assert run["status"] == "error" and "boom" in run["error"]
    assert scheduler.describe()[0]["last_runs"] == [run]
    assert scheduler.tick(T0 + timedelta(minutes=2))[0]["status"] == "error"


def test_the_thread_runs_on_the_clock_until_stopped():
    # GIVEN a clock ten minutes ahead every real second: rate(1 minute) is due every 0.1 s
    runtime = FakeRuntime()
    real, start = time.monotonic(), T0
    scheduler = Scheduler([source()], runtime, clock=lambda: start + timedelta(seconds=(time.monotonic() - real) * 600), resolution=0.02)
    scheduler.start()
    time.sleep(0.7)
    scheduler.stop()
    ran = len(runtime.invocations)
    time.sleep(0.3)
    # THEN it ran several times, each with its own time, and nothing after stop()
    assert ran >= 3 and len(runtime.invocations) == ran
    times = [event["time"] for _, event in runtime.invocations]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_the_mount_lists_the_schedules_and_runs_one_now():
    scheduler = Scheduler([source()], FakeRuntime(), clock=lambda: T0)
    status, headers, body = scheduler.handle("GET", "/_local/schedules", "", [], b"")
    listed = json.loads(body)["data"]
    assert status == 200 and [(s["function"], s["expression"], s["next_run_at"]) for s in listed] == [("WakerFunction", "rate(1 minute)", "2026-11-28T10:16:30.000Z")]
    status, _, body = scheduler.handle("POST", "/_local/schedules/WakerFunction/run", "", [], b"")
    assert status == 200 and json.loads(body)["data"][0]["result"] == {"woken": 0}
    assert scheduler.handle("POST", "/_local/schedules/Nope/run", "", [], b"")[0] == 404
    assert scheduler.handle("GET", "/_local/schedules/WakerFunction/run", "", [], b"")[0] == 405
    assert scheduler.handle("GET", "/_local/schedules/../../etc", "", [], b"")[0] == 404
    assert scheduler.handle("GET", "/api/v3.1/deals", "", [], b"") is None
    failing = Scheduler([source()], FakeRuntime(fail=True), clock=lambda: T0)
    assert failing.handle("POST", "/_local/schedules/WakerFunction/run", "", [], b"")[0] == 502
