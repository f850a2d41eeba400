"""Monitoring: Prometheus and Grafana from their Helm charts, plus a small Ollama exporter.

**How Ollama is observed.** Ollama has no /metrics (ollama/ollama#3144). This repo ships
`components/ollama-exporter.py`, a stdlib-only poller that, on each scrape, asks every Ollama
replica for /api/tags (models on disk) and /api/ps (models loaded, their memory and GPU memory)
and answers in the Prometheus text format. It runs as its own one-replica Deployment (pinned
python slim image, script from a ConfigMap) rather than as a sidecar in the Ollama pods:
switching monitoring on or off never restarts Ollama (which would drop loaded models), the
exporter has its own tokenless identity, and it finds replicas through the headless Service's
DNS records (one per Ready pod), so autoscaled replicas appear by themselves. A poller cannot see
requests: request rate and latency are not available for Ollama (the dashboard says so).

**Scope.** `namespace` (the ICC, where a user has one namespace and no cluster-admin): the
Prometheus chart with `rbac.create: false`, no API token, every Kubernetes service-discovery job
off, kube-state-metrics, node-exporter, Alertmanager and Pushgateway off; Prometheus scrapes
static targets only: itself, the exporter's Service and the DCGM exporters named in
`monitoring.dcgmTargets`. Nothing cluster-scoped is rendered. Without cAdvisor the dashboard's
CPU and memory panels stay empty there (use `kubectl top pod`, or the ICC's own monitoring).
`cluster` (Minikube): the chart's default discovery jobs (cAdvisor through the API server,
annotated endpoints) and kube-state-metrics, which need the chart's ClusterRole; node-exporter
stays off (host access, and no panel uses it).

**Grafana.** The admin password is the stack secret `grafanaAdminPassword`, put into the Secret
`grafana-admin` here and referenced through the chart's `admin.existingSecret`: it is never a
chart value (chart values end up in the state and in Helm's release record). The Prometheus
datasource (uid `prometheus`) points at this namespace's Prometheus Service; the dashboards in
`dashboards/` come from a ConfigMap mounted through `dashboardsConfigMaps`, so Grafana needs no
API access (no sidecar, `rbac.create: false`).

**Network.** Grafana's pods carry the release label, so the release's default-deny covers them
(reach Grafana by `kubectl port-forward`). The Prometheus chart labels its pods
`app.kubernetes.io/part-of: prometheus` itself, so __main__ isolates them with a policy of their
own (only Grafana may query them); see `allow_rules` there.

Every chart key used here is listed, with the chart version and the commit it was read from, in
`tests/chart_keys.py`; a test fails on any other key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import pulumi

from components import kube
from components.settings import Monitoring as MonitoringSettings, is_chart_path

if TYPE_CHECKING:
    import pulumi_kubernetes as k8s

ROOT = Path(__file__).resolve().parents[1]
EXPORTER_SCRIPT = Path(__file__).with_name("ollama-exporter.py")
DASHBOARDS = ROOT / "dashboards"
EXPORTER_PORT = 9101
EXPORTER_USER = 65534  # nobody: the exporter writes nothing
PROMETHEUS_PORT = 9090  # the server container; the Service listens on 80
PROMETHEUS_USER = 65534  # the chart's default
GRAFANA_PORT = 3000
GRAFANA_USER = 472  # the grafana image's user
KSM_PORT = 8080
DATASOURCE_UID = "prometheus"
DASHBOARD_PROVIDER = "icc-ollama"
# What the exporter and the chart-side containers we size ourselves ask for.
EXPORTER_RESOURCES = {"requests": {"cpu": "10m", "memory": "32Mi"},
                      "limits": {"cpu": "200m", "memory": "128Mi"}}
RELOADER_RESOURCES = {"requests": {"cpu": "10m", "memory": "32Mi"},
                      "limits": {"cpu": "100m", "memory": "64Mi"}}
KSM_RESOURCES = {"requests": {"cpu": "10m", "memory": "64Mi"},
                 "limits": {"cpu": "200m", "memory": "256Mi"}}
# The chart's default scrape jobs that use Kubernetes service discovery (values.yaml).
DISCOVERY_JOBS = ("kubernetes-api-servers", "kubernetes-nodes", "kubernetes-nodes-cadvisor",
                  "kubernetes-service-endpoints", "kubernetes-service-endpoints-slow",
                  "prometheus-pushgateway", "kubernetes-services", "kubernetes-pods",
                  "kubernetes-pods-slow")


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
    return {"app.kubernetes.io/name": "prometheus", "app.kubernetes.io/component": "server",
            "app.kubernetes.io/instance": args.prometheus_release}


def grafana_selector(args: MonitoringArgs) -> dict[str, str]:
    """The chart's selector labels (grafana.selectorLabels)."""
    return {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": args.grafana_release}


def kube_state_metrics_selector(args: MonitoringArgs) -> dict[str, str]:
    return {"app.kubernetes.io/name": "kube-state-metrics",
            "app.kubernetes.io/instance": args.prometheus_release}


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
            "scrape_interval": "30s", "scrape_timeout": "15s",
            "static_configs": [{"targets": [target], "labels": {"namespace": args.namespace}}],
        }
    if monitoring.dcgm_targets:
        # DCGM labels each GPU with the namespace/pod using it: keep those labels.
        jobs["dcgm"] = {"honor_labels": True,
                        "static_configs": [{"targets": list(monitoring.dcgm_targets)}]}
    return jobs


