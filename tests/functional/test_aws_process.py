"""The local stack's AWS in a process of its own (``parity_dev.aws_process``): its recordings read
as they grow, and it never outlives the local stack, whether the stack stops or dies."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from parity_dev.aws_process import AwsProcess


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # our own child: reap it, or it lingers as a zombie
            if os.waitpid(pid, os.WNOHANG) != (0, 0):
                return True
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return False


def test_a_recording_reads_what_it_has_seen_so_far_while_it_records(edge, aws) -> None:
    sqs = aws.client("sqs")
    with edge.recording() as calls:
        sqs.list_queues()
        # WHEN it is read inside the block, THEN it holds the request so far
        assert calls.operations("sqs") == ["ListQueues"]
        sqs.list_queues()
        assert len(calls.of("sqs")) == 2
    # AND after the block it keeps what it saw, and nothing more
    sqs.list_queues()
    assert len(calls.of("sqs")) == 2


def test_stopping_ends_the_aws_process() -> None:
    # GIVEN an AWS process serving
    aws = AwsProcess().start()
    assert aws.process is not None and aws.process.poll() is None
    # WHEN it is stopped, THEN it has exited
    aws.stop()
    assert aws.process.poll() is not None


def test_the_aws_process_ends_when_the_local_stack_dies() -> None:
    # GIVEN a local stack's process that started its AWS, told us the AWS's pid, and was killed
    code = "import os, signal; from parity_dev.aws_process import AwsProcess; a = AwsProcess().start(); print(a.process.pid, flush=True); os.kill(os.getpid(), signal.SIGKILL)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)  # it kills itself
    pid = int(done.stdout.split()[0])
    # THEN its AWS process ends too (its pipe from the stack closed), leaving nothing running
    assert _gone(pid, within=10), f"the AWS process {pid} outlived its stack"
