"""`Settings`: the whole stack, its sections, and the rules that span sections or targets."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr, model_validator

from settings.base import DnsLabel, KeyedError, Model, check_password
from settings.cluster import check_cluster_keys
from settings.docker import Docker, check_docker_target
from settings.ingress import Ingress, check_ingress
from settings.monitoring import Monitoring, check_monitoring
from settings.network import NetworkPolicies
from settings.ollama import Ollama
from settings.quota import NodeCapacity, Quota, check_quota
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
    webui_secret_key: SecretStr
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
        check_docker_target(self)
        check_cluster_keys(self.target, self.icc_api_server, self.other_local_cluster)
        if self.target == "minikube" and self.ollama.gpu.enabled:
            raise KeyedError(
                "ollama.gpu.enabled",
                True,
                "the minikube target has no GPU; set ollama.gpu.enabled to false",
            )
        _check_kubeconfig(self.kubeconfig)
        if len(self.webui_secret_key.get_secret_value()) < 32:
            raise KeyedError(
                "webuiSecretKey",
                "(secret)",
                "use at least 32 characters, e.g. `openssl rand -hex 32`",
            )
        _check_admin_password(self)
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
        check_ingress(self)
        check_monitoring(self)
        _check_autoscaling(self)
        check_quota(self)
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
            "the Open WebUI admin account is created at the first start with this password "
            "(`make up` generates it)",
        )


def _check_autoscaling(settings: Settings) -> None:
    scaling, gpu = settings.ollama.autoscaling, settings.ollama.gpu
    if settings.target == "icc" and scaling.enabled and gpu.enabled and settings.quota.gpu is None:
        raise KeyedError(
            "quota.gpu",
            None,
            f"required while ollama.autoscaling is on with GPUs: the HPA may ask "
            f"for maxReplicas × gpu.count = {scaling.max_replicas * gpu.count} "
            f"GPUs; set your namespace's GPU quota (`kubectl describe "
            f"resourcequota`) with `pulumi config set --path quota.gpu <n>`",
        )
