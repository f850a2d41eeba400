"""The Helm values keys the Monitoring component may set, as the charts document them.

Hand-written from the charts' published values.yaml at the pinned versions (not a copy of it).
A path is segments joined by "/" (keys such as `grafana.ini` contain dots). LEAVES are keys
whose value we set as a whole; SUBTREES are keys below which the value is free-form by the
chart's own documentation (a Kubernetes object such as `resources`, Prometheus or Grafana
configuration passed through, a map of names we choose). test_monitoring.py fails on any
rendered key that is neither, so a typo such as `server/retension` cannot slip into a chart.

Bump a chart version in settings/monitoring.py only after re-reading its values.yaml and this
list; a test compares the versions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChartKeys:
    chart: str
    version: str
    source: str
    leaves: frozenset[str]
    subtrees: frozenset[str]

    def undocumented(self, values: dict) -> list[str]:
        """Every rendered key path that the chart does not document."""
        return [
            path
            for path in leaf_paths(values)
            if path not in self.leaves
            and not any(path == tree or path.startswith(tree + "/") for tree in self.subtrees)
        ]


def leaf_paths(values: dict, prefix: str = "") -> list[str]:
    paths = []
    for key, value in values.items():
        path = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            paths += leaf_paths(value, path)
        else:
            paths.append(path)
    return paths


# prometheus-community/helm-charts, charts/prometheus/values.yaml and
# charts/kube-state-metrics/values.yaml, commit cf408a290aec489277a94450bb3511432477a53a
# (2026-08-22; Chart.yaml version 29.27.0 since ca06aae, kube-state-metrics 8.4.0).
# https://github.com/prometheus-community/helm-charts/blob/cf408a290aec489277a94450bb3511432477a53a/charts/prometheus/values.yaml
_PROMETHEUS_DEFAULT_JOBS = (
    "prometheus",
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
PROMETHEUS = ChartKeys(
    chart="prometheus",
    version="29.27.0",
    source="prometheus-community/helm-charts@cf408a290aec489277a94450bb3511432477a53a",
    leaves=frozenset(
        {
            "rbac/create",
            "server/fullnameOverride",
            "server/retention",
            "server/enableServiceLinks",
            # Documented as a comment: "If set it will override serviceAccounts.server...".
            "server/automountServiceAccountToken",
            "server/persistentVolume/enabled",
            "server/persistentVolume/size",
            # documented as a comment (`# storageClass: "-"`)
            "server/persistentVolume/storageClass",
            "server/emptyDir/sizeLimit",
            # "Prometheus' data retention size. Supported units: B, KB, MB, GB, TB, PB, EB."
            "server/retentionSize",
            # "If set it will override prometheus.server.fullname value for ClusterRole and
            # ClusterRoleBinding" (templates/clusterrole.yaml, clusterrolebinding.yaml).
            "server/clusterRoleNameOverride",
            # kube-state-metrics 8.4.0 values.yaml `fullnameOverride: ""`: the name of its
            # ClusterRole, ClusterRoleBinding, Service and Deployment.
            "kube-state-metrics/fullnameOverride",
            "alertmanager/enabled",
            "prometheus-pushgateway/enabled",
            "prometheus-node-exporter/enabled",
            "kube-state-metrics/enabled",
            *(f"scrapeConfigs/{job}/enabled" for job in _PROMETHEUS_DEFAULT_JOBS),
        }
    ),
    subtrees=frozenset(
        {
            "server/resources",
            "server/securityContext",
            "server/containerSecurityContext",
            "configmapReload/prometheus/resources",
            "configmapReload/prometheus/containerSecurityContext",
            # "Further scrapeConfigs can be added as new keys": a Prometheus scrape_config each.
            "scrapeConfigs/ollama-exporter",
            "scrapeConfigs/dcgm",
            # kube-state-metrics chart 8.4.0 values.yaml: `resources: {}`.
            "kube-state-metrics/resources",
            # `server.service.annotations: {}`, put on the server's Service; kube-state-metrics
            # 8.4.0 `service.annotations: {}`, added to its Service after prometheus.io/scrape.
            "server/service/annotations",
            "kube-state-metrics/service/annotations",
        }
    ),
)

# grafana-community/helm-charts, charts/grafana/values.yaml, commit
# 3386a1156177c6bcd7fdb1ad4c6b1dda094296e0 (2026-08-20; Chart.yaml version 12.11.1, app 13.2.0,
# since 864f779). The chart moved here from grafana/helm-charts in 2026.
# https://github.com/grafana-community/helm-charts/blob/3386a1156177c6bcd7fdb1ad4c6b1dda094296e0/charts/grafana/values.yaml
GRAFANA = ChartKeys(
    chart="grafana",
    version="12.11.1",
    source="grafana-community/helm-charts@3386a1156177c6bcd7fdb1ad4c6b1dda094296e0",
    leaves=frozenset(
        {
            "rbac/create",
            "serviceAccount/create",
            "serviceAccount/automountServiceAccountToken",
            "automountServiceAccountToken",
            "testFramework/enabled",
            "enableServiceLinks",
            "admin/existingSecret",
            "admin/userKey",
            "admin/passwordKey",
            "persistence/enabled",
            "extraEmptyDirMounts",  # a list of {name, mountPath}
        }
    ),
    subtrees=frozenset(
        {
            "podLabels",  # documented as a comment (`# podLabels: {}`), used by the Deployment
            "resources",
            "securityContext",
            "containerSecurityContext",
            # "values in map will be converted to ini format"; the sections are Grafana's own
            # (conf/defaults.ini), e.g. [plugins] preinstall_auto_update (Grafana 12.1+,
            # pkg/setting/setting_plugins.go), set false because the root filesystem is read-only.
            "grafana.ini",
            "datasources",  # provisioning files by name
            "dashboardProviders",  # provisioning files by name
            "dashboardsConfigMaps",  # provider name -> ConfigMap name
            # "Service annotations. Can be templated." (`service.annotations: {}`)
            "service/annotations",
        }
    ),
)

CHARTS = {"prometheus": PROMETHEUS, "grafana": GRAFANA}
