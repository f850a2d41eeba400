"""The one settings model of icc-ollama: every stack setting, its type, its default per target.

`parse_settings` is a pure function (raw config strings in, a frozen `Settings` out) so it can be
tested without Pulumi. `load_settings` is the thin adapter that collects the stack's config and
turns any problem into one `pulumi.RunError` that names the key, the value and the fix.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Optional

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components.quantity import parse_quantity

PROJECT = "icc-ollama"
TARGETS = ("icc", "minikube", "docker")
SECRET_KEYS = ("webuiSecretKey", "webuiAdminPassword", "openaiApiKey", "grafanaAdminPassword")

_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# ICC login `infwXYZ123` owns exactly one namespace, `wXYZ123-default`.
_ICC_NAMESPACE = re.compile(r"^w[a-z0-9]+-default$")
_FLOATING_TAGS = {"latest", "main", "dev", "nightly"}


class SettingsError(Exception):
    """Invalid stack settings; the message is ready to show to the user."""


def _quantity_text(value: Any) -> Any:
    # YAML turns `cpu: 2` into a number; Kubernetes quantities are strings.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def _check_quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise ValueError("must be a Kubernetes quantity such as 500m, 2, 512Mi or 20Gi")
    return value


def _check_pinned_image(image: str) -> str:
    if "@sha256:" in image:
        return image
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        raise ValueError("must name a pinned tag, e.g. ollama/ollama:0.32.15")
    if tag in _FLOATING_TAGS:
        raise ValueError(f"tag '{tag}' floats; pin a version such as ollama/ollama:0.32.15")
    return image


def _check_dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError("must be a DNS label: lower-case letters, digits and '-', at most 63")
    return value


# What Ollama accepts for OLLAMA_KEEP_ALIVE (v0.32.15 envconfig/config.go:129-145): a Go
# duration (time.ParseDuration: 5m, 1h30m, 0.5h, -1m) or integer seconds (300; negative =
# forever). Anything else, such as 1d or "30 min", silently becomes 5m there.
_GO_DURATION = re.compile(r"^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$")
_INTEGER = re.compile(r"^[-+]?[0-9]+$")


def _check_keep_alive(value: str) -> str:
    if not (_GO_DURATION.match(value) or _INTEGER.match(value)):
        raise ValueError("must be a Go duration such as 30m, 1h or 24h (no 'd' unit), or whole "
                         "seconds such as 300; -1 keeps models loaded for ever (Ollama would "
                         "silently use 5m instead)")
    return value


Quantity = Annotated[str, BeforeValidator(_quantity_text), AfterValidator(_check_quantity)]
KeepAlive = Annotated[str, BeforeValidator(_quantity_text), AfterValidator(_check_keep_alive)]
PinnedImage = Annotated[str, AfterValidator(_check_pinned_image)]
DnsLabel = Annotated[str, AfterValidator(_check_dns_label)]


class _Model(BaseModel):
    """Frozen, unknown keys rejected, camelCase keys as in `pulumi config`."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )


class ResourceAmounts(_Model):
    cpu: Quantity
    memory: Quantity


class Resources(_Model):
    requests: ResourceAmounts
    limits: ResourceAmounts

    @model_validator(mode="after")
    def _requests_within_limits(self) -> "Resources":
        # The API server refuses such a pod only at `pulumi up`, after other objects were made.
        for resource in ("cpu", "memory"):
            request = getattr(self.requests, resource)
            limit = getattr(self.limits, resource)
            if parse_quantity(request) > parse_quantity(limit):
                raise _KeyError(f"requests.{resource}", request,
                                f"more than limits.{resource} ({limit}), which Kubernetes "
                                f"refuses; lower requests.{resource} or raise limits.{resource}",
                                relative=True)
        return self


class Toleration(_Model):
    key: str
    operator: Literal["Exists", "Equal"] = "Exists"
    value: Optional[str] = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"

    @model_validator(mode="after")
    def _value_matches_operator(self) -> "Toleration":
        if self.operator == "Exists" and self.value is not None:
            raise ValueError("operator Exists takes no value; drop 'value' or use Equal")
        if self.operator == "Equal" and self.value is None:
            raise ValueError("operator Equal needs a 'value'")
        return self


class Gpu(_Model):
    enabled: bool = False
    count: int = Field(default=1, ge=1, le=8)
    resource_name: str = "nvidia.com/gpu"
    runtime_class_name: Optional[DnsLabel] = None
    # ICC GPU images find the driver only with these paths (seen in every ICC GPU manifest).
    cuda_env: bool = False


class Storage(_Model):
    size: Quantity
    storage_class: Optional[DnsLabel] = None


