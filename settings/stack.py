"""`Settings`: the whole stack, its sections, and the rules that span sections or targets.

The sections (settings/<section>.py) check only their own fields and import nothing of this
module. A rule that needs several sections is here (what each target allows), in
settings/exposure.py (who can reach the service) or in settings/budget.py (does the release fit).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr, model_validator

from settings.base import DnsLabel, KeyedError, Model, check_password
from settings.budget import check_fit
from settings.cluster import check_cluster_keys
from settings.docker import Docker
from settings.exposure import check_docker_exposure, check_ingress_exposure
from settings.ingress import Ingress, check_ingress
from settings.monitoring import Monitoring, check_charts
from settings.network import NetworkPolicies
from settings.ollama import Ollama
from settings.quota import NodeCapacity, Quota
from settings.webui import WebUi

# ICC login `infwXYZ123` owns exactly one namespace, `wXYZ123-default`.
_ICC_NAMESPACE = re.compile(r"^w[a-z0-9]+-default$")


class Settings(Model):
    target: Literal["icc", "minikube", "docker"]
    namespace: DnsLabel
    create_namespace: bool
    kubeconfig: str | None = None
    kube_context: str | None = None
    # The API server an icc stack must reach (components/cluster.py checks it before anything is
    # created); the ICC's by default (settings/targets.py), a setting for tests and a new address.
    icc_api_server: str | None = None
    # Minikube: accept a context that is not minikube's (kind, Docker Desktop, k3d, ...).
    other_local_cluster: bool = False
    # Claims holding models and chat history outlive `pulumi destroy` unless this is false.
    keep_data_on_destroy: bool = True
    ollama: Ollama
    webui: WebUi
    network_policies: NetworkPolicies = NetworkPolicies()
    docker: Docker = Docker()
    ingress: Ingress = Ingress()
    quota: Quota = Quota()
    node_capacity: NodeCapacity = NodeCapacity()
    monitoring: Monitoring = Monitoring()
    # Secrets left unset are made by the program (components/secrets.py) and kept in the state.
    webui_secret_key: SecretStr | None = None
    webui_admin_password: SecretStr | None = None
    openai_api_key: SecretStr | None = None
    grafana_admin_password: SecretStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _docker_block_only_on_docker(cls, data: Any) -> Any:
        # Checked before the block itself, so the message is "remove it", not a detail inside it.
        target = data.get("target") if isinstance(data, Mapping) else None
        if target != "docker" and isinstance(data, Mapping) and "docker" in data:
            raise KeyedError(
                "docker",
                None,
                f"only the docker target uses it, this stack is {target}; "
                f"remove it with `pulumi config rm docker`",
            )
        return data

    @model_validator(mode="after")
    def _target_rules(self) -> Settings:
        if self.target == "icc":
            _check_icc(self)
        _check_docker_target(self)
        check_cluster_keys(self.target, self.icc_api_server, self.other_local_cluster)
        if self.target == "minikube" and self.ollama.gpu.enabled:
            raise KeyedError(
                "ollama.gpu.enabled",
                True,
                "the minikube target has no GPU; set ollama.gpu.enabled to false",
            )
        _check_kubeconfig(self.kubeconfig)
        key = self.webui_secret_key
        if key is not None and len(key.get_secret_value()) < 32:
            raise KeyedError(
                "webuiSecretKey",
                "(secret)",
                "use at least 32 characters, e.g. `openssl rand -hex 32`",
            )
        _check_admin_password(self)
        if self.openai_api_key is not None and not self.openai_api_key.get_secret_value():
            raise KeyedError(
                "openaiApiKey",
                "(empty)",
                "an empty key; set the key with `pulumi config set --secret openaiApiKey <key>` "
                "or remove it with `pulumi config rm openaiApiKey`",
            )
        if self.webui.openai.enabled and self.openai_api_key is None:
            raise KeyedError(
                "openaiApiKey",
                None,
                "webui.openai.enabled is true; set the key with "
                "`pulumi config set --secret openaiApiKey <key>`",
            )
        return self

    @model_validator(mode="after")
    def _exposure_scaling_and_budget(self) -> Settings:
        # After _target_rules: a wrong namespace or target is reported before these.
        check_ingress(self.ingress)
        check_ingress_exposure(self.ingress, self.target, self.webui.auth)
        _check_monitoring(self)
        check_fit(self)
        return self

    @property
    def kubernetes(self) -> bool:
        return self.target in ("icc", "minikube")


def _check_icc(settings: Settings) -> None:
    if not _ICC_NAMESPACE.match(settings.namespace):
        raise KeyedError(
            "namespace",
            settings.namespace,
            "must be your ICC namespace w<id>-default (login infwXYZ123 owns "
            "wXYZ123-default); fix with `pulumi config set namespace "
            "wXYZ123-default`",
        )
    if settings.create_namespace:
        raise KeyedError(
            "createNamespace", True, "ICC users cannot create namespaces; set it to false"
        )


def _check_kubeconfig(kubeconfig: str | None) -> None:
    """The provider takes a kubeconfig's contents or a path to one; a path must exist here."""
    if kubeconfig is None or "\n" in kubeconfig or kubeconfig.lstrip().startswith(("{", "api")):
        return
    if not Path(kubeconfig).expanduser().is_file():
        raise KeyedError(
            "kubeconfig",
            kubeconfig,
            "no such file; give the path of the kubeconfig from the ICC login "
            "portal (e.g. ~/.kube/icc.yaml) or unset it to use ~/.kube/config",
        )


