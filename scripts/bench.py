#!/usr/bin/env python3
"""Seconds for the real `pulumi preview` / `pulumi up` of each Kubernetes stack on a local kwok
cluster, against the engine's own floor and against `kubectl apply --server-side`, in one run.

    .venv/bin/python scripts/bench.py            (tools from scripts/e2e-tools.sh; make bench)

Rows per stack (icc, minikube), each the median of ROUNDS rounds (stack and floor interleaved;
each round ends with `pulumi destroy`, so every round's preview and `up` start from nothing):
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
resources, finish) of the median round are printed next to the totals, so the next slow step is
visible. Program evaluation alone is the program under mocks (tests/harness.py, no engine) against
`python -c "import pulumi, pulumi_kubernetes"`, with the imports it pays for
(`python -X importtime`, self time per top-level package).
Figures only: nothing is asserted about time. The machine's load average is printed with them.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "e2e"), str(ROOT / "scripts")]

from bench_kubectl import bench_kubectl, manifests  # noqa: E402
from bench_program import EVALUATIONS, program_evaluation  # noqa: E402
from bench_report import ROWS, load, print_stack  # noqa: E402
from bench_timeline import Timeline, up_with_timeline, with_timeline  # noqa: E402
from test_engine import stack_settings  # noqa: E402

from e2e_support import (  # noqa: E402
    ICC_NAMESPACE,
    MINIKUBE_NAMESPACE,
    LegacyTokenReferences,
    Stack,
    create_stack,
    install_plugins,
    missing_tools,
    project_copy,
    pulumi_env,
    start_cluster,
    stop_cluster,
    storage_objects,
    tools_bin,
)

TARGETS = ("icc", "minikube", "minikube-given-namespace")
# The third: minikube's stack with `createNamespace: false` in a namespace made beforehand, so
# without the Namespace and its adopting provider. It is not a target of its own; it shows what
# that provider costs here: the v2.0.0 stand-in (client-go 0.17) discovers the API groups one
# request at a time at client-go's default 5 requests/s, once per provider process, and the
# namespace's provider has to finish before the other one can start (4.32.0 discovers them in
# one parallel burst: client-go's discovery burst of 300, provider/pkg/clients/memcache.go).
# Rounds per row, stack and floor interleaved; the median is printed. One run of a row on this
# 2-core machine varies by up to ±20 % (load from other work): a single run cannot tell 1.2x
# from 1.4x. BENCH_ROUNDS and BENCH_TARGETS override (figures only, nothing is asserted).
ROUNDS = 3

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

# --------------------------------------------------------------------------- rows


@dataclass
class StackFigures:
    target: str
    objects: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # kubectl rows
    # "up", "floor up", ...: the timeline of each round
    timelines: dict[str, list[Timeline]] = field(default_factory=dict)

    def rounds(self, label: str) -> list[float]:
        return [timeline.seconds for timeline in self.timelines[label]]

    def median(self, label: str) -> float:
        return statistics.median(self.rounds(label))

    def median_timeline(self, label: str) -> Timeline:
        """The round whose total is the median (the lower one of an even number of rounds)."""
        ordered = sorted(self.timelines[label], key=lambda t: t.seconds)
        return ordered[(len(ordered) - 1) // 2]


def namespace_of(target: str) -> str:
    return ICC_NAMESPACE if target == "icc" else MINIKUBE_NAMESPACE


def target_settings(target: str, cluster) -> dict:
    if target != "minikube-given-namespace":
        return stack_settings(target, cluster)
    cluster.apply(
        [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": MINIKUBE_NAMESPACE}}]
    )
    return {**stack_settings("minikube", cluster), "createNamespace": False}


def measure(stack: Stack, figures: StackFigures, floor: bool) -> None:
    """preview (nothing deployed), the first `up`, a no-change `up`: one round of each row."""
    timelines = (
        with_timeline(stack, "preview"),
        up_with_timeline(stack),
        up_with_timeline(stack, "--expect-no-changes"),
    )
    for row, timeline in zip(ROWS, timelines, strict=True):
        label = f"floor {row}" if floor else row
        figures.timelines.setdefault(label, []).append(timeline)


def claimed_in(volume: dict, namespace: str) -> bool:
    return volume["kind"] == "PersistentVolume" and (
        volume["spec"]["claimRef"]["namespace"] == namespace
    )


def tear_down(stack: Stack, cluster, namespace: str, owned_namespace: bool) -> None:
    stack.pulumi("destroy", "--yes", "--skip-preview")
    cluster.wait_for("pods gone", lambda: not cluster.get("pods", namespace)["items"], timeout=120)
    if owned_namespace:
        # `destroy` keeps the namespace that minikube's stack creates (the data claims live in
        # it). The next round's `up` would adopt it through the adopting provider, which the
        # v2.0.0 stand-in does not have: each round starts without it, as a first `up` does,
        # and with fresh volumes for its claims (the old ones stay Released, bound to nothing).
        cluster.kubectl("delete", "namespace", namespace, "--wait=true", timeout=300)
        volumes = [pv for pv in storage_objects() if claimed_in(pv, namespace)]
        cluster.kubectl("delete", "pv", *(pv["metadata"]["name"] for pv in volumes))
        cluster.apply(volumes)


def bench_target(figures: StackFigures, cluster, env: dict, tmp: Path, rounds: int) -> None:
    """`rounds` rounds of stack then floor, interleaved, so drifting load hits both alike."""
    target, namespace = figures.target, namespace_of(figures.target)
    state = Path(env["E2E_STATE_DIR"])
    workdir = project_copy(tmp / f"project-{target}", state)
    settings = target_settings(target, cluster)
    stack = create_stack(f"bench-{target}", workdir, env, cluster.bin_dir, settings)
    floor: Stack | None = None
    objects: list[dict] = []
    for round_ in range(rounds):
        measure(stack, figures, floor=False)
        if floor is None:
            export = json.loads(stack.pulumi("stack", "export", "--show-secrets").stdout)
            objects = manifests(export)
            figures.objects = len(objects)
            floor = floor_stack(figures, cluster, env, tmp)
        measure(floor, figures, floor=True)
        floor.pulumi("destroy", "--yes", "--skip-preview")
        # The last round keeps the namespace: kubectl's baseline applies into it.
        again = round_ < rounds - 1
        tear_down(stack, cluster, namespace, owned_namespace=target == "minikube" and again)
    bench_kubectl(figures, objects, cluster, namespace)


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


def floor_stack(figures: StackFigures, cluster, env: dict, tmp: Path) -> Stack:
    workdir = floor_project(tmp / f"floor-{figures.target}", Path(env["E2E_STATE_DIR"]))
    return create_stack(
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


def main() -> int:
    bin_dir = tools_bin()
    missing = missing_tools(bin_dir)
    if missing:
        print(f"tools missing in {bin_dir}: {', '.join(missing)}; run scripts/e2e-tools.sh")
        return 2
    targets = os.environ.get("BENCH_TARGETS", " ".join(TARGETS)).split()
    rounds = int(os.environ.get("BENCH_ROUNDS", ROUNDS))
    print(f"load average at start: {load()} ({os.cpu_count()} CPUs); {rounds} rounds per row")
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
                for target in targets:
                    figures = StackFigures(target)
                    bench_target(figures, cluster, env, tmp, rounds)
                    print_stack(figures)
                    sys.stdout.flush()
        finally:
            stop_cluster(cluster)
    print(f"\nload average at end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