class Autoscaling(_Model):
    """An HPA on the Ollama StatefulSet (CPU). While it is on, it owns the replica count."""

    enabled: bool = False
    min_replicas: int = Field(default=1, ge=1, le=16)
    max_replicas: int = Field(default=2, ge=1, le=16)
    # Percent of the pods' CPU requests; above 100 is allowed (limits may exceed requests).
    target_cpu_utilization: int = Field(default=80, ge=10, le=400)

    @model_validator(mode="after")
    def _min_not_above_max(self) -> "Autoscaling":
        if self.min_replicas > self.max_replicas:
            raise _KeyError("ollama.autoscaling.minReplicas", self.min_replicas,
                            f"must not exceed ollama.autoscaling.maxReplicas "
                            f"({self.max_replicas}); lower minReplicas or raise maxReplicas")
        return self


class Ollama(_Model):
    image: PinnedImage = "ollama/ollama:0.32.15"
    replicas: int = Field(default=1, ge=1, le=16)
    gpu: Gpu = Gpu()
    tolerations: tuple[Toleration, ...] = ()
    node_selector: dict[str, str] = {}
    resources: Resources
    storage: Storage
    models: tuple[str, ...] = ("llama3.2:1b",)
    keep_alive: KeepAlive = "5m"
    num_parallel: int = Field(default=1, ge=1, le=64)
    max_loaded_models: int = Field(default=1, ge=0, le=16)
    # A first pull of a large model can take long; Pulumi waits this long for Ready.
    rollout_timeout_minutes: int = Field(default=30, ge=1, le=720)
    autoscaling: Autoscaling = Autoscaling()

    @model_validator(mode="after")
    def _models_are_names(self) -> "Ollama":
        for model in self.models:
            if not re.match(r"^[a-zA-Z0-9][a-zA-Z0-9._/:-]*$", model):
                raise ValueError(f"model '{model}' is not an Ollama model name like llama3.2:1b")
        return self


class OpenAi(_Model):
    enabled: bool = False
    base_url: str = "https://api.openai.com/v1"

    @model_validator(mode="after")
    def _url_is_http(self) -> "OpenAi":
        if not re.match(r"^https?://[^\s/]+", self.base_url):
            raise ValueError(f"baseUrl '{self.base_url}' must be an http(s) URL")
        return self


def _check_login_email(value: str) -> str:
    # Open WebUI's own rule (open_webui/utils/misc.py:767-771 in 0.11.0): name@localhost, or
    # something@domain.tld. It stores and compares e-mails in lower case.
    if value != value.lower() or re.search(r"\s", value):
        raise ValueError(f"use lower case and no spaces: {value.lower().strip()}")
    if not (value.endswith("@localhost") or re.fullmatch(r"[^@]+@[^@]+\.[^@]+", value)):
        raise ValueError("must be an e-mail address such as admin@localhost or "
                         "chat-admin@haw-hamburg.de")
    return value


LoginEmail = Annotated[str, AfterValidator(_check_login_email)]
# The keys `webui.signup` replaced; named so an old stack config gets a migration hint.
_RETIRED_WEBUI_KEYS = {"enableSignup": "webui.signup", "defaultUserRole": "webui.signup"}


class WebUi(_Model):
    image: PinnedImage = "ghcr.io/open-webui/open-webui:v0.11.0"
    resources: Resources
    storage: Storage
    auth: bool = True
    # Who gets an account besides the admin: `approval` (anyone may sign up and waits as
    # pending until the admin approves), `open` (sign-up gives a working account at once),
    # `closed` (only the admin adds accounts, Admin Panel > Users).
    signup: Literal["approval", "open", "closed"] = "approval"
    # The admin account created at the first start (password: the secret webuiAdminPassword).
    admin_email: LoginEmail = "admin@localhost"
    # all: every signed-in user may chat with every model Ollama holds (ollama.models).
    # granted: models stay admin-only until the admin grants access per model.
    model_access: Literal["all", "granted"] = "all"
    # False: the stack config is the truth and wins over settings saved in the UI at each start.
    persistent_config: bool = False
    openai: OpenAi = OpenAi()
    local_port: int = Field(default=8080, ge=1024, le=65535)

    @model_validator(mode="before")
    @classmethod
    def _retired_keys(cls, data: Any) -> Any:
        for old, new in _RETIRED_WEBUI_KEYS.items():
            if isinstance(data, Mapping) and old in data:
                raise _KeyError(old, None,
                                f"replaced by {new} (approval | open | closed); remove it with "
                                f"`pulumi config rm --path webui.{old}` and set e.g. "
                                f"`pulumi config set --path {new} approval`", relative=True)
        return data


class NetworkPolicies(_Model):
    # Default-deny ingress for this release's pods; Ollama only from Open WebUI and the scraper.
    enabled: bool = True
    ingress_controller_namespace: DnsLabel = "ingress-nginx"


