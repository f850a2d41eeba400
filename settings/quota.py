"""The `quota` section and the namespace budget: does this release's worst case fit?

Worst case means every pod kind at its highest count (the HPA's maxReplicas when autoscaling)
times what one such pod requests and may use. StatefulSets update one pod at a time without a
surge pod, and Ollama claims are kept when scaling down (`whenScaled: Retain`), so this is the
most the release ever holds. The per-pod amounts come from the same `Resources.requirements` and
sidecar sizes the components render with; a test compares them with the rendered pods. Another
component adds its pods by adding a PodBudget to `release_pods`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import Field

from settings.base import Cpu, KeyedError, Memory, Model, StorageSize
from settings.quantity import format_amount, parse_quantity
from settings.sidecars import (
    BACKUP_RESOURCES,
    EXPORTER_RESOURCES,
    KSM_RESOURCES,
    LOADER_RESOURCES,
    RELOADER_RESOURCES,
)

if TYPE_CHECKING:
    from settings.stack import Settings


class QuotaAmounts(Model):
    cpu: Cpu | None = None
    memory: Memory | None = None


class Quota(Model):
    """The namespace's ResourceQuota as far as it is known (`kubectl describe resourcequota`).
    Unset amounts are not checked; the ICC standard numbers are not public."""

    requests: QuotaAmounts = QuotaAmounts()
    limits: QuotaAmounts = QuotaAmounts()
    gpu: int | None = Field(default=None, ge=0, le=64)
    storage: StorageSize | None = None


class NodeCapacity(Model):
    """What the one node of a single-node cluster offers (Minikube: `minikube start --cpus
    --memory`). Pods that ask for more stay Pending and `pulumi up` waits until it times out."""

    cpu: Cpu | None = None
    memory: Memory | None = None


# (quota key, side of the pods' resources it bounds, resource); the order of the checks.
QUOTA_CHECKS = (
    ("quota.gpu", "requests", "gpu"),
    ("quota.requests.cpu", "requests", "cpu"),
    ("quota.requests.memory", "requests", "memory"),
    ("quota.limits.cpu", "limits", "cpu"),
    ("quota.limits.memory", "limits", "memory"),
    ("quota.storage", "requests", "storage"),
)
# What else the user can lower, per resource, besides the replica count.
_SMALLER = {
    "gpu": "ollama.gpu.count",
    "cpu": "the pods' resources.{side}.cpu",
    "memory": "the pods' resources.{side}.memory",
    "storage": "the storage sizes",
}


@dataclass(frozen=True)
class PodBudget:
    """One kind of pod: how many there can be at most, and what each one requests and limits."""

    name: str
    replicas: int
    replicas_key: str  # the setting that decides the count, named in the message
    requests: Mapping[str, Decimal] = field(default_factory=dict)
    limits: Mapping[str, Decimal] = field(default_factory=dict)


def pod_budget(
    name: str,
    replicas: int,
    replicas_key: str,
    containers: list[dict],
    gpu_resource: str = "",
    claims: tuple[str, ...] = (),
) -> PodBudget:
    """Sum the containers' `resources` blocks (as rendered) into one pod's amounts."""
    totals: dict[str, dict[str, Decimal]] = {"requests": {}, "limits": {}}
    for container in containers:
        for side, amounts in totals.items():
            for resource, amount in container.get(side, {}).items():
                key = "gpu" if resource == gpu_resource else resource
                amounts[key] = amounts.get(key, Decimal(0)) + parse_quantity(amount)
    if claims:
        totals["requests"]["storage"] = sum((parse_quantity(size) for size in claims), Decimal(0))
    return PodBudget(name, replicas, replicas_key, totals["requests"], totals["limits"])


def ollama_pods(settings: Settings) -> PodBudget:
    ollama = settings.ollama
    gpu = ollama.gpu
    server = ollama.resources.requirements(
        {gpu.resource_name: str(gpu.count)} if gpu.enabled else None
    )
    # The model-loader sidecar runs only when models are configured (see OllamaServer).
    containers = [server, LOADER_RESOURCES] if ollama.models else [server]
    if ollama.autoscaling.enabled:
        count, key = ollama.autoscaling.max_replicas, "ollama.autoscaling.maxReplicas"
    else:
        count, key = ollama.replicas, "ollama.replicas"
    return pod_budget("Ollama", count, key, containers, gpu.resource_name, (ollama.storage.size,))


def webui_pods(settings: Settings) -> PodBudget:
    webui, backup = settings.webui, settings.webui.backup
    # With backups on: the backup sidecar and the backup claim (the init container that takes
    # the pre-upgrade snapshot is smaller than the containers, so it adds nothing).
    containers = [webui.resources.requirements()]
    claims = [webui.storage.size]
    if backup.enabled:
        containers.append(BACKUP_RESOURCES)
        claims.append(backup.storage.size)
    return pod_budget("Open WebUI", 1, "webui.resources", containers, claims=tuple(claims))


def monitoring_pods(settings: Settings) -> list[PodBudget]:
    """Prometheus (server + config reloader), Grafana, the exporter and, cluster-wide,
    kube-state-metrics: each one pod, sized by the same constants the values are built from."""
    config = settings.monitoring
    if not config.enabled:
        return []
    prometheus = config.prometheus
    claims = (prometheus.storage_size,) if prometheus.storage_size else ()
    pods = [
        pod_budget(
            "Prometheus",
            1,
            "monitoring.prometheus.resources",
            [prometheus.resources.requirements(), RELOADER_RESOURCES],
            claims=claims,
        ),
        pod_budget(
            "Grafana", 1, "monitoring.grafana.resources", [config.grafana.resources.requirements()]
        ),
    ]
    if config.exporter.enabled:
        pods.append(
            pod_budget("Ollama exporter", 1, "monitoring.exporter.enabled", [EXPORTER_RESOURCES])
        )
    if config.scope == "cluster":
        pods.append(pod_budget("kube-state-metrics", 1, "monitoring.scope", [KSM_RESOURCES]))
    return pods


def release_pods(settings: Settings) -> list[PodBudget]:
    """Every pod kind this release runs in the namespace; new components append theirs here."""
    return [ollama_pods(settings), webui_pods(settings), *monitoring_pods(settings)]


def quota_amount(quota: Quota, quota_key: str) -> Decimal | None:
    value: Any = quota
    for part in quota_key.split(".")[1:]:
        value = getattr(value, part)
    return None if value is None else parse_quantity(value)


def check_budget(
    pods: list[PodBudget],
    quota_key: str,
    side: str,
    resource: str,
    budget: Decimal,
    allows: str = "if the namespace quota allows it",
) -> KeyedError | None:
    """The one message for a budget the pods exceed, pinned to the biggest consumer's count."""
    shares = [(pod, getattr(pod, side).get(resource, Decimal(0))) for pod in pods]
    shares = [(pod, amount) for pod, amount in shares if amount > 0]
    need = sum((pod.replicas * amount for pod, amount in shares), Decimal(0))
    if need <= budget:
        return None
    terms = " + ".join(f"{_pods(pod)} × {amount_text(resource, amount)}" for pod, amount in shares)
    biggest = max(shares, key=lambda share: share[0].replicas * share[1])[0]
    smaller = _SMALLER.get(resource, "the pods' {side}").format(side=side)
    message = (
        f"worst case {terms} = {amount_text(resource, need)}{_of(resource, side)}, more "
        f"than {quota_key} = {amount_text(resource, budget)}; lower "
        f"{biggest.replicas_key} or {smaller}, or raise {quota_key} {allows}"
    )
    given = biggest.replicas if biggest.replicas_key.lower().endswith("replicas") else None
    return KeyedError(biggest.replicas_key, given, message)