def prometheus_values(args: MonitoringArgs) -> dict[str, Any]:
    monitoring, prometheus = args.monitoring, args.monitoring.prometheus
    namespaced = monitoring.scope == "namespace"
    server: dict[str, Any] = {
        "fullnameOverride": prometheus_service(args),
        "retention": prometheus.retention,
        "resources": kube.resource_requirements(prometheus.resources),
        "securityContext": restricted_pod(PROMETHEUS_USER),
        "containerSecurityContext": kube.container_security(read_only_root=True),
        "enableServiceLinks": False,
    }
    if prometheus.storage_size:
        volume: dict[str, Any] = {"enabled": True, "size": prometheus.storage_size}
        if prometheus.storage_class:
            volume["storageClass"] = prometheus.storage_class
        server["persistentVolume"] = volume
    else:
        server["persistentVolume"] = {"enabled": False}
        server["emptyDir"] = {"sizeLimit": "4Gi"}
    if namespaced:
        server["automountServiceAccountToken"] = False  # static targets: no API access
    values: dict[str, Any] = {
        # namespace scope: no ClusterRole/ClusterRoleBinding/RoleBinding at all.
        "rbac": {"create": not namespaced},
        "server": server,
        "configmapReload": {"prometheus": {
            "resources": RELOADER_RESOURCES,
            "containerSecurityContext": kube.container_security(read_only_root=True)}},
        "scrapeConfigs": scrape_jobs(args),
        "alertmanager": {"enabled": False},
        "prometheus-pushgateway": {"enabled": False},
        "prometheus-node-exporter": {"enabled": False},
        "kube-state-metrics": {"enabled": not namespaced},
    }
    if not namespaced:
        values["kube-state-metrics"]["resources"] = KSM_RESOURCES
    return values


def grafana_values(args: MonitoringArgs) -> dict[str, Any]:
    grafana = args.monitoring.grafana
    provider_dir = f"/var/lib/grafana/dashboards/{DASHBOARD_PROVIDER}"
    return {
        "rbac": {"create": False},  # dashboards come from a mounted ConfigMap: no API access
        "serviceAccount": {"create": True, "automountServiceAccountToken": False},
        "automountServiceAccountToken": False,
        "testFramework": {"enabled": False},
        "podLabels": {"app.kubernetes.io/part-of": kube.PART_OF},
        "enableServiceLinks": False,
        "admin": {"existingSecret": args.admin_secret_name, "userKey": "admin-user",
                  "passwordKey": "admin-password"},
        "persistence": {"enabled": False},
        "resources": kube.resource_requirements(grafana.resources),
        "securityContext": restricted_pod(GRAFANA_USER),
        "containerSecurityContext": kube.container_security(read_only_root=True),
        "extraEmptyDirMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        "grafana.ini": {"analytics": {"check_for_updates": False, "reporting_enabled": False},
                        "users": {"allow_sign_up": False}},
        "datasources": {"datasources.yaml": {"apiVersion": 1, "datasources": [{
            "name": "Prometheus", "type": "prometheus", "uid": DATASOURCE_UID,
            "url": prometheus_url(args), "access": "proxy", "isDefault": True,
            "editable": False}]}},
        "dashboardProviders": {"dashboardproviders.yaml": {"apiVersion": 1, "providers": [{
            "name": DASHBOARD_PROVIDER, "orgId": 1, "folder": "icc-ollama", "type": "file",
            "disableDeletion": True, "editable": False, "options": {"path": provider_dir}}]}},
        "dashboardsConfigMaps": {DASHBOARD_PROVIDER: args.dashboards_name},
    }


def dashboards(namespace: str) -> dict[str, str]:
    """Every dashboard in dashboards/, with its `namespace` constant set to this stack's."""
    result = {}
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for variable in board.get("templating", {}).get("list", []):
            if variable.get("name") == "namespace" and variable.get("type") == "constant":
                variable["query"] = namespace
                variable["current"] = {"text": namespace, "value": namespace}
        result[path.name] = json.dumps(board, indent=1, sort_keys=True)
    return result


def chart_source(chart) -> dict[str, Any]:
    """Chart, version and repository for helm.v4.Chart; a local path pins itself."""
    if is_chart_path(chart.chart):
        return {"chart": chart.chart}
    source: dict[str, Any] = {"chart": chart.chart, "version": chart.version}
    if chart.repo and not chart.chart.startswith("oci://"):
        import pulumi_kubernetes as k8s

        source["repository_opts"] = k8s.helm.v4.RepositoryOptsArgs(repo=chart.repo)
    return source