_DNS_NAME_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^{_DNS_NAME_LABEL}(\.{_DNS_NAME_LABEL})+$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def _check_hostname(value: str) -> str:
    if "://" in value or "/" in value or ":" in value:
        raise ValueError("must be a bare DNS name such as chat.example.org: "
                         "no scheme, port or path")
    if value != value.lower():
        raise ValueError(f"use lower case: {value.lower()}")
    if len(value) > 253 or not _HOSTNAME.match(value):
        raise ValueError("must be a DNS name such as chat.example.org: dot-separated labels of "
                         "lower-case letters, digits and '-' (no wildcard)")
    if all(label.isdigit() for label in value.split(".")):
        raise ValueError("an IP address cannot be an Ingress host; use a DNS name")
    return value


def _check_dns_subdomain(value: str) -> str:
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise ValueError("must be a Kubernetes object name: "
                         "lower-case letters, digits, '-' and '.'")
    return value


def _check_nginx_size(value: str) -> str:
    if not re.match(r"^[0-9]+[kKmMgG]?$", value):
        raise ValueError("must be an nginx size such as 100m, 1g or 512k")
    return value


def _empty_is_none(value: Any) -> Any:
    # `pulumi config set --path ingress.tls.clusterIssuer ""` turns a target default off.
    return None if value == "" else value


Hostname = Annotated[str, AfterValidator(_check_hostname)]
DnsSubdomain = Annotated[str, AfterValidator(_check_dns_subdomain)]
OptionalDnsSubdomain = Annotated[Optional[DnsSubdomain], BeforeValidator(_empty_is_none)]
NginxSize = Annotated[str, BeforeValidator(_quantity_text), AfterValidator(_check_nginx_size)]


class IngressTls(_Model):
    enabled: bool = True
    # cert-manager's ClusterIssuer; it writes the certificate into `secretName`.
    cluster_issuer: OptionalDnsSubdomain = None
    secret_name: DnsSubdomain = "open-webui-tls"
    # Or a kubernetes.io/tls Secret that already exists in the namespace (then no clusterIssuer).
    existing_secret: OptionalDnsSubdomain = None


class Ingress(_Model):
    """Open WebUI behind the cluster's ingress-nginx; the Ollama API only on explicit request."""

    enabled: bool = False
    host: Optional[Hostname] = None
    class_name: DnsSubdomain = "nginx"
    tls: IngressTls = IngressTls()
    # Uploads (documents for RAG, images) larger than this get 413 from nginx.
    proxy_body_size: NginxSize = "100m"
    # A streamed answer or an idle websocket must not be cut after nginx's default 60 s.
    proxy_timeout_seconds: int = Field(default=3600, ge=60, le=86400)
    # True: do not wait for `.status.loadBalancer` (a controller may never publish it).
    skip_await: bool = False
    # Ollama's API has no authentication: exposing it is opt-in, on a host of its own.
    expose_ollama: bool = False
    ollama_host: Optional[Hostname] = None


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
        raise ValueError("must be a Helm repository URL such as "
                         "https://prometheus-community.github.io/helm-charts")
    return value.rstrip("/")


def _check_chart_version(value: str) -> str:
    if not _CHART_VERSION.match(value):
        raise ValueError("must be one exact chart version such as 29.27.0 (no ranges: "
                         "versions are pinned)")
    return value


def _check_duration(value: str) -> str:
    if not _DURATION.match(value):
        raise ValueError("must be a Prometheus duration such as 15d, 12h or 1w")
    return value


def _check_host_port(value: str) -> str:
    if not _HOST_PORT.match(value):
        raise ValueError("must be host:port, e.g. "
                         "nvidia-dcgm-exporter.gpu-operator.svc.cluster.local:9400")
    return value


RepoUrl = Annotated[Optional[Annotated[str, AfterValidator(_check_repo_url)]],
                    BeforeValidator(_empty_is_none)]
ChartVersion = Annotated[str, BeforeValidator(_quantity_text), AfterValidator(_check_chart_version)]
Duration = Annotated[str, AfterValidator(_check_duration)]
HostPort = Annotated[str, AfterValidator(_check_host_port)]


class _Chart(_Model):
    """Where a chart comes from: a repository (pinned version), an oci:// ref, or a local path
    (for offline use; then repo and version are not used, the chart's own Chart.yaml pins it)."""

    repo: RepoUrl
    chart: str = Field(min_length=1)
    version: ChartVersion
    # Local port of the printed `kubectl port-forward` command.
    local_port: int = Field(ge=1024, le=65535)


