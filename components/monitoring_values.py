"""The values the monitoring charts get, their names, selectors and ports (no resources here).

Built from the settings by plain functions so tests can read every key; components/monitoring.py
hands them to the charts. Every chart key used here is listed, with the chart version and the
commit it was read from, in `tests/chart_keys.py`; a test fails on any other key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from components import kube
from components.network import AllowRule
from settings.monitoring import Monitoring as MonitoringSettings
from settings.quantity import parse_quantity
from settings.sidecars import KSM_RESOURCES, RELOADER_RESOURCES

ROOT = Path(__file__).resolve().parents[1]
EXPORTER_SCRIPT = ROOT / "payloads" / "ollama-exporter.py"
EXPORTER_PORT = 9101
EXPORTER_USER = 65534  # nobody: the exporter writes nothing
PROMETHEUS_PORT = 9090  # the server container; the Service listens on 80
PROMETHEUS_USER = 65534  # the chart's default
PROMETHEUS_EMPTY_DIR = "4Gi"  # the server's emptyDir sizeLimit when it has no claim
KSM_PORT = 8080
# The chart's default scrape jobs that use Kubernetes service discovery (values.yaml).
DISCOVERY_JOBS = (
    "kubernetes-api-servers",
    "kubernetes-nodes",
    "kubernetes-nodes-cadvisor",
    "kubernetes-service-endpoints",
    "kubernetes-service-endpoints-slow",
    "prometheus-pushgateway",
    "kubernetes-services",
    "kubernetes-pods",
    "kubernetes-pods-slow",
)


@dataclass(frozen=True)
class MonitoringArgs:
    namespace: str
    monitoring: MonitoringSettings
    admin_password: pulumi.Input[str]
    # host:port of Ollama's headless Service: each address is one Ready replica.
    ollama_discovery: str
    prometheus_release: str = "prometheus"
    grafana_release: str = "grafana"
    exporter_name: str = "ollama-exporter"
    admin_secret_name: str = "grafana-admin"
    dashboards_name: str = "grafana-dashboards"


def prometheus_service(args: MonitoringArgs) -> str:
    return f"{args.prometheus_release}-server"


def prometheus_url(args: MonitoringArgs) -> str:
    """The in-namespace Prometheus Service (chart default servicePort 80)."""
    return f"http://{kube.service_dns(prometheus_service(args), args.namespace)}"


def exporter_selector(args: MonitoringArgs) -> dict[str, str]:
    return kube.labels(args.exporter_name, "metrics")


def prometheus_selector(args: MonitoringArgs) -> dict[str, str]:
    """The chart's labels on the server pods (prometheus.server.matchLabels)."""
    return {
        "app.kubernetes.io/name": "prometheus",
        "app.kubernetes.io/component": "server",
        "app.kubernetes.io/instance": args.prometheus_release,
    }


def grafana_selector(args: MonitoringArgs) -> dict[str, str]:
    """The chart's selector labels (grafana.selectorLabels)."""
    return {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": args.grafana_release}


def kube_state_metrics_selector(args: MonitoringArgs) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "kube-state-metrics",
        "app.kubernetes.io/instance": args.prometheus_release,
    }


def allow_rules(args: MonitoringArgs) -> tuple[AllowRule, ...]:
    """Grafana queries Prometheus, Prometheus scrapes the exporter (and kube-state-metrics).
    Grafana and the exporter carry the release label (default-deny); the chart's Prometheus and
    kube-state-metrics pods do not, so these allow rules are what isolates them."""
    prometheus = prometheus_selector(args)
    rules: tuple[AllowRule, ...] = (
        AllowRule(
            "prometheus-from-grafana",
            target=prometheus,
            ports=(PROMETHEUS_PORT,),
            sources=(grafana_selector(args),),
        ),
    )
    if args.monitoring.exporter.enabled:
        rules += (
            AllowRule(
                "exporter-from-prometheus",
                target=exporter_selector(args),
                ports=(EXPORTER_PORT,),
                sources=(prometheus,),
            ),
        )
    if args.monitoring.scope == "cluster":
        rules += (
            AllowRule(
                "kube-state-metrics-from-prometheus",
                target=kube_state_metrics_selector(args),
                ports=(KSM_PORT,),
                sources=(prometheus,),
            ),
        )
    return rules


