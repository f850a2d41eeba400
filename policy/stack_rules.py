"""The ICC rules that need the whole stack: default-deny, auth behind an Ingress, quota fit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from wire import (
    Facts,
    Resource,
    containers,
    get,
    is_unknown,
    items,
    pod_labels,
    pod_spec,
    quantity,
    reveal,
)

from settings.quantity import format_amount
from settings.quota import QUOTA_CHECKS


def workloads(resources: Iterable[Resource]) -> list[Resource]:
    return [r for r in resources if pod_spec(r) is not None]


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    if get(selector, "matchExpressions"):
        return False  # not evaluated: only label equality counts as selecting here
    match = get(selector, "matchLabels", default={})
    return all(labels.get(key) == value for key, value in match.items())


def network_policies(resources: Iterable[Resource]) -> list[Resource]:
    return [
        r
        for r in resources
        if r.kubernetes
        and r.kind == "NetworkPolicy"
        and "Ingress" in items(get(r.props, "spec", "policyTypes", default=["Ingress"]))
    ]


def default_deny(resources: list[Resource], facts: Facts) -> list[str]:
    pods = workloads(resources)
    kubernetes = facts.kubernetes if facts.kubernetes is not None else bool(pods)
    if not kubernetes:
        return []
    policies = network_policies(resources)
    denies = [p for p in policies if not items(get(p.props, "spec", "ingress"))]
    if not denies:
        return [
            "no default-deny NetworkPolicy (policyTypes [Ingress], no ingress rules): every "
            "pod, Ollama's unauthenticated API included, is open to the whole cluster; keep "
            "`networkPolicies.enabled` true"
        ]
    open_pods = [
        w.label
        for w in pods
        if not any(
            selects(get(p.props, "spec", "podSelector", default={}), pod_labels(w))
            for p in policies
        )
    ]
    if open_pods:
        return [
            f"{', '.join(open_pods)}: no NetworkPolicy selects these pods, so they accept "
            f"traffic from the whole cluster; label them app.kubernetes.io/part-of: "
            f"icc-ollama (what the default-deny policy selects)"
        ]
    return []


def env_value(container: Mapping[str, Any], name: str) -> Any:
    for env in items(container.get("env")):
        if get(env, "name") == name:
            return env.get("value") if isinstance(env, Mapping) else None
    return None


def webui_auth(resources: list[Resource], facts: Facts) -> list[str]:
    if not any(r.kubernetes and r.kind == "Ingress" for r in resources):
        return []
    problems = []
    for workload in workloads(resources):
        for container in containers(pod_spec(workload)):
            if "open-webui" not in str(get(container, "image") or ""):
                continue
            auth = reveal(env_value(container, "WEBUI_AUTH"))
            if is_unknown(auth):
                continue
            if str(auth).lower() != "true":
                problems.append(
                    f"{workload.label}: Open WebUI is published through an Ingress "
                    f"with WEBUI_AUTH={auth}: anyone on the network could chat and "
                    f"read chats; set `webui.auth` true"
                )
    return problems


def replica_counts(resources: list[Resource]) -> dict[tuple[str, str], int]:
    """The most pods each workload can have: spec.replicas, or its HPA's maxReplicas."""
    counts = {}
    for workload in workloads(resources):
        name = get(workload.props, "metadata", "name") or workload.name
        replicas = get(workload.props, "spec", "replicas", default=1)
        counts[(workload.kind, name)] = 1 if workload.kind == "Pod" else int(replicas)
    for hpa in resources:
        if hpa.kubernetes and hpa.kind == "HorizontalPodAutoscaler":
            ref = get(hpa.props, "spec", "scaleTargetRef", default={})
            key = (ref.get("kind"), ref.get("name"))
            if key in counts and get(hpa.props, "spec", "maxReplicas") is not None:
                counts[key] = max(counts[key], int(get(hpa.props, "spec", "maxReplicas")))
    return counts


def add(totals: dict, key: tuple[str, str], amount: Decimal | None) -> None:
    totals[key] = totals.get(key, Decimal(0)) + (amount or Decimal(0))


def pod_amounts(workload: Resource) -> dict[tuple[str, str], Decimal]:
    """One pod's (side, resource) sums over its containers, claim templates as storage."""
    totals: dict[tuple[str, str], Decimal] = {}
    for container in items(pod_spec(workload).get("containers")):  # type: ignore[union-attr]
        for side in ("requests", "limits"):
            for name, amount in get(container, "resources", side, default={}).items():
                key = (side, "gpu" if name.endswith("/gpu") else name)
                add(totals, key, quantity(amount))
    for claim in items(get(workload.props, "spec", "volumeClaimTemplates")):
        size = quantity(get(claim, "spec", "resources", "requests", "storage"))
        add(totals, ("requests", "storage"), size)
    return totals


def quota_fits(resources: list[Resource], facts: Facts) -> list[str]:
    if not facts.quota or not facts.kubernetes:
        return []
    counts = replica_counts(resources)
    need: dict[tuple[str, str], Decimal] = {}
    for workload in workloads(resources):
        name = get(workload.props, "metadata", "name") or workload.name
        for key, amount in pod_amounts(workload).items():
            add(need, key, counts[(workload.kind, name)] * amount)
    for claim in resources:
        if claim.kubernetes and claim.kind == "PersistentVolumeClaim":
            size = quantity(get(claim.props, "spec", "resources", "requests", "storage"))
            add(need, ("requests", "storage"), size)
    problems = []
    for quota_key, side, resource in QUOTA_CHECKS:  # the settings check the same lines
        key = quota_key.removeprefix("quota.")
        budget = get(facts.quota, *key.split("."))
        if budget is None:
            continue
        total = need.get((side, resource), Decimal(0))
        if total > quantity(budget):
            problems.append(
                f"the release's worst case needs {format_amount(resource, total)} "
                f"{resource} ({side}) but quota.{key} is {budget}: pods beyond it are "
                f"refused; lower the replicas or resources, or raise quota.{key} if "
                f"the namespace quota allows it"
            )
    return problems