class Prometheus(_Chart):
    repo: RepoUrl = PROMETHEUS_REPO
    chart: str = Field(default="prometheus", min_length=1)
    version: ChartVersion = "29.27.0"
    local_port: int = Field(default=9090, ge=1024, le=65535)
    retention: Duration = "15d"
    # Unset: an emptyDir (metrics are lost when the pod moves). Set: a claim of this size.
    storage_size: Optional[Quantity] = None
    storage_class: Optional[DnsLabel] = None
    resources: Resources = Resources(requests=ResourceAmounts(cpu="100m", memory="512Mi"),
                                     limits=ResourceAmounts(cpu="1", memory="1Gi"))


class Grafana(_Chart):
    repo: RepoUrl = GRAFANA_REPO
    chart: str = Field(default="grafana", min_length=1)
    version: ChartVersion = "12.11.1"
    local_port: int = Field(default=3000, ge=1024, le=65535)
    resources: Resources = Resources(requests=ResourceAmounts(cpu="50m", memory="128Mi"),
                                     limits=ResourceAmounts(cpu="500m", memory="512Mi"))


class Exporter(_Model):
    """The in-repo Ollama exporter (components/ollama-exporter.py): stdlib Python, any image
    with python3 runs it."""

    enabled: bool = True
    image: PinnedImage = "python:3.13.7-slim"


class Monitoring(_Model):
    enabled: bool = False
    # namespace: static scrape targets, no API access (the ICC); cluster: kubernetes_sd,
    # cAdvisor and kube-state-metrics (needs ClusterRoles, e.g. Minikube).
    scope: Literal["namespace", "cluster"] = "namespace"
    prometheus: Prometheus = Prometheus()
    grafana: Grafana = Grafana()
    exporter: Exporter = Exporter()
    # DCGM exporters to scrape for GPU panels (host:port), e.g. the GPU operator's Service.
    dcgm_targets: tuple[HostPort, ...] = ()


class QuotaAmounts(_Model):
    cpu: Optional[Quantity] = None
    memory: Optional[Quantity] = None


class Quota(_Model):
    """The namespace's ResourceQuota as far as it is known (`kubectl describe resourcequota`).
    Unset amounts are not checked; the ICC standard numbers are not public."""

    requests: QuotaAmounts = QuotaAmounts()
    limits: QuotaAmounts = QuotaAmounts()
    gpu: Optional[int] = Field(default=None, ge=0, le=64)
    storage: Optional[Quantity] = None


def _check_docker_host(value: str) -> str:
    if not re.match(r"^(unix|npipe|tcp|ssh)://\S+$", value):
        raise ValueError("must be a Docker host such as unix:///var/run/docker.sock, "
                         "npipe:////./pipe/docker_engine, tcp://host:2376 or ssh://user@host")
    return value


def _check_ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("must be an IP address such as 127.0.0.1 (0.0.0.0 opens the port "
                         "to your whole network)") from None


_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]", "0.0.0.0"}


def _check_ollama_url(value: str) -> str:
    match = re.match(r"^https?://(\[[0-9a-fA-F:]+\]|[^/\s:\[\]]+)(:[0-9]{1,5})?(/\S*)?$", value)
    if not match:
        raise ValueError("must be an http(s) URL such as http://host.docker.internal:11434")
    path = (match.group(3) or "").rstrip("/")
    if path.endswith("/api"):
        raise ValueError("drop the '/api' suffix: Open WebUI wants the bare Ollama URL (the "
                         "'/api' form belonged to the deprecated OLLAMA_API_BASE_URL), e.g. "
                         "http://host.docker.internal:11434")
    if match.group(1).lower() in _LOOPBACK_HOSTS:
        raise ValueError("inside the Open WebUI container this address is the container itself; "
                         "for an Ollama on this machine (or a kubectl port-forward) use "
                         "http://host.docker.internal:11434")
    return value.rstrip("/")


DockerHost = Annotated[str, AfterValidator(_check_docker_host)]
IpAddress = Annotated[str, AfterValidator(_check_ip)]
OllamaUrl = Annotated[str, AfterValidator(_check_ollama_url)]


