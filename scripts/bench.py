#!/usr/bin/env python3
"""Seconds for the real `pulumi preview` / `pulumi up` of each Kubernetes stack on a local kwok
cluster, against `kubectl apply --server-side` of the same objects as the baseline.

    .venv/bin/python scripts/bench.py            (tools from scripts/e2e-tools.sh)

The objects for the baseline are the ones the program produced: the `inputs` of every Kubernetes
resource in `pulumi stack export --show-secrets`, applied in one `kubectl apply --server-side`
after `pulumi destroy` removed them (the retained namespace and claims stay for both, as they
would for a user). The preview baseline is the same apply with `--dry-run=server`; the `up`
baseline adds `kubectl rollout status` of the StatefulSets, since `pulumi up` waits for them too.
Figures only: nothing is asserted about time.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

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

from test_engine import stack_settings  # noqa: E402


SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"  # how a state export marks a secret value


def reveal(value):
    """`stack export --show-secrets` keeps secrets as {sig, plaintext: <JSON>}; kubectl wants the value."""
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
        inputs = {k: reveal(v) for k, v in (resource.get("inputs") or {}).items()
                  if not k.startswith("__")}
        if "apiVersion" in inputs and "kind" in inputs:
            objects.append(inputs)
    return objects


def timed(fn) -> float:
    started = time.monotonic()
    fn()
    return time.monotonic() - started


def bench_stack(target: str, cluster, env: dict, tmp: Path) -> dict[str, float]:
    namespace = ICC_NAMESPACE if target == "icc" else MINIKUBE_NAMESPACE
    state = Path(env["E2E_STATE_DIR"])
    workdir = project_copy(tmp / f"project-{target}", state)
    stack = create_stack(f"bench-{target}", workdir, env, cluster.bin_dir,
                         stack_settings(target, cluster))
    stack.timed("pulumi preview", "preview")
    stack.timed("pulumi up", "up", "--yes", "--skip-preview")
    export = json.loads(stack.pulumi("stack", "export", "--show-secrets").stdout)
    objects = manifests(export)
    stack.pulumi("destroy", "--yes", "--skip-preview")
    cluster.wait_for("pods gone", lambda: not cluster.get("pods", namespace)["items"], timeout=120)
    text = yaml.safe_dump_all(objects, sort_keys=False)
    (tmp / f"{target}.yaml").write_text(text)
    apply = ["apply", "--server-side", "--force-conflicts", "--field-manager", "bench", "-f", "-"]
    times = dict(stack.timings)
    times["kubectl apply --dry-run=server"] = timed(
        lambda: cluster.kubectl(*apply, "--dry-run=server", input=text))
    sets = [o["metadata"]["name"] for o in objects if o["kind"] == "StatefulSet"]

    def apply_and_wait():
        cluster.kubectl(*apply, input=text)
        for name in sets:
            cluster.kubectl("rollout", "status", f"statefulset/{name}", "-n", namespace,
                            "--timeout=300s", timeout=320)
    times["kubectl apply (+rollout status)"] = timed(apply_and_wait)
    kinds = [o for o in objects if o["kind"] != "Namespace"]
    cluster.kubectl("delete", "--wait=true", "-f", "-", input=yaml.safe_dump_all(kinds), timeout=300)
    return times


def main() -> int:
    bin_dir = tools_bin()
    missing = missing_tools(bin_dir)
    if missing:
        print(f"tools missing in {bin_dir}: {', '.join(missing)}; run scripts/e2e-tools.sh")
        return 2
    with tempfile.TemporaryDirectory(prefix="icc-bench-") as raw:
        tmp = Path(raw)
        (tmp / "kwok").mkdir()
        (tmp / "home").mkdir()
        (tmp / "state").mkdir()
        env = pulumi_env(bin_dir, tmp / "home", tmp / "state")
        env["E2E_STATE_DIR"] = str(tmp / "state")
        install_plugins(bin_dir, env)
        cluster = start_cluster(bin_dir, tmp / "kwok", name="icc-ollama-bench")
        try:
            with LegacyTokenReferences(cluster, (ICC_NAMESPACE, MINIKUBE_NAMESPACE)):
                report(cluster, env, tmp)
        finally:
            stop_cluster(cluster)
    return 0


def report(cluster, env: dict, tmp: Path) -> None:
    for target in ("icc", "minikube"):
        times = bench_stack(target, cluster, env, tmp)
        print(f"\n== {target} ==")
        for label, seconds in times.items():
            print(f"  {label:34s} {seconds:7.2f} s")
        print(f"  ratio preview / kubectl dry-run     "
              f"{times['pulumi preview'] / times['kubectl apply --dry-run=server']:7.1f} x")
        print(f"  ratio up / kubectl apply+rollout    "
              f"{times['pulumi up'] / times['kubectl apply (+rollout status)']:7.1f} x")


if __name__ == "__main__":
    sys.exit(main())
