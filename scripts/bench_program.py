"""`make bench`'s program-evaluation rows: the program under mocks (no engine) against
`python -c "import pulumi, pulumi_kubernetes"`, with the import self time per package."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ICC_NAMESPACE = "wabc123-default"  # any valid ICC namespace: nothing is deployed
EVALUATIONS = 3  # runs of each program evaluation; the median is printed

PROGRAM_UNDER_MOCKS = """
import sys
sys.path[:0] = [{root!r}, {tests!r}]
import harness
harness.run_stack({stack!r}, **{overrides!r})
"""
IMPORT_BASELINE = "import pulumi, pulumi_kubernetes"
MOCK_OVERRIDES = {"icc": {"namespace": ICC_NAMESPACE}, "minikube": {}, "docker": {}}
IMPORT_GROUPS = (
    "pulumi",
    "pulumi_kubernetes",
    "pulumi_docker",
    "components",
    "settings",
    "pydantic",
    "grpc",
    "google",
    "yaml",
)


def python_seconds(code: str, runs: int = EVALUATIONS) -> tuple[float, str]:
    """Median wall seconds of a fresh interpreter running `code`, and one run's importtime."""
    python = str(ROOT / ".venv" / "bin" / "python")
    seconds = []
    for _ in range(runs):
        started = time.monotonic()
        subprocess.run([python, "-c", code], check=True, capture_output=True, timeout=300)
        seconds.append(time.monotonic() - started)
    traced = subprocess.run(
        [python, "-X", "importtime", "-c", code],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return statistics.median(seconds), traced.stderr


def import_self_times(importtime: str) -> dict[str, float]:
    """Milliseconds of import self time per top-level package (`python -X importtime`)."""
    totals: dict[str, float] = defaultdict(float)
    for line in importtime.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = (part.strip() for part in line[len("import time:") :].split("|"))
        top = name.split(".")[0]
        totals[top if top in IMPORT_GROUPS else "other"] += int(self_us) / 1000
    return dict(totals)


def program_evaluation() -> list[str]:
    baseline, traced = python_seconds(IMPORT_BASELINE)
    label = f'python -c "{IMPORT_BASELINE}"'
    lines = [f"  {label:48s} {baseline:6.2f} s   " + imports_line(import_self_times(traced))]
    for target, overrides in MOCK_OVERRIDES.items():
        code = PROGRAM_UNDER_MOCKS.format(
            root=str(ROOT), tests=str(ROOT / "tests"), stack=target, overrides=overrides
        )
        seconds, traced = python_seconds(code)
        lines.append(
            f"  {'program under mocks, ' + target:48s} {seconds:6.2f} s   "
            + imports_line(import_self_times(traced))
        )
    return lines


def imports_line(times: dict[str, float]) -> str:
    shown = [f"{name} {times[name]:.0f}" for name in (*IMPORT_GROUPS, "other") if times.get(name)]
    return "imports (ms): " + ", ".join(shown)
