"""Monitoring: Prometheus and Grafana from their Helm charts, plus a small Ollama exporter.

**How Ollama is observed.** Ollama has no /metrics (ollama/ollama#3144). This repo ships
`payloads/ollama-exporter.py`, a stdlib-only poller that, on each scrape, asks every Ollama
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

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.grafana_values import dashboards, grafana_values
from components.monitoring_values import (
    EXPORTER_PORT,
    EXPORTER_SCRIPT,
    EXPORTER_USER,
    MonitoringArgs,
    allow_rules,
    exporter_selector,
    prometheus_service,
    prometheus_url,
    prometheus_values,
    restricted_pod,
)
from settings.monitoring import is_chart_path
from settings.sidecars import EXPORTER_RESOURCES


def chart_source(chart) -> dict[str, Any]:
    """Chart, version and repository for helm.v4.Chart; a local path pins itself."""
    if is_chart_path(chart.chart):
        return {"chart": chart.chart}
    source: dict[str, Any] = {"chart": chart.chart, "version": chart.version}
    if chart.repo and not chart.chart.startswith("oci://"):
        source["repository_opts"] = k8s.helm.v4.RepositoryOptsArgs(repo=chart.repo)
    return source


class Monitoring(pulumi.ComponentResource):
    """Prometheus, Grafana (admin Secret, dashboards ConfigMap) and the Ollama exporter."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("icc:monitoring:Monitoring", name, None, opts)
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        self.prometheus_service = prometheus_service(args)
        self.grafana_service = args.grafana_release
        self.prometheus_url = prometheus_url(args)
        self.allow_rules = allow_rules(args)
        # The exporter polls Ollama: OllamaServer admits it as a client.
        self.exporter_selector: dict[str, str] | None = None
        self.exporter = None
        # Service name -> the cluster IP the cluster assigned to it (the exporter's, when on).
        self.cluster_ips: dict[str, pulumi.Output[str]] = {}
        if args.monitoring.exporter.enabled:
            self.exporter_selector = exporter_selector(args)
            self.exporter = self._exporter(name, child)
        self.admin_secret = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata=self._meta(args.admin_secret_name, "grafana", "dashboards"),
            type="Opaque",
            string_data={"admin-user": "admin", "admin-password": args.admin_password},
            opts=child,
        )
        self.dashboards = k8s.core.v1.ConfigMap(
            f"{name}-dashboards",
            metadata=self._meta(args.dashboards_name, "grafana", "dashboards"),
            data=dashboards(args.namespace),
            opts=child,
        )
        self.prometheus = k8s.helm.v4.Chart(
            f"{name}-prometheus",
            name=args.prometheus_release,
            namespace=args.namespace,
            values=prometheus_values(args),
            **chart_source(args.monitoring.prometheus),
            opts=child,
        )
        self.grafana = k8s.helm.v4.Chart(
            f"{name}-grafana",
            name=args.grafana_release,
            namespace=args.namespace,
            values=grafana_values(args),
            **chart_source(args.monitoring.grafana),
            # The Deployment refers to both by name: they must exist before its pods start.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.admin_secret, self.dashboards]
            ),
        )
        self.register_outputs(
            {
                "prometheusUrl": self.prometheus_url,
                "prometheusService": self.prometheus_service,
                "grafanaService": self.grafana_service,
                "clusterIPs": self.cluster_ips,
            }
        )

    def _meta(self, name: str, app: str, component: str) -> dict:
        return {
            "name": name,
            "namespace": self._args.namespace,
            "labels": kube.with_managed_by(kube.labels(app, component)),
        }

    def _exporter(self, name: str, opts: pulumi.ResourceOptions) -> k8s.apps.v1.Deployment:
        args = self._args
        selector = exporter_selector(args)
        meta = {
            "name": args.exporter_name,
            "namespace": args.namespace,
            "labels": kube.with_managed_by(selector),
        }
        # No API token: the exporter talks to Ollama only.
        account = k8s.core.v1.ServiceAccount(
            f"{name}-exporter-sa", metadata=meta, automount_service_account_token=False, opts=opts
        )
        script_name = f"{args.exporter_name}-script"
        script = k8s.core.v1.ConfigMap(
            f"{name}-exporter-script",
            metadata={**meta, "name": script_name},
            data={EXPORTER_SCRIPT.name: EXPORTER_SCRIPT.read_text()},
            opts=opts,
        )
        self.exporter_service = k8s.core.v1.Service(
            f"{name}-exporter-service",
            metadata=kube.skip_await(meta),
            spec={
                "type": "ClusterIP",
                "selector": selector,
                "ports": [
                    {
                        "name": "metrics",
                        "port": EXPORTER_PORT,
                        "targetPort": "metrics",
                        "protocol": "TCP",
                    }
                ],
            },
            opts=opts,
        )
        self.cluster_ips[args.exporter_name] = self.exporter_service.spec.apply(
            kube.assigned_cluster_ip
        )
        script_dir = "/opt/icc-ollama"
        # Always, unlike the GB-sized Ollama and Open WebUI images (kube.PULL_POLICY): this image
        # is small, Docker rebuilds a python tag such as 3.13.7-slim for Debian security fixes,
        # and a registry that cannot be reached only delays the metrics, never the service.
        # The tag stays the default (checkov CKV_K8S_43 wants a digest); see README for pinning.
        container = {
            "name": "exporter",
            "image": args.monitoring.exporter.image,
            "imagePullPolicy": "Always",
            "command": ["python3", f"{script_dir}/{EXPORTER_SCRIPT.name}"],
            "args": ["--discover", args.ollama_discovery, "--listen", f"0.0.0.0:{EXPORTER_PORT}"],
            "env": [
                {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
                {"name": "PYTHONUNBUFFERED", "value": "1"},
            ],
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
                        "serviceAccountName": args.exporter_name,
                        "automountServiceAccountToken": False,
                        "securityContext": restricted_pod(EXPORTER_USER),
                        "containers": [container],
                        "volumes": [
                            {
                                "name": "script",
                                "configMap": {"name": script_name, "defaultMode": 0o444},
                            }
                        ],
                    },
                },
            },
            # Its pods need both; they are named here, so the order must be said.
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=[account, script])
            ),
        )