class Docker(_Model):
    """Only for target docker: the daemon, the mode and the published ports."""

    # The one place the Docker host is named; rootless Docker, Colima or a remote host set it.
    host: DockerHost = "unix:///var/run/docker.sock"
    # True: Ollama runs as a container here too. False: Open WebUI only, using ollamaUrl.
    run_ollama: bool = True
    ollama_url: Optional[OllamaUrl] = None
    webui_port: int = Field(default=3000, ge=1, le=65535)
    # 0 leaves the Ollama API unpublished (e.g. when a local Ollama already holds 11434).
    ollama_port: int = Field(default=11434, ge=0, le=65535)
    # Published ports listen on loopback only unless this is changed on purpose.
    bind_address: IpAddress = "127.0.0.1"
    network_name: DnsLabel = "icc-ollama"

    @model_validator(mode="after")
    def _one_ollama(self) -> "Docker":
        if not self.run_ollama and self.ollama_url is None:
            raise _KeyError("docker.ollamaUrl", None,
                            "docker.runOllama is false, so Open WebUI needs the URL of an existing "
                            "Ollama; set it with `pulumi config set --path docker.ollamaUrl "
                            "http://host.docker.internal:11434`")
        if self.run_ollama and self.ollama_url is not None:
            raise _KeyError("docker.ollamaUrl", self.ollama_url,
                            "only used when docker.runOllama is false; remove it with `pulumi "
                            "config rm --path docker.ollamaUrl` or set docker.runOllama to false")
        return self


class Settings(_Model):
    target: Literal["icc", "minikube", "docker"]
    namespace: DnsLabel
    create_namespace: bool
    kubeconfig: Optional[str] = None
    kube_context: Optional[str] = None
    # Claims holding models and chat history outlive `pulumi destroy` unless this is false.
    keep_data_on_destroy: bool = True
    ollama: Ollama
    webui: WebUi
    network_policies: NetworkPolicies = NetworkPolicies()
    docker: Docker = Docker()
    ingress: Ingress = Ingress()
    quota: Quota = Quota()
    monitoring: Monitoring = Monitoring()
    webui_secret_key: SecretStr
    webui_admin_password: Optional[SecretStr] = None
    openai_api_key: Optional[SecretStr] = None
    grafana_admin_password: Optional[SecretStr] = None

    @model_validator(mode="before")
    @classmethod
    def _docker_block_only_on_docker(cls, data: Any) -> Any:
        # Checked before the block itself, so the message is "remove it", not a detail inside it.
        target = data.get("target") if isinstance(data, Mapping) else None
        if target != "docker" and isinstance(data, Mapping) and "docker" in data:
            raise _KeyError("docker", None,
                            f"only the docker target uses it, this stack is {target}; "
                            f"remove it with `pulumi config rm docker`")
        return data

    @model_validator(mode="after")
    def _target_rules(self) -> "Settings":
        if self.target == "icc":
            if not _ICC_NAMESPACE.match(self.namespace):
                raise _KeyError("namespace", self.namespace,
                                "must be your ICC namespace w<id>-default (login infwXYZ123 owns "
                                "wXYZ123-default); fix with `pulumi config set namespace wXYZ123-default`")
            if self.create_namespace:
                raise _KeyError("createNamespace", True,
                                "ICC users cannot create namespaces; set it to false")
        if self.target == "docker":
            _docker_rules(self)
        if self.target == "minikube" and self.ollama.gpu.enabled:
            raise _KeyError("ollama.gpu.enabled", True,
                            "the minikube target has no GPU; set ollama.gpu.enabled to false")
        if len(self.webui_secret_key.get_secret_value()) < 32:
            raise _KeyError("webuiSecretKey", "(secret)",
                            "use at least 32 characters, e.g. `openssl rand -hex 32`")
        _admin_password_rules(self)
        if self.webui.openai.enabled and self.openai_api_key is None:
            raise _KeyError("openaiApiKey", None,
                            "webui.openai.enabled is true; set the key with "
                            "`pulumi config set --secret openaiApiKey <key>`")
        return self

    @model_validator(mode="after")
    def _exposure_scaling_and_budget(self) -> "Settings":
        # After _target_rules: a wrong namespace or target is reported before these.
        _kubernetes_only_rules(self)
        _ingress_rules(self)
        _monitoring_rules(self)
        _autoscaling_rules(self)
        _quota_rules(self)
        return self

    @property
    def kubernetes(self) -> bool:
        return self.target in ("icc", "minikube")


def _admin_password_rules(settings: "Settings") -> None:
    if not settings.webui.auth:
        return
    password = settings.webui_admin_password
    if password is None:
        raise _KeyError("webuiAdminPassword", None,
                        "the Open WebUI admin account is created at the first start with this "
                        "password; set it with `openssl rand -base64 24 | pulumi config set "
                        "--secret webuiAdminPassword` (`make up` generates it)")
    text = password.get_secret_value()
    if len(text) < 12 or text.lower() in _WEAK_PASSWORDS:
        raise _KeyError("webuiAdminPassword", "(secret)",
                        "use at least 12 characters and no default such as admin, e.g. "
                        "`openssl rand -base64 24 | pulumi config set --secret "
                        "webuiAdminPassword`")


