"""The `monitoring` section: Prometheus and Grafana charts, the Ollama exporter, DCGM targets."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from settings.base import (
    DnsLabel,
    KeyedError,
    Model,
    ResourceAmounts,
    Resources,
    StorageSize,
    empty_is_none,
    number_as_text,
)
from settings.images import pinned_image

# The pinned default; image refusals show it as the example.
EXPORTER_IMAGE = "python:3.13.7-slim"

PROMETHEUS_REPO = "https://prometheus-community.github.io/helm-charts"
# The grafana chart moved out of grafana/helm-charts in 2026; grafana.github.io gets no updates.
GRAFANA_REPO = "https://grafana-community.github.io/helm-charts"
_CHART_VERSION = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$")
_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
_HOST_PORT = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?:[0-9]{1,5}$")


def is_chart_path(chart: str) -> bool:
    """A chart on disk (directory or .tgz) rather than a name in a repository or an OCI ref."""
    return chart.startswith((".", "/")) or chart.endswith(".tgz")


def _check_repo_url(value: str) -> str:
    if not re.match(r"^(https?|oci)://[^\s/]+\S*$", value):
        raise ValueError(
            "must be a Helm repository URL such as "
            "https://prometheus-community.github.io/helm-charts"
        )
    return value.rstrip("/")


def _check_chart_version(value: str) -> str:
    if not _CHART_VERSION.match(value):
        raise ValueError(
            "must be one exact chart version such as 29.27.0 (no ranges: versions are pinned)"
        )
    return value


def _check_duration(value: str) -> str:
    if not _DURATION.match(value):
        raise ValueError("must be a Prometheus duration such as 15d, 12h or 1w")
    return value


def _check_host_port(value: str) -> str:
    if not _HOST_PORT.match(value):
        raise ValueError(
            "must be host:port, e.g. nvidia-dcgm-exporter.gpu-operator.svc.cluster.local:9400"
        )
    return value


RepoUrl = Annotated[
    Annotated[str, AfterValidator(_check_repo_url)] | None, BeforeValidator(empty_is_none)
]
ChartVersion = Annotated[str, BeforeValidator(number_as_text), AfterValidator(_check_chart_version)]
Duration = Annotated[str, AfterValidator(_check_duration)]
HostPort = Annotated[str, AfterValidator(_check_host_port)]


class Chart(Model):
    """Where a chart comes from: a repository (pinned version), an oci:// ref, or a local path
    (for offline use; then repo and version are not used, the chart's own Chart.yaml pins it)."""

    repo: RepoUrl
    chart: str = Field(min_length=1)
    version: ChartVersion
    # Local port of the printed `kubectl port-forward` command.
    local_port: int = Field(ge=1024, le=65535)


class Prometheus(Chart):
    repo: RepoUrl = PROMETHEUS_REPO
    chart: str = Field(default="prometheus", min_length=1)
    version: ChartVersion = "29.27.0"
    local_port: int = Field(default=9090, ge=1024, le=65535)
    retention: Duration = "15d"
    # Unset: an emptyDir (metrics are lost when the pod moves). Set: a claim of this size.
    storage_size: StorageSize | None = None
    storage_class: DnsLabel | None = None
    resources: Resources = Resources(
        requests=ResourceAmounts(cpu="100m", memory="512Mi"),
        limits=ResourceAmounts(cpu="1", memory="1Gi"),
    )


class Grafana(Chart):
    repo: RepoUrl = GRAFANA_REPO
    chart: str = Field(default="grafana", min_length=1)
    version: ChartVersion = "12.11.1"
    local_port: int = Field(default=3000, ge=1024, le=65535)
    resources: Resources = Resources(
        requests=ResourceAmounts(cpu="50m", memory="128Mi"),
        limits=ResourceAmounts(cpu="500m", memory="512Mi"),
    )


class Exporter(Model):
    """The in-repo Ollama exporter (payloads/ollama-exporter.py): stdlib Python, any image
    with python3 runs it."""

    enabled: bool = True
    image: Annotated[str, AfterValidator(pinned_image(EXPORTER_IMAGE))] = EXPORTER_IMAGE


class Monitoring(Model):
    enabled: bool = False
    # namespace: static scrape targets, no API access (the ICC); cluster: kubernetes_sd,
    # cAdvisor and kube-state-metrics (needs ClusterRoles, e.g. Minikube).
    scope: Literal["namespace", "cluster"] = "namespace"
    prometheus: Prometheus = Prometheus()
    grafana: Grafana = Grafana()
    exporter: Exporter = Exporter()
    # DCGM exporters to scrape for GPU panels (host:port), e.g. the GPU operator's Service.
    dcgm_targets: tuple[HostPort, ...] = ()


def check_charts(monitoring: Monitoring) -> None:
    """Each chart must be findable: a repository for a chart name, or a path or oci:// ref."""
    for key, chart in (
        ("monitoring.prometheus", monitoring.prometheus),
        ("monitoring.grafana", monitoring.grafana),
    ):
        local = is_chart_path(chart.chart) or chart.chart.startswith("oci://")
        if chart.repo is None and not local:
            raise KeyedError(
                f"{key}.repo",
                None,
                f"chart '{chart.chart}' is a name in a repository, so the "
                f"repository URL is needed; set {key}.repo, or set {key}.chart "
                f"to a local path (./charts/...) or an oci:// reference",
            )
