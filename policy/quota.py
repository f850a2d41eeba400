"""quota-fits: the release's worst case, counted from the resources the engine is given, against
the configured namespace quota (`quota.*` in the stack's config).

The program checks the same budget from its settings (settings/quota.py models each component's
pods); this rule counts the objects themselves and shares no code with that model, so a pod, a
sidecar or a claim the model does not know about still counts here, and a mistake in either is
caught by the other.

Worst case: each workload at its highest pod count (spec.replicas, or its HPA's maxReplicas when
that is higher; a Job's parallelism; one pod of a DaemonSet, as on a single-node cluster), times
what one pod takes as the quota admission counts it (Kubernetes 1.29 and later, with sidecars):
the larger of the app containers plus the sidecars (init containers with restartPolicy Always)
and each other init container plus the sidecars started before it. A container's requests default
to its limits where it sets only limits, as the API server defaults them. Storage is every claim
template times the pod count, plus every PersistentVolumeClaim. Not counted: a Deployment's surge
pod during a rollout (the program's model leaves it out as well). Docker stacks have no
namespace quota; a Helm v3 Release is one object whose pods the pack cannot see (Chart v4 objects
it sees one by one).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from facts import Facts
from wire import Resource, amount_text, get, items, pod_spec, quantity

# (key under `quota`, the pods' side it bounds, resource, how a message names the amount)
QUOTA_LINES = (
    ("gpu", "requests", "gpu", "GPUs"),
    ("requests.cpu", "requests", "cpu", "CPU of requests"),
    ("requests.memory", "requests", "memory", "memory requests"),
    ("limits.cpu", "limits", "cpu", "CPU of limits"),
    ("limits.memory", "limits", "memory", "memory limits"),
    ("storage", "requests", "storage", "storage in claims"),
)
Amounts = dict[tuple[str, str], Decimal]  # (side, resource) -> amount


def container_amounts(container: Mapping[str, Any]) -> Amounts:
    """One container's requests and limits; a request defaults to the limit it lacks."""
    found: Amounts = {}
    limits = get(container, "resources", "limits", default={})
    requests = {**limits, **get(container, "resources", "requests", default={})}
    for side, block in (("requests", requests), ("limits", limits)):
        for name, value in block.items():
            amount = quantity(value)
            if amount is not None:
                key = (side, "gpu" if name.endswith("/gpu") else name)
                found[key] = found.get(key, Decimal(0)) + amount
    return found


def plus(a: Amounts, b: Amounts) -> Amounts:
    return {key: a.get(key, Decimal(0)) + b.get(key, Decimal(0)) for key in {*a, *b}}


def larger(a: Amounts, b: Amounts) -> Amounts:
    return {key: max(a.get(key, Decimal(0)), b.get(key, Decimal(0))) for key in {*a, *b}}


def pod_amounts(spec: Mapping[str, Any]) -> Amounts:
    """What one pod counts against the quota (sidecars run beside the app containers)."""
    sidecars: Amounts = {}
    init_peak: Amounts = {}
    for container in items(spec.get("initContainers")):
        amounts = container_amounts(container)
        if get(container, "restartPolicy") == "Always":
            sidecars = plus(sidecars, amounts)
            init_peak = larger(init_peak, sidecars)
        else:
            init_peak = larger(init_peak, plus(sidecars, amounts))
    app: Amounts = {}
    for container in items(spec.get("containers")):
        app = plus(app, container_amounts(container))
    return larger(plus(app, sidecars), init_peak)


def workload_key(resource: Resource) -> tuple[str, str]:
    return resource.kind, get(resource.props, "metadata", "name") or resource.name


def pod_counts(resources: list[Resource]) -> dict[tuple[str, str], int]:
    """The most pods each workload can have."""
    counts = {}
    for workload in resources:
        if pod_spec(workload) is None:
            continue
        if workload.kind in ("Job", "CronJob"):
            job = ("spec", "jobTemplate", "spec") if workload.kind == "CronJob" else ("spec",)
            count = get(workload.props, *job, "parallelism", default=1)
        elif workload.kind in ("Pod", "DaemonSet"):
            count = 1
        else:
            count = get(workload.props, "spec", "replicas", default=1)
        counts[workload_key(workload)] = int(count)
    for hpa in resources:
        if hpa.kubernetes and hpa.kind == "HorizontalPodAutoscaler":
            target = get(hpa.props, "spec", "scaleTargetRef", default={})
            key = (get(target, "kind"), get(target, "name"))
            most = get(hpa.props, "spec", "maxReplicas")
            if key in counts and most is not None:
                counts[key] = max(counts[key], int(most))
    return counts


def worst_case(resources: list[Resource]) -> dict[tuple[str, str], list[tuple[str, Decimal]]]:
    """(side, resource) -> the terms that make it up: (what, amount)."""
    terms: dict[tuple[str, str], list[tuple[str, Decimal]]] = {}
    counts = pod_counts(resources)
    for resource in resources:
        spec = pod_spec(resource)
        if spec is not None:
            count = counts[workload_key(resource)]
            one = pod_amounts(spec)
            for claim in items(get(resource.props, "spec", "volumeClaimTemplates")):
                size = quantity(get(claim, "spec", "resources", "requests", "storage"))
                one = plus(one, {("requests", "storage"): size or Decimal(0)})
            for key, amount in one.items():
                if amount:
                    label = f"{count} × {resource.label}"
                    terms.setdefault(key, []).append((label, count * amount))
        elif resource.kubernetes and resource.kind == "PersistentVolumeClaim":
            size = quantity(get(resource.props, "spec", "resources", "requests", "storage"))
            if size:
                terms.setdefault(("requests", "storage"), []).append((resource.label, size))
    return terms


def quota_fits(resources: list[Resource], facts: Facts) -> list[str]:
    if not facts.quota or not facts.kubernetes:
        return []
    need = worst_case(resources)
    problems = []
    for key, side, resource, what in QUOTA_LINES:
        budget = get(facts.quota, *key.split("."))
        if budget is None:
            continue
        limit = quantity(budget)
        if limit is None:
            problems.append(f"quota.{key} is {budget!r}, not a Kubernetes quantity")
            continue
        terms = need.get((side, resource), [])
        total = sum((amount for _, amount in terms), Decimal(0))
        if total > limit:
            parts = " + ".join(f"{label} ({amount_text(resource, n)})" for label, n in terms)
            problems.append(
                f"the release's worst case needs {amount_text(resource, total)} {what} but "
                f"quota.{key} is {budget}: {parts}; pods beyond the quota are refused: lower "
                f"the replicas or resources, or raise quota.{key} if the namespace quota allows it"
            )
    return problems
