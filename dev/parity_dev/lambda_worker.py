"""One execution environment of one function: the process ``parity_dev.lambdas`` starts for it.

Run as ``python -m parity_dev.lambda_worker READ_FD WRITE_FD [LAYER_DIR…]`` in the function's code
directory (``LAMBDA_TASK_ROOT``, first on ``sys.path`` as on Lambda), with the function's own
environment and nothing else. Like Lambda's Python runtime it

1. INIT: imports the handler named by ``_HANDLER`` ("module.function") once, then says ``ready``
   (or ``init_error``: Runtime.ImportModuleError and friends);
2. loops: waits for the next invocation, calls ``handler(event, context)`` with a ``LambdaContext``,
   and answers the result or the error (errorType, errorMessage, stackTrace).

The runtime protocol has a channel of its own, two pipes on extra file descriptors, never stdin or
stdout: each message is a 4-byte big-endian length and a JSON object. stdout and stderr are the
function's log, as on Lambda: ``START``/``END``/``REPORT`` lines frame each invocation, and the
``REPORT`` line is written after everything the invocation printed, so the runtime can tell when an
invocation's log is complete. End of the channel (the runtime went away) ends the process.

Only the standard library is imported here: what the function imports is its own cold start.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import struct
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any

_HEADER = struct.Struct(">I")


def send(fd: int, message: dict[str, Any]) -> None:
    """Write one framed JSON message to ``fd``."""
    payload = json.dumps(message, separators=(",", ":")).encode()
    data = memoryview(_HEADER.pack(len(payload)) + payload)
    while data:
        written = os.write(fd, data)
        data = data[written:]


def receive(fd: int) -> dict[str, Any] | None:
    """Read one framed JSON message from ``fd`` (blocking); None at end of file."""
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    payload = _read_exactly(fd, length)
    if payload is None:
        return None
    message: dict[str, Any] = json.loads(payload)
    return message


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


@dataclass
class LambdaContext:
    """The ``context`` argument of a Python Lambda handler (attributes as the runtime names them)."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: str  # a str in the real runtime (read from AWS_LAMBDA_FUNCTION_MEMORY_SIZE)
    aws_request_id: str
    deadline_ms: int  # epoch milliseconds, as the runtime API's Lambda-Runtime-Deadline-Ms
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's configured timeout."""
        return max(0, int(self.deadline_ms - time.time() * 1000))


def _context(message: dict[str, Any]) -> LambdaContext:
    return LambdaContext(
        function_name=os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""),
        invoked_function_arn=message["invoked_function_arn"],
        memory_limit_in_mb=os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        aws_request_id=message["request_id"],
        deadline_ms=int(message["deadline_ms"]),
        function_version=os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        log_group_name=os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", ""),
        log_stream_name=os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", ""),
    )


def _error(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """The runtime API's error shape, printed to stderr as the Python runtime logs it."""
    stack = traceback.format_exception(error)
    print(f"[ERROR] {type(error).__name__}: {error}", file=sys.stderr)
    print("".join(stack), end="", file=sys.stderr, flush=True)
    return {
        "errorType": error_type or type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": [line.rstrip("\n") for line in traceback.format_tb(error.__traceback__)],
        "trace": "".join(stack),
    }


def _peak_memory_mb() -> int:
    """The process's peak resident memory ("Max Memory Used"). ``ru_maxrss`` survives exec on Linux
    (it would report the parent's), so /proc's high-water mark first."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _load(handler: str) -> Any:
    module_name, _, attribute = handler.rpartition(".")
    if not module_name:
        raise ValueError(f"Bad handler '{handler}': not enough values to unpack (expected 2, got 1)")
    module = importlib.import_module(module_name)
    return getattr(module, attribute)


def main(argv: list[str]) -> int:
    """The worker's life: INIT once, then invocations until the runtime closes the channel."""
    read_fd, write_fd, *layer_dirs = argv
    inbox, outbox = int(read_fd), int(write_fd)
    # The layers' /opt/python: after the code directory, and after an installed copy of the same package.
    sys.path.extend(d for d in layer_dirs if d not in sys.path)

    started = time.monotonic()
    try:
        handler = _load(os.environ["_HANDLER"])
    except Exception as error:  # Runtime.ImportModuleError, Runtime.HandlerNotFound, an error at import
        kind = "Runtime.ImportModuleError" if isinstance(error, ImportError) else "Runtime.UserCodeSyntaxError" if isinstance(error, SyntaxError) else None
        send(outbox, {"type": "init_error", **_error(error, kind)})
        return 1
    init_ms = (time.monotonic() - started) * 1000
    send(outbox, {"type": "ready", "init_ms": init_ms})

    first = True
    while True:
        message = receive(inbox)
        if message is None:
            return 0
        request_id = message["request_id"]
        print(f"START RequestId: {request_id} Version: {os.environ.get('AWS_LAMBDA_FUNCTION_VERSION', '$LATEST')}", flush=True)
        began = time.monotonic()
        try:
            result = handler(message["event"], _context(message))
            try:
                answer = {"type": "result", "result": result}
                json.dumps(answer)  # what cannot be sent back is the function's error, as on Lambda
            except (TypeError, ValueError) as error:
                answer = {"type": "error", **_error(error, "Runtime.MarshalError")}
        except Exception as error:
            answer = {"type": "error", **_error(error)}
        duration = (time.monotonic() - began) * 1000
        sys.stdout.flush()
        sys.stderr.flush()
        memory = _peak_memory_mb()
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: {max(1, int(duration + 0.999))} ms\t"
            f"Memory Size: {os.environ.get('AWS_LAMBDA_FUNCTION_MEMORY_SIZE', '128')} MB\tMax Memory Used: {memory} MB"
        )
        if first:
            report += f"\tInit Duration: {init_ms:.2f} ms"
            first = False
        # Lambda's order; REPORT last: the runtime waits for it before it returns the invocation's answer.
        print(f"END RequestId: {request_id}", flush=True)
        print(report, flush=True)
        send(outbox, answer)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