class Monitoring(pulumi.ComponentResource):
    """Prometheus, Grafana (admin Secret, dashboards ConfigMap) and the Ollama exporter."""

    def __init__(self, name: str, args: MonitoringArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        import pulumi_kubernetes as k8s

        super().__init__("icc:monitoring:Monitoring", name, None, opts)
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        self.prometheus_service = prometheus_service(args)
        self.grafana_service = args.grafana_release
        self.prometheus_url = prometheus_url(args)
        self.exporter = None
        if args.monitoring.exporter.enabled:
            self.exporter = self._exporter(name, child)
        self.admin_secret = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata=self._meta(args.admin_secret_name, "grafana", "dashboards"),
            type="Opaque",
            string_data={"admin-user": "admin",
                         "admin-password": pulumi.Output.secret(args.admin_password)},
            opts=child)
        self.dashboards = k8s.core.v1.ConfigMap(
            f"{name}-dashboards",
            metadata=self._meta(args.dashboards_name, "grafana", "dashboards"),
            data=dashboards(args.namespace),
            opts=child)
        self.prometheus = k8s.helm.v4.Chart(
            f"{name}-prometheus",
            name=args.prometheus_release,
            namespace=args.namespace,
            values=prometheus_values(args),
            **chart_source(args.monitoring.prometheus),
            opts=child)
        self.grafana = k8s.helm.v4.Chart(
            f"{name}-grafana",
            name=args.grafana_release,
            namespace=args.namespace,
            values=grafana_values(args),
            **chart_source(args.monitoring.grafana),
            # The Deployment refers to both by name: they must exist before its pods start.
            opts=pulumi.ResourceOptions(parent=self,
                                        depends_on=[self.admin_secret, self.dashboards]))
        self.register_outputs({"prometheusUrl": self.prometheus_url,
                               "prometheusService": self.prometheus_service,
                               "grafanaService": self.grafana_service})

    def _meta(self, name: str, app: str, component: str) -> dict:
        return {"name": name, "namespace": self._args.namespace,
                "labels": kube.with_managed_by(kube.labels(app, component))}

    def _exporter(self, name: str, opts: pulumi.ResourceOptions) -> k8s.apps.v1.Deployment:
        import pulumi_kubernetes as k8s

        args = self._args
        selector = exporter_selector(args)
        meta = {"name": args.exporter_name, "namespace": args.namespace,
                "labels": kube.with_managed_by(selector)}
        account = kube.service_account(f"{name}-exporter-sa", meta, opts)
        script = k8s.core.v1.ConfigMap(
            f"{name}-exporter-script", metadata={**meta, "name": f"{args.exporter_name}-script"},
            data={EXPORTER_SCRIPT.name: EXPORTER_SCRIPT.read_text()}, opts=opts)
        self.exporter_service = kube.service(
            f"{name}-exporter-service", meta,
            {"type": "ClusterIP", "selector": selector,
             "ports": [{"name": "metrics", "port": EXPORTER_PORT, "targetPort": "metrics",
                        "protocol": "TCP"}]},
            opts)
        script_dir = "/opt/icc-ollama"
        container = {
            "name": "exporter",
            "image": args.monitoring.exporter.image,
            "command": ["python3", f"{script_dir}/{EXPORTER_SCRIPT.name}"],
            "args": ["--discover", args.ollama_discovery, "--listen", f"0.0.0.0:{EXPORTER_PORT}"],
            "env": [{"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
                    {"name": "PYTHONUNBUFFERED", "value": "1"}],
            "ports": [{"name": "metrics", "containerPort": EXPORTER_PORT, "protocol": "TCP"}],
            "resources": EXPORTER_RESOURCES,
            "volumeMounts": [{"name": "script", "mountPath": script_dir, "readOnly": True}],
            "securityContext": kube.container_security(read_only_root=True),
            "readinessProbe": kube.http_probe("/healthz", EXPORTER_PORT, period=10, failures=3),
            "livenessProbe": kube.http_probe("/healthz", EXPORTER_PORT, period=20, failures=3),
        }
        return k8s.apps.v1.Deployment(
            f"{name}-exporter",
            metadata=meta,
            spec={
                "replicas": 1,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": kube.with_managed_by(selector)},
                    "spec": {
                        "enableServiceLinks": False,
                        "serviceAccountName": account.metadata.name,
                        "automountServiceAccountToken": False,
                        "securityContext": restricted_pod(EXPORTER_USER),
                        "containers": [container],
                        "volumes": [{"name": "script", "configMap": {
                            "name": script.metadata.name, "defaultMode": 0o444}}],
                    },
                },
            },
            opts=opts)
