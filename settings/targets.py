"""Per-target defaults: what a stack gets before its own `Pulumi.<stack>.yaml` is applied.

One function per target, as plain dictionaries in config-file spelling, so a reader compares the
targets side by side. The stack's values are merged over these (`deep_merge`), key by key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from settings.cluster import ICC_API_SERVER
from settings.monitoring import Grafana, Prometheus


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _monitoring_defaults() -> dict[str, Any]:
    # Spelled out here (not only in the model) so that setting one amount keeps the others.
    return {
        "prometheus": {"resources": Prometheus().resources.model_dump(by_alias=True)},
        "grafana": {"resources": Grafana().resources.model_dump(by_alias=True)},
    }


def _laptop_backups() -> dict[str, Any]:
    # A laptop is often off at night: every six hours (a missed time is made up at the next
    # start), three days kept. The storage size means nothing on Docker (a volume).
    return {"schedule": "0 */6 * * *", "retention": 12, "storage": {"size": "2Gi"}}


def icc() -> dict[str, Any]:
    return {
        "createNamespace": False,
        # The only cluster this stack may change (checked before anything is created).
        "iccApiServer": ICC_API_SERVER,
        # The ICC ingress-nginx with cert-manager's issuer; whether that controller publishes
        # `.status.loadBalancer` is unknown, and Pulumi would wait 10 minutes for it.
        "ingress": {"tls": {"clusterIssuer": "letsencrypt-production"}, "skipAwait": True},
        # Opt-in: it needs grafanaAdminPassword and room in the namespace quota. Namespace
        # scope is the only one an ICC user can run.
        "monitoring": deep_merge(
            _monitoring_defaults(),
            {
                "enabled": False,
                "scope": "namespace",
                "prometheus": {"storageClass": "rook-ceph-block"},
            },
        ),
        "ollama": {
            "replicas": 1,
            "gpu": {"enabled": True, "count": 1, "cudaEnv": True},
            "tolerations": [
                {"key": "gpu-tesla-v100", "operator": "Exists", "effect": "NoSchedule"}
            ],
            "resources": {
                "requests": {"cpu": "1", "memory": "8Gi"},
                "limits": {"cpu": "4", "memory": "16Gi"},
            },
            "storage": {"size": "20Gi", "storageClass": "rook-ceph-block"},
            "keepAlive": "30m",
            "numParallel": 2,
            "maxLoadedModels": 2,
        },
        "webui": {
            "resources": {
                "requests": {"cpu": "250m", "memory": "1Gi"},
                "limits": {"cpu": "1", "memory": "2Gi"},
            },
            "storage": {"size": "5Gi", "storageClass": "rook-ceph-block"},
            # A server that runs at night: one snapshot a day, two weeks kept.
            "backup": {
                "schedule": "30 2 * * *",
                "retention": 14,
                "storage": {"size": "5Gi", "storageClass": "rook-ceph-block"},
            },
        },
    }


def minikube() -> dict[str, Any]:
    return {
        "namespace": "icc-ollama",
        "createNamespace": True,
        "kubeContext": "minikube",
        # The machine the README's `minikube start --cpus 4 --memory 12g --disk-size 40g` makes
        # (minikube reads 40g as 40 GiB). The claims must fit its disk, which also holds the
        # images and the system, so the check is a bound, not a promise of room.
        "nodeCapacity": {"cpu": "4", "memory": "12Gi", "storage": "40Gi"},
        # `minikube addons enable ingress`; no cert-manager there, so plain http by default.
        "ingress": {"host": "open-webui.minikube.local", "tls": {"enabled": False}},
        # Cluster-wide on a laptop: cAdvisor and kube-state-metrics feed the CPU/memory panels.
        "monitoring": deep_merge(_monitoring_defaults(), {"enabled": True, "scope": "cluster"}),
        "ollama": {
            "replicas": 2,
            # Opt-in; starts from the two fixed replicas, at most three on a laptop: four 10Gi
            # model claims and Open WebUI's would not fit nodeCapacity.storage.
            "autoscaling": {"minReplicas": 2, "maxReplicas": 3},
            "resources": {
                "requests": {"cpu": "500m", "memory": "2Gi"},
                "limits": {"cpu": "2", "memory": "4Gi"},
            },
            "storage": {"size": "10Gi"},
        },
        "webui": {
            "resources": {
                "requests": {"cpu": "250m", "memory": "512Mi"},
                "limits": {"cpu": "1", "memory": "2Gi"},
            },
            "storage": {"size": "2Gi"},
            "backup": _laptop_backups(),
        },
    }


def docker() -> dict[str, Any]:
    # Namespace, createNamespace and storage sizes mean nothing to Docker; they are filled here
    # so a docker stack never has to set them. resources.limits become the container limits.
    return {
        "namespace": "icc-ollama",
        "createNamespace": False,
        "docker": {},
        "ollama": {
            "replicas": 1,
            # Docker refuses a CPU limit above the host's CPUs; 2 fits the smallest machine that
            # can run a model. scripts/docker_preflight.py checks the limits against the host.
            "resources": {
                "requests": {"cpu": "1", "memory": "2Gi"},
                "limits": {"cpu": "2", "memory": "8Gi"},
            },
            "storage": {"size": "20Gi"},
        },
        "webui": {
            "resources": {
                "requests": {"cpu": "250m", "memory": "512Mi"},
                "limits": {"cpu": "1", "memory": "2Gi"},
            },
            "storage": {"size": "2Gi"},
            "backup": _laptop_backups(),
        },
    }


TARGET_DEFAULTS: dict[str, Callable[[], dict[str, Any]]] = {
    "icc": icc,
    "minikube": minikube,
    "docker": docker,
}
TARGETS = tuple(TARGET_DEFAULTS)
