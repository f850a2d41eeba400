#!/usr/bin/env python3
"""Seconds for the real `pulumi preview` / `pulumi up` of each Kubernetes stack on a local kwok
cluster, against the engine's own floor and against `kubectl apply --server-side`, in one run.

    .venv/bin/python scripts/bench.py            (tools from scripts/e2e-tools.sh; make bench)

Rows per stack (icc, minikube):
  * the stack: `pulumi preview`, the first `pulumi up`, a no-change `pulumi up`;
  * the floor: a minimal program (an explicit provider and as many ConfigMaps as the stack has
    Kubernetes objects) through the same CLI, provider, language host and cluster: the least any
    program of that size costs on this engine;
  * kubectl: the objects the program produced (the `inputs` of every Kubernetes resource in
    `pulumi stack export --show-secrets`), applied in one `kubectl apply --server-side` after
    `pulumi destroy` removed them (the retained namespace and claims stay for both, as they would
    for a user); preview's baseline adds `--dry-run=server`, `up`'s adds `kubectl rollout status`
    of the StatefulSets, since `pulumi up` waits for them too.
Every preview and `up` runs with `--json` (streamed): its engine events, stamped as they arrive,
give the per-resource timeline; the slowest steps and the phases (engine start, program,
resources, finish) are printed next to the totals, so the next slow step is visible. Program
evaluation alone is the program under mocks (tests/harness.py, no engine) against
`python -c "import pulumi, pulumi_kubernetes"`, with the imports it pays for
(`python -X importtime`, self time per top-level package).
Figures only: nothing is asserted about time. The machine's load average is printed with them.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "e2e"), str(ROOT / "scripts")]

from bench_program import EVALUATIONS, program_evaluation  # noqa: E402
from bench_report import load, print_stack  # noqa: E402
from bench_timeline import Timeline, up_with_timeline, with_timeline  # noqa: E402
from test_engine import stack_settings  # noqa: E402

from e2e_support import (  # noqa: E402
    ICC_NAMESPACE,
    MINIKUBE_NAMESPACE,
    LegacyTokenReferences,
    create_stack,
    install_plugins,
    missing_tools,
    project_copy,
    pulumi_env,
    start_cluster,
    stop_cluster,
    tools_bin,
)

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"  # how a state export marks a secret value
TARGETS = ("icc", "minikube")

FLOOR_PROGRAM = '''\
"""The floor: an explicit provider and N ConfigMaps, nothing else."""
import pulumi
import pulumi_kubernetes as k8s

config = pulumi.Config()
provider = k8s.Provider("k8s", kubeconfig=config.require("kubeconfig"),
                        context=config.require("kubeContext"))
for i in range(config.require_int("count")):
    k8s.core.v1.ConfigMap(
        f"floor-{i}",
        metadata={"name": f"{pulumi.get_stack()}-{i}", "namespace": config.require("namespace")},
        data={"index": str(i)},
        opts=pulumi.ResourceOptions(provider=provider))
'''

# --------------------------------------------------------------------------- state export


def reveal(value):
    """`stack export --show-secrets` keeps secrets as {sig, plaintext: <JSON>}; kubectl wants
    the value."""
    if isinstance(value, dict) and SECRET_SIG_KEY in value:
        return reveal(json.loads(value["plaintext"]))
    if isinstance(value, dict):
        return {key: reveal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [reveal(item) for item in value]
    return value


def manifests(export: dict) -> list[dict]:
    objects = []
    for resource in export["deployment"].get("resources", []):
        if not resource["type"].startswith("kubernetes:") or resource.get("custom") is False:
            continue
        if resource["type"].startswith("pulumi:providers:"):
            continue
        inputs = {
            k: reveal(v)
            for k, v in (resource.get("inputs") or {}).items()
            if not k.startswith("__")
        }
        if "apiVersion" in inputs and "kind" in inputs:
            objects.append(inputs)
    return objects


def timed(fn) -> float:
    started = time.monotonic()
    fn()
    return time.monotonic() - started


# --------------------------------------------------------------------------- rows


@dataclass
class StackFigures:
    target: str
    objects: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    floor: dict[str, float] = field(default_factory=dict)
    timelines: dict[str, Timeline] = field(default_factory=dict)


def namespace_of(target: str) -> str:
    return ICC_NAMESPACE if target == "icc" else MINIKUBE_NAMESPACE


def bench_stack(figures: StackFigures, cluster, env: dict, tmp: Path) -> None:
    target, namespace = figures.target, namespace_of(figures.target)
    state = Path(env["E2E_STATE_DIR"])
    workdir = project_copy(tmp / f"project-{target}", state)
    stack = create_stack(
        f"bench-{target}", workdir, env, cluster.bin_dir, stack_settings(target, cluster)
    )
    preview = with_timeline(stack, "preview")
    first = up_with_timeline(stack)
    again = up_with_timeline(stack, "--expect-no-changes")
    figures.seconds.update(
        {"preview": preview.seconds, "up": first.seconds, "no-change up": again.seconds}
    )
    figures.timelines.update({"preview": preview, "up": first, "no-change up": again})
    objects = manifests(json.loads(stack.pulumi("stack", "export", "--show-secrets").stdout))
    figures.objects = len(objects)
    stack.pulumi("destroy", "--yes", "--skip-preview")
    cluster.wait_for("pods gone", lambda: not cluster.get("pods", namespace)["items"], timeout=120)
    bench_kubectl(figures, objects, cluster, namespace)


def bench_kubectl(figures: StackFigures, objects: list[dict], cluster, namespace: str) -> None:
    text = yaml.safe_dump_all(objects, sort_keys=False)
    apply = ["apply", "--server-side", "--force-conflicts", "--field-manager", "bench", "-f", "-"]
    figures.seconds["kubectl apply --dry-run=server"] = timed(
        lambda: cluster.kubectl(*apply, "--dry-run=server", input=text)
    )
    sets = [o["metadata"]["name"] for o in objects if o["kind"] == "StatefulSet"]

    def apply_and_wait():
        cluster.kubectl(*apply, input=text)
        for name in sets:
            cluster.kubectl(
                "rollout",
                "status",
                f"statefulset/{name}",
                "-n",
                namespace,
                "--timeout=300s",
                timeout=320,
            )

    figures.seconds["kubectl apply + rollout status"] = timed(apply_and_wait)
    kinds = [o for o in objects if o["kind"] != "Namespace"]
    cluster.kubectl(
        "delete", "--wait=true", "-f", "-", input=yaml.safe_dump_all(kinds), timeout=300
    )


def floor_project(dest: Path, state: Path) -> Path:
    """Same project name and language host as the real program, so the same CLI path runs."""
    dest.mkdir(parents=True, exist_ok=True)
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    project["backend"] = {"url": f"file://{state}"}
    project["runtime"]["options"]["virtualenv"] = str(ROOT / ".venv")
    project.pop("main", None)
    (dest / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    (dest / "__main__.py").write_text(FLOOR_PROGRAM)
    return dest


def bench_floor(figures: StackFigures, cluster, env: dict, tmp: Path) -> None:
    workdir = floor_project(tmp / f"floor-{figures.target}", Path(env["E2E_STATE_DIR"]))
    stack = create_stack(
        f"floor-{figures.target}",
        workdir,
        env,
        cluster.bin_dir,
        {
            "kubeconfig": cluster.kubeconfig.read_text(),
            "kubeContext": cluster.context,
            "namespace": ICC_NAMESPACE,
            "count": figures.objects,
        },
    )
    preview = with_timeline(stack, "preview")
    first = up_with_timeline(stack)
    again = up_with_timeline(stack, "--expect-no-changes")
    figures.floor.update(
        {"preview": preview.seconds, "up": first.seconds, "no-change up": again.seconds}
    )
    figures.timelines.update(
        {"floor preview": preview, "floor up": first, "floor no-change up": again}
    )
    stack.pulumi("destroy", "--yes", "--skip-preview")


def main() -> int:
    bin_dir = tools_bin()
    missing = missing_tools(bin_dir)
    if missing:
        print(f"tools missing in {bin_dir}: {', '.join(missing)}; run scripts/e2e-tools.sh")
        return 2
    print(f"load average at start: {load()} ({os.cpu_count()} CPUs)")
    print(
        f"\n== program evaluation alone (median of {EVALUATIONS}, fresh interpreter, no engine) =="
    )
    for line in program_evaluation():
        print(line, flush=True)
    with tempfile.TemporaryDirectory(prefix="icc-bench-") as raw:
        tmp = Path(raw)
        for sub in ("kwok", "home", "state"):
            (tmp / sub).mkdir()
        env = pulumi_env(bin_dir, tmp / "home", tmp / "state")
        env["E2E_STATE_DIR"] = str(tmp / "state")
        install_plugins(bin_dir, env)
        # Unique per run: other sessions may run their own kwok clusters on this machine.
        cluster = start_cluster(bin_dir, tmp / "kwok", name=f"icc-ollama-bench-{os.getpid()}")
        try:
            # The API server builds its OpenAPI document on the first request (seconds); a
            # user's cluster has long done so. Warm it up, or the first row would pay for it.
            cluster.kubectl("get", "--raw", "/openapi/v2", timeout=300)
            with LegacyTokenReferences(cluster, (ICC_NAMESPACE, MINIKUBE_NAMESPACE)):
                for target in TARGETS:
                    figures = StackFigures(target)
                    bench_stack(figures, cluster, env, tmp)
                    bench_floor(figures, cluster, env, tmp)
                    print_stack(figures)
                    sys.stdout.flush()
        finally:
            stop_cluster(cluster)
    print(f"\nload average at end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
