"""`make bench`'s baseline: the objects a stack made (from its state export), applied with
`kubectl apply --server-side`, as a dry run (against preview) and with `rollout status` of every
StatefulSet and Deployment (against `up`)."""

from __future__ import annotations

import json
import time

import yaml

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"  # how a state export marks a secret value


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


def bench_kubectl(figures, objects: list[dict], cluster, namespace: str) -> None:
    text = yaml.safe_dump_all(objects, sort_keys=False)
    apply = ["apply", "--server-side", "--force-conflicts", "--field-manager", "bench", "-f", "-"]
    figures.seconds["kubectl apply --dry-run=server"] = timed(
        lambda: cluster.kubectl(*apply, "--dry-run=server", input=text)
    )
    workloads = [
        f"{o['kind'].lower()}/{o['metadata']['name']}"
        for o in objects
        if o["kind"] in ("StatefulSet", "Deployment")
    ]

    def apply_and_wait():
        cluster.kubectl(*apply, input=text)
        for workload in workloads:
            cluster.kubectl(
                "rollout", "status", workload, "-n", namespace, "--timeout=300s", timeout=320
            )

    figures.seconds["kubectl apply + rollout status"] = timed(apply_and_wait)
    kinds = [o for o in objects if o["kind"] != "Namespace"]
    cluster.kubectl(
        "delete", "--wait=true", "-f", "-", input=yaml.safe_dump_all(kinds), timeout=300
    )
