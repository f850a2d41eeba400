"""`make bench`'s program-evaluation rows: the program under the SDK's mocks (no engine) against
`python -c "import pulumi, pulumi_kubernetes"`, with the import self time per package."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "icc-ollama"
ICC_NAMESPACE = "wabc123-default"  # any valid ICC namespace: nothing is deployed
EVALUATIONS = 3  # runs of each program evaluation; the median is printed

# The program under the SDK's public mocks (pulumi.runtime.set_mocks/set_all_config/test), as
# the unit tests run it, with the committed stack file's config. Only the evaluation is timed,
# so the mocks just echo the inputs back (with a name where the provider would autoname). It runs
# as a preview in a home without a kubeconfig: the cluster check (components/cluster.py) then
# warns and goes on, as a preview offline does, instead of asking a cluster (the stack rows
# measure that against the kwok cluster).
PROGRAM_UNDER_MOCKS = """
import runpy, sys
sys.path.insert(0, {root!r})
import pulumi

class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        state = dict(args.inputs)
        if args.typ.startswith("kubernetes:") and "helm.sh" not in args.typ:
            state["metadata"] = {{"name": args.name, **(state.get("metadata") or {{}})}}
        return args.name + "-id", state

    def call(self, args):
        return {{}}

pulumi.runtime.set_mocks(Mocks(), project="icc-ollama", stack={stack!r}, preview=True)
pulumi.runtime.set_all_config({config!r}, {secrets!r})

@pulumi.runtime.test
def program():
    runpy.run_path({main!r}, run_name="__main__")

program()
"""
# Stand-ins for what a stack made by `make up` holds as secrets; nothing is deployed.
SECRETS = {
    "webuiSecretKey": "b" * 64,
    "webuiAdminPassword": "bench-admin-" + "a" * 12,
    "grafanaAdminPassword": "bench-grafana-" + "g" * 12,
}
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
    with tempfile.TemporaryDirectory(prefix="bench-home-") as home:
        env = {key: value for key, value in os.environ.items() if key != "KUBECONFIG"}
        env["HOME"] = home  # no ~/.kube/config (see PROGRAM_UNDER_MOCKS)
        for _ in range(runs):
            started = time.monotonic()
            subprocess.run(
                [python, "-c", code], check=True, capture_output=True, timeout=300, env=env
            )
            seconds.append(time.monotonic() - started)
        traced = subprocess.run(
            [python, "-X", "importtime", "-c", code],
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
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
        config = {**stack_file_config(target), **SECRETS, **overrides}
        code = PROGRAM_UNDER_MOCKS.format(
            root=str(ROOT),
            stack=target,
            config={f"{PROJECT}:{key}": value for key, value in config.items()},
            secrets=[f"{PROJECT}:{key}" for key in SECRETS],
            main=str(ROOT / "__main__.py"),
        )
        seconds, traced = python_seconds(code)
        lines.append(
            f"  {'program under mocks, ' + target:48s} {seconds:6.2f} s   "
            + imports_line(import_self_times(traced))
        )
    return lines


def stack_file_config(stack: str) -> dict[str, str]:
    """The committed `Pulumi.<stack>.yaml`, as the CLI passes it: strings, objects as JSON."""
    data = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text()).get("config") or {}
    prefix = f"{PROJECT}:"
    return {
        key[len(prefix) :]: value if isinstance(value, str) else json.dumps(value)
        for key, value in data.items()
        if key.startswith(prefix)
    }


def imports_line(times: dict[str, float]) -> str:
    shown = [f"{name} {times[name]:.0f}" for name in (*IMPORT_GROUPS, "other") if times.get(name)]
    return "imports (ms): " + ", ".join(shown)