def amount_text(resource: str, value: Decimal) -> str:
    text = format_amount(resource, value)
    if resource == "gpu":
        return f"{text} GPU" + ("" if value == 1 else "s")
    return f"{text} CPU" if resource == "cpu" else text


def _pods(pod: PodBudget) -> str:
    return f"{pod.replicas} {pod.name} pod" + ("" if pod.replicas == 1 else "s")


def _of(resource: str, side: str) -> str:
    if resource == "gpu":
        return ""
    if resource == "storage":
        return " of claims"
    return f" of {side}" if resource == "cpu" else f" of memory {side}"


def budget_overrun(settings: Settings, pods: list[PodBudget] | None = None) -> KeyedError | None:
    """The first configured quota the release's worst case exceeds, or None."""
    pods = release_pods(settings) if pods is None else pods
    for quota_key, side, resource in QUOTA_CHECKS:
        budget = quota_amount(settings.quota, quota_key)
        if budget is not None:
            overrun = check_budget(pods, quota_key, side, resource, budget)
            if overrun is not None:
                return overrun
    return None


def node_overrun(settings: Settings) -> KeyedError | None:
    """Does the release's worst case fit the one node's capacity (single-node targets)?"""
    pods = release_pods(settings)
    for resource in ("cpu", "memory"):
        amount = getattr(settings.node_capacity, resource)
        if amount is not None:
            overrun = check_budget(
                pods,
                f"nodeCapacity.{resource}",
                "requests",
                resource,
                parse_quantity(amount),
                allows="if your node is bigger (`minikube start --cpus --memory`)",
            )
            if overrun is not None:
                return overrun
    return None


def check_quota(settings: Settings) -> None:
    if settings.target == "docker":
        return
    overrun = budget_overrun(settings) or node_overrun(settings)
    if overrun is not None:
        raise overrun
