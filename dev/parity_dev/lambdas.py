"""Run the template's Lambda functions as Lambda does: each in execution environments of its own.
(A little over 400 lines: the runtime's environments, scaling and invocation are one lifecycle.)

An execution environment is a worker process (``parity_dev.lambda_worker``) that runs one function
with that function's own environment: its ``Environment`` from the deployed template (Globals
included), the reserved variables Lambda sets (``AWS_LAMBDA_FUNCTION_NAME``, ``_HANDLER``,
``LAMBDA_TASK_ROOT`` …) and credentials of its own for the local AWS endpoint; nothing of the
process that starts it. The behaviour follows Lambda's:

* **Cold start**: a function has no worker until its first invocation; that invocation starts one,
  which imports the handler (INIT) before it takes the event. The log says ``INIT <Function> N ms``.
* **Warm**: the worker then stays and takes the next invocation (module state, clients and caches
  live on), one invocation at a time.
* **Scale out**: an invocation that finds every worker of its function busy starts another one,
  up to ``max_workers`` per function; past that it waits for one to come free.
* **Timeout**: an invocation that overruns the function's ``Timeout`` kills its worker ("Task timed
  out after N seconds"); the next invocation cold-starts a new one.
* **Errors**: a handler exception (or an import error at INIT) is the caller's ``FunctionError``
  with the error type and message, and its traceback is logged.
* **Configuration**: ``update_environment`` changes a function's variables (and the function's
  configuration in the local AWS); its warm workers are drained and the next invocation starts new
  ones with the new environment, as Lambda starts new execution environments after a configuration
  update.
* **Logs**: a worker's stdout and stderr are its function's log (``START``/``END``/``REPORT`` lines
  included), forwarded line by line to the ``parity_dev.lambdas.<Function>`` logger; an invocation
  returns once its log lines are forwarded, so what it logged can be read right after it.

The runtime protocol (``lambda_worker``'s docstring) has its own pipes; events and results are JSON.
``lambda_process.WorkerProcess`` is one worker seen from here.
Each worker signs its AWS requests with an access key of its own, so the local AWS endpoint can tell
which function (and which worker) sent a request (``identify``; ``parity_dev.aws_edge.AwsEdge``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import logging
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from parity_dev import lambda_worker
from parity_dev.aws import FAKE_CREDENTIALS, REGION
from parity_dev.lambda_process import STOP_GRACE_SECONDS, FunctionError, FunctionLogs, WorkerProcess

if TYPE_CHECKING:  # pragma: no cover
    from parity_dev.aws import Clients
    from parity_dev.stack import DeployedStack, FunctionSpec

log = logging.getLogger("parity_dev.lambdas")

#: Worker processes of one function at most; an invocation past them waits for one to come free.
MAX_WORKERS_PER_FUNCTION = 4
#: Lambda gives INIT 10 s; here the whole stack shares the machine (and a test session starts many
#: environments at once on 2 cores), so a slow INIT is allowed more before it counts as failed.
INIT_TIMEOUT_SECONDS = 30.0
#: Every function, for ``update_environment`` and ``recycle``.
ALL = "*"


@dataclass(frozen=True)
class Caller:
    """Who signed an AWS request: a function and the worker process (execution environment) it ran in."""

    function: str  # logical id
    worker: int  # the runtime's worker number (see ``LambdaRuntime.kill_worker``)


#: Worker numbers, and so access keys, are unique across the runtimes of a process (tests run several).
_worker_numbers = itertools.count(1)


class _Pool:
    """The execution environments of one function: idle (warm) workers and a count of all of them."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self.idle: list[WorkerProcess] = []
        self.size = 0  # idle + busy + starting
        self.generation = 0
        self.changed = threading.Condition()