def restricted_pod(user: int) -> dict:
    return {k: v for k, v in kube.pod_security(user).items() if k != "fsGroupChangePolicy"}


def scrape_jobs(args: MonitoringArgs) -> dict[str, Any]:
    monitoring = args.monitoring
    jobs: dict[str, Any] = {}
    if monitoring.scope == "namespace":
        jobs.update({job: {"enabled": False} for job in DISCOVERY_JOBS})
    else:
        jobs["prometheus-pushgateway"] = {"enabled": False}  # no Pushgateway is installed
    if monitoring.exporter.enabled:
        target = f"{kube.service_dns(args.exporter_name, args.namespace)}:{EXPORTER_PORT}"
        jobs["ollama-exporter"] = {
            "scrape_interval": "30s",
            "scrape_timeout": "15s",
            "static_configs": [{"targets": [target], "labels": {"namespace": args.namespace}}],
        }
    if monitoring.dcgm_targets:
        # DCGM labels each GPU with the namespace/pod using it: keep those labels.
        jobs["dcgm"] = {
            "honor_labels": True,
            "static_configs": [{"targets": list(monitoring.dcgm_targets)}],
        }
    return jobs


def prometheus_values(args: MonitoringArgs) -> dict[str, Any]:
    monitoring, prometheus = args.monitoring, args.monitoring.prometheus
    namespaced = monitoring.scope == "namespace"
    server: dict[str, Any] = {
        "fullnameOverride": prometheus_service(args),
        "retention": prometheus.retention,
        "resources": prometheus.resources.requirements(),
        "securityContext": restricted_pod(PROMETHEUS_USER),
        "containerSecurityContext": kube.container_security(read_only_root=True),
        "enableServiceLinks": False,
        # As the program's own Services: the Deployment's await covers readiness.
        "service": {"annotations": dict(kube.SKIP_AWAIT)},
    }
    if prometheus.storage_size:
        volume: dict[str, Any] = {"enabled": True, "size": prometheus.storage_size}
        if prometheus.storage_class:
            volume["storageClass"] = prometheus.storage_class
        server["persistentVolume"] = volume
    else:
        server["persistentVolume"] = {"enabled": False}
        server["emptyDir"] = {"sizeLimit": PROMETHEUS_EMPTY_DIR}
    # Prometheus deletes old blocks at this size; without it, an emptyDir outgrowing its
    # sizeLimit gets the pod evicted (every metric lost) and a full claim stops it.
    server["retentionSize"] = retention_size(prometheus.storage_size or PROMETHEUS_EMPTY_DIR)
    if namespaced:
        server["automountServiceAccountToken"] = False  # static targets: no API access
    values: dict[str, Any] = {
        # namespace scope: no ClusterRole/ClusterRoleBinding/RoleBinding at all.
        "rbac": {"create": not namespaced},
        "server": server,
        "configmapReload": {
            "prometheus": {
                "resources": RELOADER_RESOURCES,
                "containerSecurityContext": kube.container_security(read_only_root=True),
            }
        },
        "scrapeConfigs": scrape_jobs(args),
        "alertmanager": {"enabled": False},
        "prometheus-pushgateway": {"enabled": False},
        "prometheus-node-exporter": {"enabled": False},
        "kube-state-metrics": {"enabled": not namespaced},
    }
    if not namespaced:
        values["kube-state-metrics"]["resources"] = KSM_RESOURCES
        values["kube-state-metrics"]["service"] = {"annotations": dict(kube.SKIP_AWAIT)}
        # ClusterRoles and their bindings are named after the release by default
        # ("prometheus-server", "prometheus-kube-state-metrics"): with the namespace in the name,
        # two stacks, or another Prometheus release, on one cluster cannot take over each other's.
        # Only these names change; Services and pod labels (used by the NetworkPolicies) stay.
        server["clusterRoleNameOverride"] = f"{args.namespace}-{prometheus_service(args)}"
        values["kube-state-metrics"]["fullnameOverride"] = (
            f"{args.namespace}-{args.prometheus_release}-kube-state-metrics"
        )
    return values


def retention_size(volume: str) -> str:
    """Three quarters of the volume in Prometheus' units (MB = 2^20 bytes): the rest is room for
    the write-ahead log and compaction, which the size limit does not bound exactly."""
    return f"{int(parse_quantity(volume) * 3 / 4 / 2**20)}MB"
