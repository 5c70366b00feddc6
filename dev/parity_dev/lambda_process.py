"""One execution environment seen from the runtime (``parity_dev.lambdas``): the worker process
(``parity_dev.lambda_worker``), the runtime channel to it, and the thread that forwards its log.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from parity_dev import lambda_worker

if TYPE_CHECKING:  # pragma: no cover
    from parity_dev.stack import FunctionSpec

#: How long a worker that was asked to stop may take before it is killed.
STOP_GRACE_SECONDS = 2.0


class FunctionError(RuntimeError):
    """A function failed: its handler raised, INIT failed, it timed out or its process died.

    ``error_type`` is Lambda's (``ValueError``, ``Runtime.ImportModuleError``, ``Sandbox.Timedout``,
    ``Runtime.ExitError`` …); ``trace`` the traceback text when there is one.
    """

    def __init__(self, message: str, *, error_type: str = "Unhandled", trace: str = "") -> None:
        super().__init__(message)
        self.error_type = error_type
        self.trace = trace


@dataclass
class _Invocation:
    request_id: str
    logged: threading.Event = field(default_factory=threading.Event)


class WorkerProcess:
    """One execution environment: a worker process, its runtime channel and its log forwarder."""

    def __init__(
        self,
        number: int,
        spec: FunctionSpec,
        environment: dict[str, str],
        layer_dirs: Iterable[Path],
        forward: Callable[[str, str], None],
        generation: int,
    ) -> None:
        self.number = number
        self.spec = spec
        self.generation = generation
        self.access_key = environment["AWS_ACCESS_KEY_ID"]
        self._forward = forward
        self._current: _Invocation | None = None
        self._lock = threading.Lock()
        to_worker_read, self._to_worker = os.pipe()
        self._from_worker, from_worker_write = os.pipe()
        assert spec.code_dir is not None
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", lambda_worker.__name__, str(to_worker_read), str(from_worker_write), *map(str, layer_dirs)],
                cwd=spec.code_dir,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(to_worker_read, from_worker_write),
                # Its own session: a Ctrl-C in the developer's terminal is the local stack's to handle.
                start_new_session=True,
            )
        except BaseException:
            for fd in (self._to_worker, self._from_worker):
                os.close(fd)
            raise
        finally:
            os.close(to_worker_read)
            os.close(from_worker_write)
        self._reader = threading.Thread(target=self._read_log, name=f"log-{spec.logical_id}-{number}", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    # ---- the log ----
    def _read_log(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            self._forward(self.spec.logical_id, line)
            # Anywhere in the line: output the handler left without a final newline runs into it.
            marker = line.find("REPORT RequestId: ")
            if marker >= 0:
                with self._lock:
                    current = self._current
                if current is not None and line[marker:].split()[2] == current.request_id:
                    current.logged.set()
        with self._lock:  # the process is gone: nothing more will be logged
            if self._current is not None:
                self._current.logged.set()

    # ---- the channel ----
    def _receive(self, timeout: float | None) -> dict[str, Any] | None:
        """The worker's next message; None when ``timeout`` passed first; EOFError if it exited."""
        if timeout is not None:
            readable, _, _ = select.select([self._from_worker], [], [], max(0.0, timeout))
            if not readable:
                return None
        message = lambda_worker.receive(self._from_worker)
        if message is None:
            raise EOFError
        return message

    def wait_ready(self, timeout: float) -> float:
        """Wait for INIT to finish; returns the worker's own INIT milliseconds."""
        try:
            message = self._receive(timeout)
        except EOFError:
            self.kill()
            raise FunctionError(f"{self.spec.logical_id}: the worker exited during INIT", error_type="Runtime.ExitError") from None
        if message is None:
            self.kill()
            raise FunctionError(f"{self.spec.logical_id}: INIT did not finish in {timeout:.0f} s", error_type="Sandbox.Timedout")
        if message.get("type") == "init_error":
            self.kill()
            raise FunctionError(
                f"{self.spec.logical_id}: INIT failed: {message.get('errorType')}: {message.get('errorMessage')}",
                error_type=str(message.get("errorType")), trace=str(message.get("trace", "")),
            )
        return float(message.get("init_ms", 0.0))

    def invoke(self, event: Any, request_id: str, timeout: float) -> Any:
        """Run one invocation; raises FunctionError (the worker is dead after a timeout or an exit)."""
        invocation = _Invocation(request_id)
        with self._lock:
            self._current = invocation
        deadline_ms = int((time.time() + timeout) * 1000)
        try:
            lambda_worker.send(self._to_worker, {
                "type": "invoke", "request_id": request_id, "deadline_ms": deadline_ms,
                "invoked_function_arn": self.spec.arn, "event": event,
            })
            message = self._receive(timeout)
        except (EOFError, OSError):  # OSError: the pipe broke while sending (the worker had died)
            self.kill()
            invocation.logged.wait(STOP_GRACE_SECONDS)
            code = self.process.poll()
            raise FunctionError(f"{self.spec.logical_id}: the worker exited (code {code}) during the invocation", error_type="Runtime.ExitError") from None
        if message is None:
            self.kill()
            raise FunctionError(f"Task timed out after {timeout:.2f} seconds", error_type="Sandbox.Timedout")
        # Everything the invocation printed is forwarded before its answer is returned.
        invocation.logged.wait(STOP_GRACE_SECONDS)
        with self._lock:
            self._current = None
        if message.get("type") == "error":
            raise FunctionError(
                f"{message.get('errorType')}: {message.get('errorMessage')}",
                error_type=str(message.get("errorType")), trace=str(message.get("trace", "")),
            )
        return message.get("result")

    # ---- the end ----
    def close(self) -> None:
        """Ask the worker to exit (end of its channel): it finishes an invocation in progress first."""
        with self._lock:  # once only: a closed descriptor's number is soon another file's
            fd, self._to_worker = self._to_worker, -1
        if fd >= 0:
            os.close(fd)

    def kill(self) -> None:
        """End the worker at once, as Lambda ends an environment whose invocation timed out."""
        self.close()
        try:
            self.process.kill()
        except ProcessLookupError:
            pass

    def wait_exit(self, timeout: float) -> None:
        """Wait for the process to end (killing it when ``timeout`` passes) and its log to be forwarded."""
        try:
            self.process.wait(timeout=max(0.0, timeout))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=STOP_GRACE_SECONDS)

    def release(self) -> None:
        """Close what is left of the channel and the log pipe (once nobody reads them any more)."""
        if self.process.stdout is not None:
            self.process.stdout.close()
        with self._lock:
            fd, self._from_worker = self._from_worker, -1
        if fd >= 0:
            os.close(fd)


class FunctionLogs:
    """Lines the workers logged while captured: ``lines(function)``, ``json(function)``."""

    def __init__(self) -> None:
        self._lines: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def add(self, logical_id: str, line: str) -> None:
        with self._lock:
            self._lines.append((logical_id, line))

    def lines(self, logical_id: str | None = None) -> list[str]:
        """Every line so far, of one function or of all."""
        with self._lock:
            return [line for f, line in self._lines if logical_id in (None, f)]

    def json(self, logical_id: str | None = None) -> list[dict[str, Any]]:
        """The lines that are JSON objects (powertools' log lines and EMF metric lines)."""
        found = []
        for line in self.lines(logical_id):
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    pass
        return found

    def clear(self) -> None:
        with self._lock:
            self._lines.clear()