def _docker_rules(settings: "Settings") -> None:
    if settings.ollama.gpu.enabled and not settings.docker.run_ollama:
        raise _KeyError("ollama.gpu.enabled", True,
                        "a GPU can only go to an Ollama container this stack runs, and "
                        "docker.runOllama is false; set ollama.gpu.enabled to false "
                        "(or docker.runOllama to true)")
    if settings.ollama.replicas != 1:
        raise _KeyError("ollama.replicas", settings.ollama.replicas,
                        "the docker target runs one Ollama container; set it to 1")


def _kubernetes_only_rules(settings: "Settings") -> None:
    if settings.target != "docker":
        return
    for key, used in (("ingress.enabled", settings.ingress.enabled),
                      ("ollama.autoscaling.enabled", settings.ollama.autoscaling.enabled),
                      ("monitoring.enabled", settings.monitoring.enabled)):
        if used:
            raise _KeyError(key, True,
                            f"only the Kubernetes targets (icc, minikube) have it; set it to "
                            f"false with `pulumi config set --path {key} false`")
    if settings.quota != Quota():
        raise _KeyError("quota", None, "a namespace quota exists only on Kubernetes targets; "
                                       "remove it with `pulumi config rm quota`")


def _ingress_rules(settings: "Settings") -> None:
    ingress, tls = settings.ingress, settings.ingress.tls
    if not ingress.enabled:
        if ingress.expose_ollama:
            raise _KeyError("ingress.exposeOllama", True,
                            "needs ingress.enabled true; set exposeOllama to false")
        return
    if ingress.host is None:
        example = ("chat.<your-domain>, a name you control with a CNAME to "
                   "icc-k8s-api.informatik.haw-hamburg.de" if settings.target == "icc"
                   else "open-webui.minikube.local")
        raise _KeyError("ingress.host", None,
                        f"required when ingress.enabled is true: {example}; set it with "
                        f"`pulumi config set --path ingress.host <name>`")
    if tls.enabled and tls.cluster_issuer and tls.existing_secret:
        raise _KeyError("ingress.tls.existingSecret", tls.existing_secret,
                        f"TLS comes from cert-manager (ingress.tls.clusterIssuer is "
                        f"{tls.cluster_issuer}) or from an existing secret, not both; turn "
                        f"cert-manager off with `pulumi config set --path "
                        f"ingress.tls.clusterIssuer ''` or remove existingSecret")
    if tls.enabled and not (tls.cluster_issuer or tls.existing_secret):
        raise _KeyError("ingress.tls", None,
                        "TLS needs a certificate: set ingress.tls.clusterIssuer (cert-manager) "
                        "or ingress.tls.existingSecret, or set ingress.tls.enabled false for "
                        "plain http")
    if ingress.expose_ollama and ingress.ollama_host is None:
        raise _KeyError("ingress.ollamaHost", None,
                        "ingress.exposeOllama needs a host of its own (Open WebUI's /api paths "
                        "would collide); set it with `pulumi config set --path ingress.ollamaHost "
                        "<name>`")
    if ingress.ollama_host is not None and not ingress.expose_ollama:
        raise _KeyError("ingress.ollamaHost", ingress.ollama_host,
                        "only used with ingress.exposeOllama true; remove it with "
                        "`pulumi config rm --path ingress.ollamaHost`")
    if ingress.ollama_host is not None and ingress.ollama_host == ingress.host:
        raise _KeyError("ingress.ollamaHost", ingress.ollama_host,
                        "must differ from ingress.host: Open WebUI's own /api paths would collide")


# Grafana's well-known defaults (the seed used admin/admin); refused even if long enough.
_WEAK_PASSWORDS = {"admin", "password", "changeme", "prom-operator", "grafana"}


def _monitoring_rules(settings: "Settings") -> None:
    monitoring = settings.monitoring
    if not monitoring.enabled:
        return
    if settings.target == "icc" and monitoring.scope == "cluster":
        raise _KeyError("monitoring.scope", "cluster",
                        "ICC users have one namespace and no cluster-admin, so Prometheus "
                        "cannot read nodes, cAdvisor or other namespaces; set it with "
                        "`pulumi config set --path monitoring.scope namespace`")
    password = settings.grafana_admin_password
    if password is None:
        raise _KeyError("grafanaAdminPassword", None,
                        "monitoring.enabled is true, so Grafana needs an admin password; set "
                        "it with `pulumi config set --secret grafanaAdminPassword <value>` "
                        "(e.g. from `openssl rand -base64 24`)")
    text = password.get_secret_value()
    if len(text) < 12 or text.lower() in _WEAK_PASSWORDS:
        raise _KeyError("grafanaAdminPassword", "(secret)",
                        "use at least 12 characters and no default such as admin, e.g. "
                        "`openssl rand -base64 24 | pulumi config set --secret "
                        "grafanaAdminPassword`")
    for key, chart in (("monitoring.prometheus", monitoring.prometheus),
                       ("monitoring.grafana", monitoring.grafana)):
        local = is_chart_path(chart.chart) or chart.chart.startswith("oci://")
        if chart.repo is None and not local:
            raise _KeyError(f"{key}.repo", None,
                            f"chart '{chart.chart}' is a name in a repository, so the "
                            f"repository URL is needed; set {key}.repo, or set {key}.chart "
                            f"to a local path (./charts/...) or an oci:// reference")