class LambdaRuntime:
    """Invokes the functions of one deployed stack, each in worker processes of its own (module docstring).

    ``endpoint_url`` is the local AWS (a moto server) every worker talks to; ``clients`` reach it from
    here (for ``update_environment`` to update the function's configuration there too). ``log``
    receives each line a worker writes, with the function's logical id; by default the line goes to
    the ``parity_dev.lambdas.<Function>`` logger.
    """

    def __init__(
        self,
        stack: DeployedStack,
        *,
        endpoint_url: str,
        clients: Clients | None = None,
        max_workers: int = MAX_WORKERS_PER_FUNCTION,
        log: Callable[[str, str], None] | None = None,
    ) -> None:
        self.stack = stack
        self.endpoint_url = endpoint_url
        self.clients = clients
        self.max_workers = max_workers
        self._log = log or _log_line
        self._environments = {logical_id: dict(spec.environment) for logical_id, spec in stack.functions.items()}
        self._pools = {logical_id: _Pool(spec) for logical_id, spec in stack.functions.items()}
        self._workers: dict[int, WorkerProcess] = {}
        self._callers: dict[str, Caller] = {}
        self._lock = threading.Lock()
        self._taps: list[Callable[[str, str], None]] = []
        self._stopped = False

    # ---- invoking ----
    def invoke(self, logical_id: str, event: Any) -> Any:
        """Run ``logical_id``'s handler with ``event`` (JSON) in one of its workers; return its (JSON) result.

        Raises ``FunctionError`` when INIT fails, the handler raises, the result is not JSON, the
        invocation overruns the function's timeout or the worker dies.
        """
        spec = self.stack.functions[logical_id]
        if spec.code_dir is None:
            raise FunctionError(f"{logical_id} has no local CodeUri to run")
        worker = self._acquire(logical_id)
        request_id = str(uuid.uuid4())
        healthy = False
        try:
            result = worker.invoke(event, request_id, float(spec.timeout))
            healthy = True
            return result
        except FunctionError as error:
            healthy = error.error_type not in ("Sandbox.Timedout", "Runtime.ExitError")
            # A handler's traceback is in the function's own log just before this (the worker prints it).
            ended = "" if healthy else f" (worker {worker.number} is gone; the next invocation starts a new one)"
            log.error("%s: %s; RequestId: %s%s", logical_id, error, request_id, ended)
            raise
        finally:
            self._release(worker, healthy)

    def _acquire(self, logical_id: str) -> WorkerProcess:
        pool = self._pools[logical_id]
        with pool.changed:
            while True:
                if self._stopped:
                    raise FunctionError(f"{logical_id}: the local runtime is stopping", error_type="Runtime.ExitError")
                if pool.idle:
                    return pool.idle.pop()  # the most recently used: the warmest
                if pool.size < self.max_workers:
                    pool.size += 1
                    generation = pool.generation
                    break
                pool.changed.wait()
        try:
            return self._start(pool, generation)
        except BaseException:
            with pool.changed:
                pool.size -= 1
                pool.changed.notify()
            raise

    def _release(self, worker: WorkerProcess, healthy: bool) -> None:
        pool = self._pools[worker.spec.logical_id]
        with pool.changed:
            keep = healthy and not self._stopped and worker.generation == pool.generation and worker.process.poll() is None
            if keep:
                pool.idle.append(worker)
            else:
                pool.size -= 1
            pool.changed.notify()
        if not keep:  # in the background: the caller has its answer already
            threading.Thread(target=self._retire, args=(worker,), name=f"retire-{worker.number}", daemon=True).start()

    def _start(self, pool: _Pool, generation: int) -> WorkerProcess:
        """A cold start: a new worker process, through its INIT."""
        spec = pool.spec
        number = next(_worker_numbers)
        access_key = f"ASIA{number:016d}"  # unique in this process: every runtime's workers talk to one AWS
        environment = self.worker_environment(spec.logical_id, access_key=access_key)
        started = time.monotonic()
        worker = WorkerProcess(number, spec, environment, self.stack.layer_dirs, self._forward, generation)
        with self._lock:
            self._workers[number] = worker
            self._callers[access_key] = Caller(spec.logical_id, number)
        try:
            worker.wait_ready(INIT_TIMEOUT_SECONDS)
        except FunctionError as error:
            log.error("INIT %s failed: %s", spec.logical_id, error)  # the traceback is in the function's log
            self._retire(worker)
            raise
        log.info("INIT %s %.0f ms (worker %d, pid %d)", spec.logical_id, (time.monotonic() - started) * 1000, number, worker.pid)
        return worker

    def _retire(self, worker: WorkerProcess) -> None:
        """End a worker nobody uses any more (idle, or back from its last invocation)."""
        worker.close()
        worker.wait_exit(STOP_GRACE_SECONDS)
        worker.release()
        with self._lock:
            self._workers.pop(worker.number, None)

    # ---- environments ----
    def environment(self, logical_id: str) -> dict[str, str]:
        """The function's configured variables now (what its next new worker gets)."""
        return dict(self._environments[logical_id])

    def functions_with(self, *variables: str) -> list[str]:
        """Logical ids of the functions whose environment sets any of ``variables``."""
        return [f for f, env in self._environments.items() if any(v in env for v in variables)]

    def worker_environment(self, logical_id: str, *, access_key: str) -> dict[str, str]:
        """Everything a new worker of ``logical_id`` sees in ``os.environ``, and nothing else."""
        spec = self.stack.functions[logical_id]
        environment = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT") if k in os.environ}
        # How this process found parity_dev (and, without an install, the layer): the runtime, not configuration.
        paths = [str(Path(lambda_worker.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]
        environment["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p))
        environment["PYTHONUNBUFFERED"] = "1"  # a worker killed at its timeout still leaves its log
        environment.update(self._environments[logical_id])
        # What Lambda sets; a function's own variables cannot override these.
        environment.update({
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{datetime.now(timezone.utc):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}",
            # Advanced logging controls, as Lambda tells the runtime (powertools' logger follows the level).
            **({"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": spec.logging.get("ApplicationLogLevel", "INFO")}
               if spec.logging.get("LogFormat") == "JSON" else {}),
            "_HANDLER": spec.handler,
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "TZ": ":UTC",
            **{k: v for k, v in FAKE_CREDENTIALS.items() if k != "AWS_ACCESS_KEY_ID"},
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            # No profile or config file of the developer's: only the variables above configure boto3.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        })
        return environment

    def update_environment(self, target: str | Iterable[str], changes: Mapping[str, str | None]) -> None:
        """Set (or, with None, remove) variables of ``target`` (a logical id, several, or ``ALL``).

        As an UpdateFunctionConfiguration on Lambda: the function's configuration in the local AWS
        changes too, and its warm workers are drained (idle ones now, busy ones when they finish);
        every invocation from now on runs in a new worker with the new environment.
        """
        for logical_id in self.targets(target):
            environment = self._environments[logical_id]
            for name, value in changes.items():
                if value is None:
                    environment.pop(name, None)
                else:
                    environment[name] = value
            if self.clients is not None:
                self.clients.client("lambda").update_function_configuration(
                    FunctionName=self.stack.functions[logical_id].name, Environment={"Variables": dict(environment)}
                )
            self.recycle(logical_id)

    def recycle(self, target: str | Iterable[str] = ALL) -> None:
        """Drain ``target``'s warm workers: its next invocations cold-start (as when Lambda recycles them)."""
        for logical_id in self.targets(target):
            pool = self._pools[logical_id]
            with pool.changed:
                pool.generation += 1
                idle, pool.idle = pool.idle, []
                pool.size -= len(idle)
                pool.changed.notify_all()
            for worker in idle:
                self._retire(worker)

    def targets(self, target: str | Iterable[str]) -> list[str]:
        """The logical ids ``target`` names (one, several, or ``ALL``); KeyError for one the stack lacks."""
        if target == ALL:
            return list(self._pools)
        names = [target] if isinstance(target, str) else list(target)
        unknown = [n for n in names if n not in self._pools]
        if unknown:
            raise KeyError(f"no function {unknown} in the stack")
        return names

    # ---- workers, callers and logs ----
    def workers(self, logical_id: str) -> list[int]:
        """Process ids of the function's live workers (idle or busy)."""
        with self._lock:
            return [w.pid for w in self._workers.values() if w.spec.logical_id == logical_id and w.process.poll() is None]

    def identify(self, access_key: str) -> Caller | None:
        """The function and worker an AWS access key id was given to, if one of ours."""
        with self._lock:
            return self._callers.get(access_key)

    def kill_worker(self, number: int) -> None:
        """Kill one worker at once, whatever it is doing (its invocation fails: Runtime.ExitError)."""
        with self._lock:
            worker = self._workers.get(number)
        if worker is not None:
            worker.kill()

    def _forward(self, logical_id: str, line: str) -> None:
        self._log(logical_id, line)
        for tap in list(self._taps):
            tap(logical_id, line)

    @contextmanager
    def captured_logs(self) -> Iterator[FunctionLogs]:
        """Collect every line the workers log during the block (each invocation's, complete on return)."""
        captured = FunctionLogs()
        self._taps.append(captured.add)
        try:
            yield captured
        finally:
            self._taps.remove(captured.add)

    def stop(self) -> None:
        """Stop every worker: idle ones are asked to exit, busy ones are killed (their callers get a FunctionError)."""
        self._stopped = True
        for pool in self._pools.values():
            with pool.changed:
                pool.changed.notify_all()
        with self._lock:
            workers = list(self._workers.values())
        idle = {id(w) for pool in self._pools.values() for w in pool.idle}
        for worker in workers:
            if id(worker) in idle:
                worker.close()
            else:
                worker.kill()  # its invocation reads the end of the channel and retires it
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for worker in workers:
            worker.wait_exit(deadline - time.monotonic())
            if id(worker) in idle:
                worker.release()
        with self._lock:
            for worker in workers:
                if id(worker) in idle:
                    self._workers.pop(worker.number, None)


def _log_line(logical_id: str, line: str) -> None:
    logging.getLogger(f"parity_dev.lambdas.{logical_id}").info("%s", line)


# ---- in-process loading (unit tests call a handler directly, without a runtime) ---------------------

_modules: dict[tuple[str, str], Any] = {}
_import_lock = threading.RLock()


def load_handler(code_dir: Path, handler: str) -> Callable[[Any, Any], Any]:
    """Import ``handler`` ("module.function") from ``code_dir`` into this process, under a module name
    unique to that directory (every function's module is called ``app``), once per process.

    For unit tests that call a handler as a plain function; the local stack never does this. The
    directory is on ``sys.path`` while the module executes so ``import helper`` of a sibling file
    works, but a sibling module name shared by two functions would collide in ``sys.modules``: that
    raises ImportError.
    """
    module_path, _, attribute = handler.rpartition(".")
    key = (str(code_dir), module_path)
    with _import_lock:
        if key not in _modules:
            _modules[key] = _import_from(code_dir, module_path)
        return getattr(_modules[key], attribute)


def _import_from(code_dir: Path, module_path: str) -> Any:
    file = code_dir.joinpath(*module_path.split(".")).with_suffix(".py")
    if not file.is_file():
        raise ImportError(f"no handler module {file}")
    for sibling in code_dir.glob("*.py"):
        loaded = sys.modules.get(sibling.stem)
        if sibling != file and loaded is not None and Path(getattr(loaded, "__file__", "") or "").parent != code_dir:
            raise ImportError(f"{sibling} would be shadowed by the already imported module {loaded.__name__!r}")
    digest = hashlib.sha1(str(code_dir).encode()).hexdigest()[:8]
    unique = "_".join(("parity_fn", re.sub(r"\W", "_", code_dir.name), digest, module_path.replace(".", "_")))
    spec = importlib.util.spec_from_file_location(unique, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    sys.path.insert(0, str(code_dir))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[unique]
        raise
    finally:
        sys.path.remove(str(code_dir))
    return module
