#!/usr/bin/env python3
"""Seconds for the real `pulumi preview` / `pulumi up` of each Kubernetes stack on a local kwok
cluster, against the engine's own floors and against `kubectl apply --server-side`, in one run.

    .venv/bin/python scripts/bench.py            (tools from scripts/e2e-tools.sh; make bench)

Rows per stack (TARGETS), each the median of ROUNDS rounds (stack and floors interleaved; each
round ends with `pulumi destroy`, so every round's preview and `up` start from nothing):
  * the stack: `pulumi preview`, the first `pulumi up`, a no-change `pulumi up`;
  * the floor: a minimal program (an explicit provider and as many ConfigMaps as the stack has
    Kubernetes objects) through the same CLI, provider, language host and cluster: the least any
    program of that size costs on this engine;
  * the chain floor: the same number of objects in the stack's shape: each of its StatefulSets
    and Deployments (same kind, same replicas, a pause container) created after a ConfigMap its
    pods name and awaited until its pods are Ready, as the program's are; the objects a Helm v4
    Chart renders for the stack rendered by a Chart too (a floor chart of as many ConfigMaps and
    the same workloads); the rest ConfigMaps. What any program of that size and shape costs
    here: the dependency chain's own floor;
  * kubectl: the objects the program produced (the `inputs` of every Kubernetes resource in
    `pulumi stack export --show-secrets`), applied in one `kubectl apply --server-side` after
    `pulumi destroy` removed them (the retained namespace and claims stay for both, as they would
    for a user); preview's baseline adds `--dry-run=server`, `up`'s adds `kubectl rollout status`
    of the StatefulSets and Deployments, since `pulumi up` waits for them too.
Every preview and `up` runs with `--json` (streamed): its engine events, stamped as they arrive,
give the per-resource timeline; the slowest steps and the phases (engine start, program,
resources, finish) of the median round are printed next to the totals, so the next slow step is
visible. Program evaluation alone is the program under the SDK's mocks (no engine) against
`python -c "import pulumi, pulumi_kubernetes"`, with the imports it pays for
(`python -X importtime`, self time per top-level package).
Figures only: nothing is asserted about time. The machine's load average is printed with them.

This script and its modules import no test module: the cluster, the stacks and the stand-in
charts come from scripts/kwok_cluster.py, scripts/engine_stack.py, scripts/standin_charts.py,
which tests/e2e uses too.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import yaml
from bench_kubectl import bench_kubectl, manifests
from bench_program import EVALUATIONS, program_evaluation
from bench_report import ROWS, StackFigures, load, print_stack
from bench_timeline import up_with_timeline, with_timeline
from engine_stack import Stack, create_stack, install_plugins, project_copy, pulumi_env
from engine_stack import stack_settings as engine_stack_settings
from kwok_cluster import (
    ICC_NAMESPACE,
    MINIKUBE_NAMESPACE,
    ROOT,
    Cluster,
    claim_volumes,
    missing_tools,
    start_cluster,
    stop_cluster,
    tools_bin,
)
from standin_charts import monitoring_settings, write_charts

# icc and minikube with monitoring off, as before; minikube as shipped: monitoring on, its
# Prometheus and Grafana from stand-in charts through the provider's Helm v4 Chart.
TARGETS = ("icc", "minikube", "minikube-shipped")
# Rounds per row, stack and floors interleaved; the median is printed. One run of a row on this
# 2-core machine varies by up to ±20 % (load from other work): a single run cannot tell 1.2x
# from 1.4x. BENCH_ROUNDS and BENCH_TARGETS override (figures only, nothing is asserted).
ROUNDS = 3

FLOOR_PROGRAM = '''\
"""A floor: an explicit provider and `count` objects: ConfigMaps, and for each entry of
`workloads` a StatefulSet or Deployment whose pods name one of those ConfigMaps (so it is
created after it) and whose await waits until they are Ready; for each entry of `charts`, a
Helm v4 Chart of the floor chart with that many objects and workloads of its own."""
import pulumi
import pulumi_kubernetes as k8s

config = pulumi.Config()
provider = k8s.Provider("k8s", kubeconfig=config.require("kubeconfig"),
                        context=config.require("kubeContext"))
opts = pulumi.ResourceOptions(provider=provider)
namespace, stack = config.require("namespace"), pulumi.get_stack()
workloads = config.get_object("workloads") or []
maps = [
    k8s.core.v1.ConfigMap(
        f"floor-{i}",
        metadata={"name": f"{stack}-{i}", "namespace": namespace},
        data={"index": str(i)},
        opts=opts)
    for i in range(config.require_int("count") - len(workloads))
]
for i, workload in enumerate(workloads):
    name, labels = f"{stack}-w{i}", {"app": f"{stack}-w{i}"}
    pod = {
        "metadata": {"labels": labels},
        "spec": {
            "containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10"}],
            "volumes": [{"name": "config", "configMap": {"name": f"{stack}-{i}"}}],
        },
    }
    spec = {"replicas": workload["replicas"], "selector": {"matchLabels": labels}, "template": pod}
    after = pulumi.ResourceOptions(provider=provider, depends_on=[maps[i]])
    if workload["kind"] == "StatefulSet":
        k8s.apps.v1.StatefulSet(f"floor-w{i}", metadata={"name": name, "namespace": namespace},
                                spec={**spec, "serviceName": name}, opts=after)
    else:
        k8s.apps.v1.Deployment(f"floor-w{i}", metadata={"name": name, "namespace": namespace},
                               spec=spec, opts=after)
for j, chart in enumerate(config.get_object("charts") or []):
    values = {"prefix": f"{stack}-c{j}", "workloads": chart["workloads"],
              "configMaps": chart["count"] - len(chart["workloads"])}
    k8s.helm.v4.Chart(f"floor-chart-{j}", chart=config.require("floorChart"),
                      namespace=namespace, values=values, opts=opts)
'''
# The chart of the chain floor: `configMaps` ConfigMaps and the `workloads`, each naming one.
FLOOR_CHART = {
    "Chart.yaml": "apiVersion: v2\nname: floor\nversion: 1.0.0\n",
    "templates/objects.yaml": """\
{{- range $i := until (int .Values.configMaps) }}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: "{{ $.Values.prefix }}-{{ $i }}", namespace: "{{ $.Release.Namespace }}"}
data: {index: "{{ $i }}"}
{{- end }}
{{- range $i, $w := .Values.workloads }}
{{- $name := printf "%s-w%d" $.Values.prefix $i }}
---
apiVersion: apps/v1
kind: {{ $w.kind }}
metadata: {name: "{{ $name }}", namespace: "{{ $.Release.Namespace }}"}
spec:
  replicas: {{ $w.replicas }}
  {{- if eq $w.kind "StatefulSet" }}
  serviceName: "{{ $name }}"
  {{- end }}
  selector: {matchLabels: {app: "{{ $name }}"}}
  template:
    metadata: {labels: {app: "{{ $name }}"}}
    spec:
      containers: [{name: pause, image: "registry.k8s.io/pause:3.10"}]
      volumes: [{name: config, configMap: {name: "{{ $.Values.prefix }}-{{ $i }}"}}]
{{- end }}
""",
}
CHART = "kubernetes:helm.sh/v4:Chart"
WORKLOAD_KINDS = ("StatefulSet", "Deployment")


def namespace_of(target: str) -> str:
    return ICC_NAMESPACE if target == "icc" else MINIKUBE_NAMESPACE


def target_settings(target: str, cluster: Cluster, charts: dict[str, Path]) -> dict:
    if target == "minikube-shipped":
        return engine_stack_settings("minikube", cluster, monitoring_settings(charts))
    return engine_stack_settings(target, cluster)


def measure(stack: Stack, figures: StackFigures, floor: str = "") -> None:
    """preview (nothing deployed), the first `up`, a no-change `up`: one round of each row."""
    timelines = (
        with_timeline(stack, "preview"),
        up_with_timeline(stack),
        up_with_timeline(stack, "--expect-no-changes"),
    )
    for row, timeline in zip(ROWS, timelines, strict=True):
        label = f"{floor} {row}" if floor else row
        figures.timelines.setdefault(label, []).append(timeline)


def fresh_namespace(cluster: Cluster, namespace: str) -> None:
    """No namespace and fresh volumes for its claims, as before a first `up` (the old volumes
    stay Released, bound to nothing, once their claims are gone). Only minikube's stacks own
    their namespace."""
    cluster.kubectl(
        "delete", "namespace", namespace, "--ignore-not-found", "--wait=true", timeout=300
    )
    volumes = claim_volumes("minikube", namespace)
    cluster.kubectl("delete", "pv", "--ignore-not-found", *(v["metadata"]["name"] for v in volumes))
    cluster.apply(volumes)


def tear_down(stack: Stack, cluster: Cluster, namespace: str, owned_namespace: bool) -> None:
    stack.pulumi("destroy", "--yes", "--skip-preview")
    cluster.wait_for("pods gone", lambda: not cluster.get("pods", namespace)["items"], timeout=120)
    if owned_namespace:
        # `destroy` keeps the namespace minikube's stack creates (the data claims live in it);
        # each round starts without it, as a first `up` does.
        fresh_namespace(cluster, namespace)


def floor_shape(export: dict) -> dict:
    """The chain floor's config: the stack's objects and workloads outside its charts, and the
    same for each Helm v4 Chart (its children name the Chart as their parent)."""
    resources = export["deployment"].get("resources", [])
    charts = [r["urn"] for r in resources if r["type"] == CHART]
    shape: dict = {"count": 0, "workloads": []}
    shape["charts"] = [{"count": 0, "workloads": []} for _ in charts]
    for resource in resources:
        for manifest in manifests({"deployment": {"resources": [resource]}}):
            parent = resource.get("parent")
            part = shape["charts"][charts.index(parent)] if parent in charts else shape
            part["count"] += 1
            if manifest["kind"] in WORKLOAD_KINDS:
                replicas = (manifest.get("spec") or {}).get("replicas", 1)
                part["workloads"].append({"kind": manifest["kind"], "replicas": replicas})
    return shape


def bench_target(
    figures: StackFigures, cluster: Cluster, env: dict, tmp: Path, rounds: int, charts
) -> None:
    """`rounds` rounds of stack then floors, interleaved, so drifting load hits all alike."""
    target, namespace = figures.target, namespace_of(figures.target)
    owned = namespace != ICC_NAMESPACE
    if owned:
        fresh_namespace(cluster, namespace)  # another target may have left it
    state = Path(env["E2E_STATE_DIR"])
    workdir = project_copy(tmp / f"project-{target}", state)
    settings = target_settings(target, cluster, charts)
    stack = create_stack(f"bench-{target}", workdir, env, cluster.bin_dir, settings)
    floors: dict[str, Stack] = {}
    objects: list[dict] = []
    for round_ in range(rounds):
        measure(stack, figures)
        if not floors:
            export = json.loads(stack.pulumi("stack", "export", "--show-secrets").stdout)
            objects = manifests(export)
            figures.objects = len(objects)
            shape = floor_shape(export)
            figures.workloads = sum(1 for o in objects if o["kind"] in WORKLOAD_KINDS)
            figures.charts = len(shape["charts"])
            floors = {
                "floor": floor_stack("floor", figures, {"count": len(objects)}, cluster, env, tmp),
                "chain floor": floor_stack("chain floor", figures, shape, cluster, env, tmp),
            }
        for floor, floor_stack_ in floors.items():
            measure(floor_stack_, figures, floor)
            floor_stack_.pulumi("destroy", "--yes", "--skip-preview")
        # The last round keeps the namespace: kubectl's baseline applies into it.
        tear_down(stack, cluster, namespace, owned_namespace=owned and round_ < rounds - 1)
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


def floor_stack(
    floor: str, figures: StackFigures, shape: dict, cluster: Cluster, env: dict, tmp: Path
) -> Stack:
    name = f"{floor.replace(' ', '-')}-{figures.target}"
    workdir = floor_project(tmp / name, Path(env["E2E_STATE_DIR"]))
    chart = tmp / "floor-chart"
    for file, text in FLOOR_CHART.items():
        (chart / file).parent.mkdir(parents=True, exist_ok=True)
        (chart / file).write_text(text)
    return create_stack(
        name,
        workdir,
        env,
        cluster.bin_dir,
        {
            "kubeconfig": cluster.kubeconfig.read_text(),
            "kubeContext": cluster.context,
            "namespace": ICC_NAMESPACE,
            "floorChart": str(chart),
            "workloads": [],
            "charts": [],
            **shape,
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
        charts = write_charts(tmp / "charts")
        # Unique per run: other sessions may run their own kwok clusters on this machine.
        cluster = start_cluster(bin_dir, tmp / "kwok", name=f"icc-ollama-bench-{os.getpid()}")
        try:
            # The API server builds its OpenAPI document on the first request (seconds); a
            # user's cluster has long done so. Warm it up, or the first row would pay for it.
            cluster.kubectl("get", "--raw", "/openapi/v2", timeout=300)
            for target in targets:
                figures = StackFigures(target)
                bench_target(figures, cluster, env, tmp, rounds, charts)
                print_stack(figures)
                sys.stdout.flush()
        finally:
            stop_cluster(cluster)
    print(f"\nload average at end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
