"""The local runtime behaves like Lambda (``parity_dev.lambdas``): each function in worker processes of
its own, with its own environment, a cold start on first use, warm reuse, scale-out under concurrency,
a killed worker on timeout, errors reported with their traceback in the function's log, and new
workers after a configuration change.

A throwaway template with a probe function (twice, configured differently, plus once broken at INIT)
deployed into the session's embedded AWS; the probe answers what its process sees.
"""

from __future__ import annotations

import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from parity_dev.aws import Clients
from parity_dev.lambdas import FunctionError, LambdaRuntime
from parity_dev.stack import DeployedStack, deploy

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  AppLevel: {Type: String, Default: DEBUG}
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    Timeout: 2
    MemorySize: 256
    Environment: {Variables: {SHARED: from-globals}}
    LoggingConfig: {LogFormat: JSON, ApplicationLogLevel: !Ref AppLevel, SystemLogLevel: WARN}
Resources:
  ProbeFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: probe, Environment: {Variables: {WHO: probe, COLOUR: red}}}
  OtherFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: probe, Environment: {Variables: {WHO: other, COLOUR: blue}}, LoggingConfig: {ApplicationLogLevel: ERROR}}
  BrokenFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: probe, Environment: {Variables: {BREAK_AT_INIT: "yes"}}}
"""

PROBE = """
import os, sys, time

if os.environ.get("BREAK_AT_INIT"):
    raise RuntimeError("broken at init")
INVOCATIONS = 0  # module state lives as long as the worker: a warm container