def _autoscaling_rules(settings: "Settings") -> None:
    scaling, gpu = settings.ollama.autoscaling, settings.ollama.gpu
    if settings.target == "icc" and scaling.enabled and gpu.enabled and settings.quota.gpu is None:
        raise _KeyError("quota.gpu", None,
                        f"required while ollama.autoscaling is on with GPUs: the HPA may ask for "
                        f"maxReplicas × gpu.count = {scaling.max_replicas * gpu.count} GPUs; set "
                        f"your namespace's GPU quota (`kubectl describe resourcequota`) with "
                        f"`pulumi config set --path quota.gpu <n>`")


def _quota_rules(settings: "Settings") -> None:
    if not settings.kubernetes:
        return
    from components.quota import budget_overrun  # imports the components, which import this

    overrun = budget_overrun(settings)
    if overrun is not None:
        raise _KeyError(overrun.key, overrun.given, overrun.message)


class _KeyError(ValueError):
    """A rule that spans fields, pinned to the key the user must change."""

    def __init__(self, key: str, given: Any, fix: str, relative: bool = False):
        super().__init__(fix)
        # relative: `key` is below the model that raised it (its location is added on report).
        self.key, self.given, self.fix, self.relative = key, given, fix, relative


def _monitoring_defaults() -> dict[str, Any]:
    # Spelled out here (not only in the model) so that setting one amount keeps the others.
    return {
        "prometheus": {"resources": Prometheus().resources.model_dump(by_alias=True)},
        "grafana": {"resources": Grafana().resources.model_dump(by_alias=True)},
    }


def _icc_defaults() -> dict[str, Any]:
    return {
        "createNamespace": False,
        # The ICC ingress-nginx with cert-manager's issuer; whether that controller publishes
        # `.status.loadBalancer` is unknown, and Pulumi would wait 10 minutes for it.
        "ingress": {"tls": {"clusterIssuer": "letsencrypt-production"}, "skipAwait": True},
        # Opt-in: it needs grafanaAdminPassword and room in the namespace quota. Namespace
        # scope is the only one an ICC user can run.
        "monitoring": _deep_merge(_monitoring_defaults(), {
            "enabled": False, "scope": "namespace",
            "prometheus": {"storageClass": "rook-ceph-block"}}),
        "ollama": {
            "replicas": 1,
            "gpu": {"enabled": True, "count": 1, "cudaEnv": True},
            "tolerations": [{"key": "gpu-tesla-v100", "operator": "Exists", "effect": "NoSchedule"}],
            "resources": {"requests": {"cpu": "1", "memory": "8Gi"},
                          "limits": {"cpu": "4", "memory": "16Gi"}},
            "storage": {"size": "20Gi", "storageClass": "rook-ceph-block"},
            "keepAlive": "30m",
            "numParallel": 2,
            "maxLoadedModels": 2,
        },
        "webui": {
            "resources": {"requests": {"cpu": "250m", "memory": "1Gi"},
                          "limits": {"cpu": "1", "memory": "2Gi"}},
            "storage": {"size": "5Gi", "storageClass": "rook-ceph-block"},
        },
    }


def _minikube_defaults() -> dict[str, Any]:
    return {
        "namespace": "icc-ollama",
        "createNamespace": True,
        "kubeContext": "minikube",
        # `minikube addons enable ingress`; no cert-manager there, so plain http by default.
        "ingress": {"host": "open-webui.minikube.local", "tls": {"enabled": False}},
        # Cluster-wide on a laptop: cAdvisor and kube-state-metrics feed the CPU/memory panels.
        "monitoring": _deep_merge(_monitoring_defaults(), {"enabled": True, "scope": "cluster"}),
        "ollama": {
            "replicas": 2,
            # Opt-in; starts from the two fixed replicas, at most four on a laptop.
            "autoscaling": {"minReplicas": 2, "maxReplicas": 4},
            "resources": {"requests": {"cpu": "500m", "memory": "2Gi"},
                          "limits": {"cpu": "2", "memory": "4Gi"}},
            "storage": {"size": "10Gi"},
        },
        "webui": {
            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"},
                          "limits": {"cpu": "1", "memory": "2Gi"}},
            "storage": {"size": "2Gi"},
        },
    }


