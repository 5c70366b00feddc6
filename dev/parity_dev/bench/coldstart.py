"""Figures 1 and 2: cold imports in fresh processes.

Each sample is one fresh interpreter that imports a function's ``app`` module and forces the
clients it uses (the ``parity.core.warm`` factories its module imported, each adapter's lazily built
client, the sender's HTTP client), timed inside the child from just before the first import. The
baseline is ``import boto3; boto3.client("dynamodb")`` in a fresh interpreter, timed the same way.
Samples are paired (a baseline, then a function; a venv import, then the built one) and each
figure is the median of its pairs' ratios, so a drift of the machine's speed hits both halves.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from parity_dev.bench.awsstub import FAKE_ENV

DUMMY_ENV = {
    **FAKE_ENV,
    "CRM_TABLE_NAME": "bench-crm",
    "PREVIEW_TABLE_NAME": "bench-preview",
    "WEBHOOK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-webhooks",
    "WEBHOOK_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-webhooks-dlq",
    "TIMELINE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-timeline",
    # Trust in AI actions: the approval policy a bot/AI create reads (cached), the activity log.
    "TRUST_TABLE_NAME": "bench-trust",
    "ACTIVITY_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-activity",
    "OMNICHANNEL_WEBHOOK_URL": "https://chat.example.com/webhooks/qontak-crm",
    "WEBHOOK_SIGNING_SECRET": "whsec_cGFyaXR5LWJlbmNoLXNpZ25pbmcta2V5ISEhIQ==",
    "WEBHOOK_SIGNING_SECRET_PARAMETER": "/bench/webhook-signing-secret",
    "HUB_API_BASE_URL": "https://hub.example.com",
    "HUB_API_TOKEN": "bench-hub-token",
    # The conversations' functions (their import-only figure failed without these: issue 17).
    "CONVERSATION_TABLE_NAME": "bench-conversations",
    "CHANNEL_SECRETS_PREFIX": "/bench/channels",
    "INGEST_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-ingest",
    "INGEST_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-ingest-dlq",
    "DELIVERY_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-delivery",
    "DELIVERY_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-delivery-dlq",
    "EVENT_BUS_NAME": "bench-bus",
    # The feedback loop's functions.
    "FEEDBACK_TABLE_NAME": "bench-feedback",
    "REPLY_REQUEST_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-reply-requests",
    "POWERTOOLS_SERVICE_NAME": "parity",
    "POWERTOOLS_METRICS_NAMESPACE": "Parity",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}

# Runs in the child. argv: function directory ("" for the boto3 baseline), then sys.path entries.
_CHILD = r"""
import sys, time, json
start, cpu = time.perf_counter(), time.process_time()
code_dir, extra = sys.argv[1], sys.argv[2:]
sys.path[:0] = [p for p in (code_dir, *extra) if p]
if not code_dir:
    import boto3
    boto3.client("dynamodb")
else:
    import app
    from parity.core import warm
    for value in list(vars(app).values()):
        if value in warm.factories():
            made = value()
            getattr(made, "client", None)
    if hasattr(app, "_http"):
        app._http()
elapsed = (time.perf_counter() - start) * 1000
print(json.dumps({"ms": elapsed, "cpu_ms": (time.process_time() - cpu) * 1000, "parity": getattr(sys.modules.get("parity"), "__file__", None)}))
"""


def functions(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "functions").iterdir() if (p / "app.py").is_file())


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "PYTHON"))}
    env.update(DUMMY_ENV)
    return env


def sample(code_dir: str, path: list[str], *, python: str = sys.executable, isolated_site: bool = False) -> tuple[float, float]:
    """One fresh interpreter: (wall ms, CPU ms) of the imports and clients.

    ``isolated_site``: no site-packages at all (-S), only ``path``, as on Lambda (see ``lambda_path``).
    Otherwise -s: no user site; the venv's site-packages stays on the path.
    """
    args = [python, "-S" if isolated_site else "-s", "-c", _CHILD, code_dir, *path]
    out = subprocess.run(args, env=_env(), capture_output=True, text=True, check=False, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"cold import of {code_dir or 'boto3'} failed:\n{out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return float(result["ms"]), float(result["cpu_ms"])


#: What the Lambda Python runtime itself provides next to the layer: boto3 and its dependencies.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def lambda_path(root: Path, build: Path | None) -> tuple[list[str], bool]:
    """sys.path as a deployed function sees it: the layer's dependencies (``make build``) and the
    runtime's boto3, nothing else, so dev-only packages of the venv (click, rich … which httpx
    imports when present) don't count. Falls back to the venv when there is no build."""
    deps = build / "layer" / "python" if build else None
    if deps is None or not deps.is_dir():
        return [str(root / "layers" / "shared")], False
    runtime = root / ".bench" / "lambda-runtime"
    runtime.mkdir(parents=True, exist_ok=True)
    import importlib

    for name in RUNTIME_PACKAGES:
        module = importlib.import_module(name)
        source = Path(module.__file__)
        source = source.parent if source.name == "__init__.py" else source
        link = runtime / source.name
        if not link.exists():
            link.symlink_to(source)
    # The parity source first (the figure is about the code, figure 2 about the built artifact).
    return [str(root / "layers" / "shared"), str(deps), str(runtime)], True