def handler(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    action = event.get("action")
    if action == "sleep":
        time.sleep(event["seconds"])
    elif action == "raise":
        raise ValueError("the probe broke")
    elif action == "exit":
        os._exit(3)
    elif action == "unjsonable":
        return {"a set": {1, 2}}
    elif action == "print":
        print("hello from the probe")
        print("and to stderr", file=sys.stderr)
    elif action == "aws":
        import boto3
        boto3.client("sqs").list_queues()
    return {"pid": os.getpid(), "env": dict(os.environ), "cwd": os.getcwd(), "invocations": INVOCATIONS,
            "remaining": context.get_remaining_time_in_millis(), "request_id": context.aws_request_id,
            "function_name": context.function_name}
"""


@pytest.fixture(scope="module")
def probe_stack(aws: Clients, tmp_path_factory: pytest.TempPathFactory) -> DeployedStack:
    root = tmp_path_factory.mktemp("runtime")
    (root / "probe").mkdir()
    (root / "probe" / "app.py").write_text(textwrap.dedent(PROBE))
    (root / "template.yaml").write_text(TEMPLATE)
    return deploy(root / "template.yaml", stack_name=f"runtime-test-{uuid.uuid4().hex[:8]}", clients=aws)


@pytest.fixture
def runtime(probe_stack: DeployedStack, local_stack: Any, aws: Clients) -> Iterator[LambdaRuntime]:
    """A runtime of its own per test (2 workers per function at most), stopped after it."""
    made = LambdaRuntime(probe_stack, endpoint_url=local_stack.moto.endpoint_url, clients=aws, max_workers=2)
    local_stack.edge.identifiers.append(made.identify)
    yield made
    local_stack.edge.identifiers.remove(made.identify)
    made.stop()


def _alive(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_the_first_invocation_starts_a_worker_with_a_logged_init_and_the_next_reuses_it(runtime: LambdaRuntime, caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN a function that has never run: no worker
    assert runtime.workers("ProbeFunction") == []
    caplog.set_level("INFO", logger="parity_dev.lambdas")
    # WHEN it is invoked twice
    first = runtime.invoke("ProbeFunction", {})
    second = runtime.invoke("ProbeFunction", {})
    # THEN the first started a worker (its INIT logged with its duration), the second ran in that warm worker
    assert len([r for r in caplog.records if r.getMessage().startswith("INIT ProbeFunction ")]) == 1
    assert first["pid"] == second["pid"] != runtime.invoke("OtherFunction", {})["pid"]
    assert (first["invocations"], second["invocations"]) == (1, 2)
    assert runtime.workers("ProbeFunction") == [first["pid"]]
    # AND it ran with Lambda's context and working directory
    spec = runtime.stack.functions["ProbeFunction"]
    assert first["function_name"] == spec.name and 0 < first["remaining"] <= 2000
    assert first["request_id"] != second["request_id"] and Path(first["cwd"]) == spec.code_dir


def test_each_function_sees_its_own_environment_and_nothing_of_the_local_stacks(runtime: LambdaRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN two functions giving one variable different values, and a variable of this process's own
    monkeypatch.setenv("PARITY_TEST_SENTINEL", "the host's")
    # WHEN each reports its environment
    probe, other = (runtime.invoke(f, {})["env"] for f in ("ProbeFunction", "OtherFunction"))
    # THEN each has its own values and the template's Globals; no conflict, nothing of the host
    assert (probe["WHO"], probe["COLOUR"], probe["SHARED"]) == ("probe", "red", "from-globals")
    assert (other["WHO"], other["COLOUR"], other["SHARED"]) == ("other", "blue", "from-globals")
    assert "PARITY_TEST_SENTINEL" not in probe
    # AND what Lambda sets: its name, handler, task root, region, credentials of its own for the local AWS
    spec = runtime.stack.functions["ProbeFunction"]
    assert (probe["AWS_LAMBDA_FUNCTION_NAME"], probe["_HANDLER"], probe["LAMBDA_TASK_ROOT"]) == (spec.name, "app.handler", str(spec.code_dir))
    assert probe["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256" and probe["AWS_REGION"] == "us-east-1"
    assert probe["AWS_ENDPOINT_URL"] == runtime.endpoint_url and probe["AWS_ACCESS_KEY_ID"] != other["AWS_ACCESS_KEY_ID"]
    # AND its advanced logging controls, resolved (a parameter's default) and merged with its own (as SAM merges Globals)
    assert (probe["AWS_LAMBDA_LOG_FORMAT"], probe["AWS_LAMBDA_LOG_LEVEL"]) == ("JSON", "DEBUG")
    assert (other["AWS_LAMBDA_LOG_FORMAT"], other["AWS_LAMBDA_LOG_LEVEL"]) == ("JSON", "ERROR")
    assert runtime.stack.functions["OtherFunction"].logging == {"LogFormat": "JSON", "ApplicationLogLevel": "ERROR", "SystemLogLevel": "WARN"}


def test_GIVEN_a_busy_worker_WHEN_more_invocations_come_THEN_workers_scale_out_to_the_cap_and_the_rest_wait(runtime: LambdaRuntime) -> None:
    # GIVEN at most 2 workers per function / WHEN 3 invocations of 0.6 s arrive at once
    results: list[dict[str, Any]] = []
    started = time.monotonic()
    threads = [threading.Thread(target=lambda: results.append(runtime.invoke("ProbeFunction", {"action": "sleep", "seconds": 0.6}))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN two workers served them, one invocation each at a time: the third waited for a free one
    assert len(results) == 3 and len({r["pid"] for r in results}) == 2
    assert time.monotonic() - started >= 1.2
    assert sorted(r["invocations"] for r in results) == [1, 1, 2]


def test_GIVEN_an_invocation_over_its_timeout_THEN_task_timed_out_its_worker_is_killed_and_the_next_starts_cold(
    runtime: LambdaRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    warm = runtime.invoke("ProbeFunction", {})["pid"]
    # WHEN an invocation runs past the function's 2 s timeout
    started = time.monotonic()
    with pytest.raises(FunctionError, match="Task timed out after 2.00 seconds") as timed_out:
        runtime.invoke("ProbeFunction", {"action": "sleep", "seconds": 30})
    # THEN it ends at the timeout, its worker is gone, and the next invocation runs in a new one
    assert timed_out.value.error_type == "Sandbox.Timedout" and time.monotonic() - started < 4
    assert "Task timed out" in caplog.text
    deadline = time.monotonic() + 5
    while _alive(warm) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(warm)
    after = runtime.invoke("ProbeFunction", {})
    assert after["pid"] != warm and after["invocations"] == 1


def test_GIVEN_the_handler_raises_THEN_a_function_error_with_the_traceback_in_its_log_and_the_worker_stays_warm(runtime: LambdaRuntime) -> None:
    warm = runtime.invoke("ProbeFunction", {})["pid"]
    with runtime.captured_logs() as logs, pytest.raises(FunctionError) as raised:
        runtime.invoke("ProbeFunction", {"action": "raise"})
    assert raised.value.error_type == "ValueError" and "the probe broke" in str(raised.value)
    logged = "\n".join(logs.lines("ProbeFunction"))
    assert "[ERROR] ValueError: the probe broke" in logged and "Traceback (most recent call last)" in logged
    assert runtime.invoke("ProbeFunction", {})["pid"] == warm


@pytest.mark.parametrize(
    "function,event,error_type",
    [
        ("BrokenFunction", {}, "RuntimeError"),  # an exception at import: INIT fails
        ("ProbeFunction", {"action": "exit"}, "Runtime.ExitError"),  # the process exits mid-invocation
        ("ProbeFunction", {"action": "unjsonable"}, "Runtime.MarshalError"),  # a result Lambda cannot send back
    ],
)
def test_init_errors_exits_and_unsendable_results_are_function_errors(runtime: LambdaRuntime, function: str, event: dict[str, Any], error_type: str) -> None:
    with pytest.raises(FunctionError) as raised:
        runtime.invoke(function, event)
    assert raised.value.error_type == error_type
    if function == "ProbeFunction":  # and the function still answers afterwards
        assert runtime.invoke("ProbeFunction", {})["pid"] > 0


def test_what_a_function_prints_is_its_log_never_the_local_stacks_stdout(runtime: LambdaRuntime, capfd: pytest.CaptureFixture[str]) -> None:
    with runtime.captured_logs() as logs:
        result = runtime.invoke("ProbeFunction", {"action": "print"})
    lines = logs.lines("ProbeFunction")
    # THEN both streams are in the function's log, framed as Lambda frames an invocation, complete on return
    assert "hello from the probe" in lines and "and to stderr" in lines
    assert lines[0] == f"START RequestId: {result['request_id']} Version: $LATEST"
    assert lines[-2] == f"END RequestId: {result['request_id']}" and lines[-1].startswith(f"REPORT RequestId: {result['request_id']}\tDuration: ")
    assert "hello from the probe" not in capfd.readouterr().out


def test_a_configuration_change_drains_warm_workers_and_the_next_invocation_gets_the_new_environment(runtime: LambdaRuntime, aws: Clients) -> None:
    before = runtime.invoke("ProbeFunction", {})
    # WHEN a variable is changed (and another removed)
    runtime.update_environment("ProbeFunction", {"COLOUR": "green", "SHARED": None})
    after = runtime.invoke("ProbeFunction", {})
    # THEN a new worker runs with the new environment; the other function is untouched
    assert after["pid"] != before["pid"] and after["env"]["COLOUR"] == "green" and "SHARED" not in after["env"]
    assert runtime.invoke("OtherFunction", {})["env"]["COLOUR"] == "blue"
    # AND the function's configuration in the local AWS says the same (what `parity ops` reads)
    configured = aws.client("lambda").get_function_configuration(FunctionName=runtime.stack.functions["ProbeFunction"].name)
    assert configured["Environment"]["Variables"]["COLOUR"] == "green"


def test_the_aws_edge_knows_which_function_sent_a_request(runtime: LambdaRuntime, local_stack: Any) -> None:
    with local_stack.edge.recording() as calls:
        runtime.invoke("ProbeFunction", {"action": "aws"})
    (call,) = calls.of("sqs", function="ProbeFunction")
    assert call.operation == "ListQueues" and call.worker is not None


def test_stop_ends_every_worker(runtime: LambdaRuntime) -> None:
    pids = [runtime.invoke(f, {})["pid"] for f in ("ProbeFunction", "OtherFunction")]
    runtime.stop()
    assert not any(_alive(pid) for pid in pids)
    with pytest.raises(FunctionError, match="stopping"):
        runtime.invoke("ProbeFunction", {})
