"""Run the template's Lambda functions in this process.

Each function's ``app.py`` is loaded from its CodeUri directory under a module name of its own
(they are all called ``app``) and called with a context object shaped like the Python runtime's.
Functions share one ``os.environ``: the union of their resolved environments, which must agree.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterator

    from parity_dev.stack import DeployedStack, FunctionSpec

log = logging.getLogger("parity_dev.lambdas")

# Configuration the developer may set in their own environment to override the template's values
# (documented in DESIGN.md "Configuration").
OVERRIDABLE_VARIABLES = (
    "OMNICHANNEL_WEBHOOK_URL",
    "WEBHOOK_SIGNING_SECRET",
    "HUB_API_BASE_URL",
    "HUB_API_TOKEN",
    "ROOM_DEEPLINK_TEMPLATE",
    "CRM_RECORD_URL_TEMPLATE",
    "WEBHOOK_RETRY_SCHEDULE",
    "PARITY_DEFAULT_ENABLED",
)


class EnvironmentConflict(ValueError):
    """Two functions need different values for one variable, which one process cannot give them."""


class FunctionError(RuntimeError):
    """A function raised or timed out; ``__cause__`` holds the original exception, if any."""


@dataclass
class LambdaContext:
    """The ``context`` argument of a Python Lambda handler (attributes as the runtime names them)."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: str  # a str in the real runtime (read from AWS_LAMBDA_FUNCTION_MEMORY_SIZE)
    timeout_seconds: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    identity: Any = None
    client_context: Any = None
    log_group_name: str = field(init=False)
    log_stream_name: str = field(init=False)
    _deadline: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        day = datetime.now(timezone.utc).strftime("%Y/%m/%d")
        self.log_stream_name = f"{day}/[{self.function_version}]{uuid.uuid4().hex}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's configured timeout."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def merged_environment(
    functions: Iterable[FunctionSpec], overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The union of the functions' environments, ``overrides`` winning.

    Raises ``EnvironmentConflict`` when two functions resolve one variable differently (and no
    override settles it): in one process they would silently share one of the two values.
    """
    merged: dict[str, str] = {}
    owner: dict[str, str] = {}
    overrides = dict(overrides or {})
    for spec in functions:
        for key, value in spec.environment.items():
            if key in overrides:
                continue
            if key in merged and merged[key] != value:
                raise EnvironmentConflict(
                    f"{key} is {merged[key]!r} for {owner[key]} but {value!r} for {spec.logical_id}; "
                    "the local stack runs every function in one process and needs one value"
                )
            merged[key], owner[key] = value, spec.logical_id
    merged.update(overrides)
    return merged


def overrides_from(environ: Mapping[str, str], names: Iterable[str] = OVERRIDABLE_VARIABLES) -> dict[str, str]:
    """The documented configuration variables that are set in ``environ``."""
    return {name: environ[name] for name in names if environ.get(name)}


@contextmanager
def applied_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Set ``variables`` in ``os.environ`` for the block and restore the previous values afterwards."""
    previous = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def ensure_layers_importable(stack: DeployedStack) -> None:
    """Make the template's local Python layers importable, as Lambda does with /opt/python.

    Appended to ``sys.path``, so an installed copy of the same package keeps precedence.
    """
    for directory in stack.layer_dirs:
        if str(directory) not in sys.path:
            sys.path.append(str(directory))


_modules: dict[tuple[str, str], Any] = {}
_import_lock = threading.RLock()


def load_handler(code_dir: Path, handler: str) -> Callable[[Any, Any], Any]:
    """Import ``handler`` ("module.function") from ``code_dir`` under a module name unique to that directory.

    Imported once per process and directory, like a warm Lambda container. The directory is on
    ``sys.path`` while the module executes so ``import helper`` of a sibling file works, but a sibling
    module name shared by two functions would collide in ``sys.modules``: that raises ImportError.
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


class LambdaRuntime:
    """Invokes the functions of one deployed stack in this process."""

    def __init__(self, stack: DeployedStack) -> None:
        self.stack = stack
        ensure_layers_importable(stack)

    def context_for(self, logical_id: str) -> LambdaContext:
        """A fresh context object for one invocation of ``logical_id``."""
        spec = self.stack.functions[logical_id]
        return LambdaContext(
            function_name=spec.name,
            invoked_function_arn=spec.arn,
            memory_limit_in_mb=str(spec.memory_size),
            timeout_seconds=spec.timeout,
        )

    def invoke(self, logical_id: str, event: Any) -> Any:
        """Call the function's handler with ``event`` and return its result.

        Raises ``FunctionError`` when the module cannot be imported, the handler raises, or it overruns
        its timeout (Lambda would have killed it: "Task timed out"); the cause is logged with its traceback.
        """
        spec = self.stack.functions[logical_id]
        if spec.code_dir is None:
            raise FunctionError(f"{logical_id} has no local CodeUri to run")
        context = self.context_for(logical_id)
        started = time.monotonic()
        try:
            # Inside the try: an import error is the function's failure (Runtime.ImportModuleError), not ours.
            handler = load_handler(spec.code_dir, spec.handler)
            result = handler(event, context)
        except Exception as error:
            log.exception("%s (%s) raised; RequestId: %s", logical_id, spec.name, context.aws_request_id)
            raise FunctionError(f"{logical_id} raised {type(error).__name__}: {error}") from error
        elapsed = time.monotonic() - started
        if elapsed > spec.timeout:
            log.error("%s: Task timed out after %.2f seconds; RequestId: %s", logical_id, elapsed, context.aws_request_id)
            raise FunctionError(f"{logical_id} timed out after {elapsed:.2f} s (Timeout: {spec.timeout})")
        return result