def _check_admin_password(settings: Settings) -> None:
    if settings.webui.auth:
        check_password(
            "webuiAdminPassword",
            settings.webui_admin_password,
            "the Open WebUI admin account is made at the first start with this password",
        )


def _check_docker_target(settings: Settings) -> None:
    """What a docker stack cannot have: Kubernetes-only features and more than one Ollama."""
    if settings.target != "docker":
        return
    if settings.ollama.gpu.enabled and not settings.docker.run_ollama:
        raise KeyedError(
            "ollama.gpu.enabled",
            True,
            "a GPU can only go to an Ollama container this stack runs, and "
            "docker.runOllama is false; set ollama.gpu.enabled to false "
            "(or docker.runOllama to true)",
        )
    if settings.ollama.replicas != 1:
        raise KeyedError(
            "ollama.replicas",
            settings.ollama.replicas,
            "the docker target runs one Ollama container; set it to 1 with "
            "`pulumi config set --path ollama.replicas 1`",
        )
    for key, used in (
        ("ingress.enabled", settings.ingress.enabled),
        ("ollama.autoscaling.enabled", settings.ollama.autoscaling.enabled),
        ("monitoring.enabled", settings.monitoring.enabled),
    ):
        if used:
            raise KeyedError(
                key,
                True,
                f"only the Kubernetes targets (icc, minikube) have it; set it to "
                f"false with `pulumi config set --path {key} false`",
            )
    check_docker_exposure(settings.docker, settings.webui.auth)
    if settings.quota != Quota():
        raise KeyedError(
            "quota",
            None,
            "a namespace quota exists only on Kubernetes targets; "
            "remove it with `pulumi config rm quota`",
        )


def _check_monitoring(settings: Settings) -> None:
    if not settings.monitoring.enabled:
        return
    if settings.target == "icc" and settings.monitoring.scope == "cluster":
        raise KeyedError(
            "monitoring.scope",
            "cluster",
            "ICC users have one namespace and no cluster-admin, so Prometheus "
            "cannot read nodes, cAdvisor or other namespaces; set it with "
            "`pulumi config set --path monitoring.scope namespace`",
        )
    check_password(
        "grafanaAdminPassword",
        settings.grafana_admin_password,
        "Grafana's admin logs in with this password",
    )
    check_charts(settings.monitoring)