def _medians(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def cold_imports(root: Path, *, rounds: int = 11, build: Path | None = None) -> dict[str, Any]:
    """Figure 1: each function vs the boto3 baseline, as the median of ``rounds`` paired ratios.

    Each pair is a baseline sample and the function's, one right after the other, so both see the
    machine in the same state (a shared 2-core VM drifts by ±30 % over seconds; comparing each
    series' median instead moved a figure by ±0.15 from run to run).

    The ratio is of CPU time (the child's ``process_time``): on a shared 2-core machine the wall
    time of a 300 ms import swings by ±50 % with whatever else runs, its CPU time hardly; on an idle
    machine the two agree (imports from a warm page cache are CPU-bound). Wall ms are reported too.
    """
    names = functions(root)
    series: dict[str, list[tuple[float, float]]] = {"boto3": [], **{n: [] for n in names}}
    ratios: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    path, isolated = lambda_path(root, build)

    def one(n: str) -> tuple[float, float]:
        return sample("" if n == "boto3" else str(root / "functions" / n), path if n != "boto3" else path[-1:] if isolated else [], isolated_site=isolated)

    for n in ["boto3", *names]:  # one warm-up round for the OS page cache, discarded
        one(n)
    for _ in range(rounds):
        for n in names:
            base, measured = one("boto3"), one(n)
            series["boto3"].append(base)
            series[n].append(measured)
            ratios[n].append((measured[0] / base[0], measured[1] / base[1]))
    base_wall, base_cpu = _medians(series["boto3"])
    functions_out = {}
    for n in names:
        wall, cpu = _medians(series[n])
        wall_ratio, ratio = _medians(ratios[n])
        functions_out[n] = {"ms": wall, "cpu_ms": cpu, "ratio": ratio, "wall_ratio": wall_ratio}
    return {"baseline_ms": base_wall, "baseline_cpu_ms": base_cpu, "functions": functions_out, "lambda_path": isolated, "pairs": rounds}


def built_vs_venv(root: Path, build: Path, *, rounds: int = 7, function: str = "create_deal") -> dict[str, Any]:
    """Figure 2: the heaviest API function from the built artifact (``make build``) vs the warm venv (CPU ratio, as figure 1)."""
    if not (build / "layer" / "python" / "parity").is_dir():
        raise RuntimeError(f"no build under {build}; run `make build`")
    venv = (str(root / "functions" / function), [str(root / "layers" / "shared")])
    built = (str(build / "functions" / function), [str(build / "layer" / "python")])
    sample(*venv), sample(*built)
    a: list[tuple[float, float]] = []
    b: list[tuple[float, float]] = []
    for _ in range(rounds):  # paired, as figure 1
        a.append(sample(*venv))
        b.append(sample(*built))
    (v, vc), (w, wc) = _medians(a), _medians(b)
    wall_ratio, ratio = _medians([(built_[0] / venv_[0], built_[1] / venv_[1]) for venv_, built_ in zip(a, b)])
    return {"function": function, "venv_ms": v, "built_ms": w, "venv_cpu_ms": vc, "built_cpu_ms": wc, "ratio": ratio, "wall_ratio": wall_ratio}