def _docker_defaults() -> dict[str, Any]:
    # Namespace, createNamespace and storage sizes mean nothing to Docker; they are filled here
    # so a docker stack never has to set them. resources.limits become the container limits.
    return {
        "namespace": "icc-ollama",
        "createNamespace": False,
        "docker": {},
        "ollama": {
            "replicas": 1,
            "resources": {"requests": {"cpu": "1", "memory": "2Gi"},
                          "limits": {"cpu": "4", "memory": "8Gi"}},
            "storage": {"size": "20Gi"},
        },
        "webui": {
            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"},
                          "limits": {"cpu": "1", "memory": "2Gi"}},
            "storage": {"size": "2Gi"},
        },
    }


TARGET_DEFAULTS = {"icc": _icc_defaults, "minikube": _minikube_defaults, "docker": _docker_defaults}


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _decode(value: Any) -> Any:
    # The CLI hands every value over as a string; objects and lists arrive JSON-encoded.
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise SettingsError(f"not valid JSON ({error.msg})") from None
    return value


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def _config_path(loc: list[str]) -> str:
    # `pulumi config set --path` writes list items as key[0], not key.0.
    path = ""
    for part in loc:
        path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    return path


def _fix_hint(key: str) -> str:
    top = key.split(".")[0].split("[")[0]
    if top in SECRET_KEYS:
        return f"pulumi config set --secret {top} <value>"
    if "." in key or "[" in key:
        return f"pulumi config set --path '{key}' <value>"
    return f"pulumi config set {key} <value>"


def _describe(error: dict[str, Any], raw: Mapping[str, Any]) -> str:
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, _KeyError):
        key, given, fix = cause.key, cause.given, cause.fix
        if cause.relative:
            key = _config_path([str(part) for part in error["loc"]] + key.split("."))
        shown = "" if given is None else f" (given: {_show(given)})"
        return f"{PROJECT}:{key}{shown}: {fix}"
    loc = [str(part) for part in error["loc"]]
    key = _config_path(loc)
    message = str(cause) if cause is not None else error["msg"]
    if error["type"] == "extra_forbidden":
        return f"{PROJECT}:{key}: unknown setting; remove it with `pulumi config rm --path '{key}'`"
    if error["type"] == "missing":
        return f"{PROJECT}:{key}: required; set it with `{_fix_hint(key)}`"
    given = error.get("input")
    shown = "(secret)" if loc[0] in SECRET_KEYS else _show(given)
    return f"{PROJECT}:{key} (given: {shown}): {message}; fix with `{_fix_hint(key)}`"


def parse_settings(raw: Mapping[str, Any], secret_keys: frozenset[str] = frozenset()) -> Settings:
    """Validate the project's config (keys without the `icc-ollama:` prefix) into Settings."""
    decoded: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            decoded[key] = _decode(value)
        except SettingsError as error:
            raise SettingsError(f"{PROJECT}:{key}: {error}") from None
    for key in SECRET_KEYS:
        if key in decoded and key not in secret_keys:
            raise SettingsError(
                f"{PROJECT}:{key}: stored in plain text; set it again with "
                f"`pulumi config set --secret {key} <value>`")
    target = decoded.get("target")
    if target not in TARGETS:
        allowed = ", ".join(TARGETS)
        raise SettingsError(
            f"{PROJECT}:target (given: {_show(target)}): must be one of {allowed}; "
            f"fix with `pulumi config set target <{'|'.join(TARGETS)}>`")
    merged = _deep_merge(TARGET_DEFAULTS[target](), decoded)
    try:
        return Settings.model_validate(merged)
    except ValidationError as error:
        lines = [_describe(item, merged) for item in error.errors()]
        raise SettingsError("invalid stack settings:\n  " + "\n  ".join(lines)) from None


def _stack_config() -> tuple[dict[str, Any], frozenset[str]]:
    """All `icc-ollama:*` keys of the running stack, from the CLI or from a test's mock config."""
    import pulumi.runtime.config as runtime_config  # the SDK has no public "all keys" call

    prefix = f"{PROJECT}:"
    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    raw = {key[len(prefix):]: value for key, value in merged.items() if key.startswith(prefix)}
    secret = frozenset(key[len(prefix):] for key in raw_secret_keys() if key.startswith(prefix))
    return raw, secret


def raw_secret_keys() -> set[str]:
    import pulumi.runtime.config as runtime_config

    return set(runtime_config._SECRET_KEYS.get()) | set(runtime_config.get_config_secret_keys_env())


def load_settings() -> Settings:
    """Read and validate the stack's settings; a problem stops the program with one RunError."""
    import pulumi

    raw, secret = _stack_config()
    try:
        return parse_settings(raw, secret)
    except SettingsError as error:
        raise pulumi.RunError(str(error)) from None
