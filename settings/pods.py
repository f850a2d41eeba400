"""What the release runs in the namespace: each pod kind at its highest count, with what one such
pod requests, limits and claims, as the components render it (a test compares them).

To extend: a component with pods of its own adds a `PodBudget` to `release_pods`; a claim that an
existing pod mounts (a backup claim beside Open WebUI's data, say) goes into that pod's `claims`
with the key of its size. Every check of settings/budget.py then counts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from settings.monitoring import Monitoring
from settings.ollama import Ollama
from settings.quantity import parse_quantity
from settings.quota import NodeCapacity, Quota
from settings.sidecars import (
    BACKUP_RESOURCES,
    EXPORTER_RESOURCES,
    KSM_RESOURCES,
    LOADER_RESOURCES,
    RELOADER_RESOURCES,
)
from settings.webui import WebUi


class Release(Protocol):
    """The parts of a stack that decide its pods and the budgets they must fit (`Settings`)."""

    @property
    def target(self) -> str: ...
    @property
    def ollama(self) -> Ollama: ...
    @property
    def webui(self) -> WebUi: ...
    @property
    def monitoring(self) -> Monitoring: ...
    @property
    def quota(self) -> Quota: ...
    @property
    def node_capacity(self) -> NodeCapacity: ...


@dataclass(frozen=True)
class PodBudget:
    """One kind of pod: how many there can be at most, and what each one requests and limits."""

    name: str
    replicas: int
    replicas_key: str  # the setting that decides the count, named in the message
    requests: Mapping[str, Decimal] = field(default_factory=dict)
    limits: Mapping[str, Decimal] = field(default_factory=dict)
    claims_key: str = ""  # the setting that sizes its biggest claim, named when storage overruns
    claim_size: str = ""  # that claim's size, as given


def pod_budget(
    name: str,
    replicas: int,
    replicas_key: str,
    containers: list[dict],
    gpu_resource: str = "",
    claims: Mapping[str, str] | None = None,
) -> PodBudget:
    """Sum the containers' `resources` blocks (as rendered) into one pod's amounts; `claims` maps
    the setting that sizes each of its claims to that size."""
    totals: dict[str, dict[str, Decimal]] = {"requests": {}, "limits": {}}
    for container in containers:
        for side, amounts in totals.items():
            for resource, amount in container.get(side, {}).items():
                key = "gpu" if resource == gpu_resource else resource
                amounts[key] = amounts.get(key, Decimal(0)) + parse_quantity(amount)
    claims_key = claim_size = ""
    if claims:
        sizes = {key: parse_quantity(size) for key, size in claims.items()}
        totals["requests"]["storage"] = sum(sizes.values(), Decimal(0))
        claims_key = max(sizes, key=lambda key: sizes[key])
        claim_size = claims[claims_key]
    return PodBudget(
        name, replicas, replicas_key, totals["requests"], totals["limits"], claims_key, claim_size
    )


def ollama_pods(release: Release) -> PodBudget:
    ollama = release.ollama
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
    return pod_budget(
        "Ollama",
        count,
        key,
        containers,
        gpu.resource_name,
        {"ollama.storage.size": ollama.storage.size},
    )


def webui_pods(release: Release) -> PodBudget:
    webui, backup = release.webui, release.webui.backup
    # With backups on: the backup sidecar and the backup claim (the init container that takes
    # the pre-upgrade snapshot is smaller than the containers, so it adds nothing).
    containers = [webui.resources.requirements()]
    claims = {"webui.storage.size": webui.storage.size}
    if backup.enabled:
        containers.append(BACKUP_RESOURCES)
        claims["webui.backup.storage.size"] = backup.storage.size
    return pod_budget("Open WebUI", 1, "webui.resources", containers, claims=claims)


def monitoring_pods(release: Release) -> list[PodBudget]:
    """Prometheus (server + config reloader), Grafana, the exporter and, cluster-wide,
    kube-state-metrics: each one pod, sized by the same constants the values are built from."""
    config = release.monitoring
    if not config.enabled:
        return []
    prometheus = config.prometheus
    claims = (
        {"monitoring.prometheus.storageSize": prometheus.storage_size}
        if prometheus.storage_size
        else None
    )
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


def release_pods(release: Release) -> list[PodBudget]:
    """Every pod kind this release runs in the namespace; new components append theirs here."""
    return [ollama_pods(release), webui_pods(release), *monitoring_pods(release)]
