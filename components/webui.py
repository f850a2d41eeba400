"""OpenWebUI: the chat front end on port 8080, its data claim, its secrets and its Service.

One replica on SQLite, as the Open WebUI docs require without Postgres and Redis. It runs as a
one-replica StatefulSet so its data claim is made by the controller: it survives `pulumi destroy`
and replacements exactly like the Ollama model claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import pulumi

from components import kube
from components.settings import WebUi

if TYPE_CHECKING:
    import pulumi_kubernetes as k8s

PORT = 8080
DATA_DIR = "/app/backend/data"
# The stock image runs as root and writes below /app at start-up (static files, caches); the
# Open WebUI docs require a custom build (UID/GID build args) for non-root. So this container
# keeps root and a writable root filesystem, with no capabilities and no privilege escalation.
RUN_AS_USER = None


@dataclass(frozen=True)
class OpenWebUIArgs:
    namespace: str
    webui: WebUi
    ollama_urls: tuple[str, ...]
    secret_key: pulumi.Input[str]
    openai_api_key: Optional[pulumi.Input[str]] = None
    keep_data: bool = True
    public_url: Optional[str] = None
    name: str = "open-webui"


def webui_env(webui: WebUi, ollama_urls: tuple[str, ...], public_url: Optional[str]) -> dict[str, str]:
    """Plain (non-secret) environment, shared by the Kubernetes and Docker targets."""
    env = {
        # Each replica is listed so Open WebUI sees which models each one holds.
        "OLLAMA_BASE_URLS": ";".join(ollama_urls),
        "ENABLE_OLLAMA_API": "true" if ollama_urls else "false",
        "WEBUI_AUTH": str(webui.auth).lower(),
        "ENABLE_SIGNUP": str(webui.enable_signup).lower(),
        "DEFAULT_USER_ROLE": webui.default_user_role,
        "ENABLE_PERSISTENT_CONFIG": str(webui.persistent_config).lower(),
        "ENABLE_OPENAI_API": str(webui.openai.enabled).lower(),
        "UVICORN_WORKERS": "1",
    }
    if webui.openai.enabled:
        env["OPENAI_API_BASE_URL"] = webui.openai.base_url
    if public_url:
        env["WEBUI_URL"] = public_url
    return env


def webui_secret_env(secret_key: pulumi.Input[str],
                     openai_api_key: Optional[pulumi.Input[str]]) -> dict[str, pulumi.Output[str]]:
    """Secret environment, shared by the Kubernetes and Docker targets; every value stays secret."""
    # The key comes from stack config, so it is the same on every update: users stay logged in.
    env = {"WEBUI_SECRET_KEY": pulumi.Output.secret(secret_key)}
    if openai_api_key is not None:
        env["OPENAI_API_KEY"] = pulumi.Output.secret(openai_api_key)
    return env


def login_hint(webui: WebUi, url: str) -> str:
    return (f"open {url}; the first account to sign up becomes the admin, later sign-ups wait "
            f"as '{webui.default_user_role}' until the admin approves them")


class OpenWebUI(pulumi.ComponentResource):
    """Open WebUI with a stable WEBUI_SECRET_KEY from a Kubernetes Secret."""

    service_name: str

    def __init__(self, name: str, args: OpenWebUIArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("icc:webui:OpenWebUI", name, None, opts)
        self._args = args
        self.selector = kube.labels(args.name, "frontend")
        self.service_name = args.name
        self.secret_name = f"{args.name}-secret"
        child = pulumi.ResourceOptions(parent=self)
        self.service_account = kube.service_account(f"{name}-sa", self._meta(args.name), child)
        self.secret = self._secret(name, child)
        self.service = kube.service(
            f"{name}-service", self._meta(args.name),
            {"type": "ClusterIP", "selector": self.selector,
             "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}]},
            child)
        self.statefulset = self._statefulset(name)
        self.register_outputs({"serviceName": self.service_name,
                               "statefulSetName": self.statefulset.metadata.name})

    def _meta(self, name: str) -> dict:
        return {"name": name, "namespace": self._args.namespace,
                "labels": kube.with_managed_by(self.selector)}

    def _secret(self, name: str, opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
        import pulumi_kubernetes as k8s

        data = webui_secret_env(self._args.secret_key, self._args.openai_api_key)
        return k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=self._meta(self.secret_name),
            type="Opaque",
            string_data=data,
            opts=opts,
        )

    def _env(self) -> list[dict]:
        args = self._args
        plain = webui_env(args.webui, args.ollama_urls, args.public_url)
        env = [{"name": key, "value": value} for key, value in plain.items()]
        for key in webui_secret_env(args.secret_key, args.openai_api_key):
            env.append({"name": key, "valueFrom": {
                # The name, not the Secret's output: that output is secret as a whole, and it
                # would turn the pod template into "[secret]" in every preview (the StatefulSet
                # waits for the Secret through depends_on instead).
                "secretKeyRef": {"name": self.secret_name, "key": key}}})
        return env

    def _statefulset(self, name: str) -> k8s.apps.v1.StatefulSet:
        import pulumi_kubernetes as k8s

        webui = self._args.webui
        container = {
            "name": "open-webui",
            "image": webui.image,
            "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
            "env": self._env(),
            "resources": kube.resource_requirements(webui.resources),
            "volumeMounts": [{"name": "data", "mountPath": DATA_DIR}],
            "securityContext": kube.container_security(read_only_root=False),
            # The first start migrates the database and may download embedding models.
            "startupProbe": kube.http_probe("/health", PORT, period=10, failures=60),
            "readinessProbe": kube.http_probe("/health", PORT, period=10, failures=3),
            "livenessProbe": kube.http_probe("/health", PORT, period=20, failures=6),
        }
        return k8s.apps.v1.StatefulSet(
            name,
            metadata=self._meta(self._args.name),
            spec={
                # By name, not `self.service.metadata.name`: that output would make the
                # StatefulSet wait for the Service, whose await waits for Ready pods, which only
                # this StatefulSet makes (a 10-minute deadlock on the first `pulumi up`).
                "serviceName": self.service_name,
                "replicas": 1,
                "selector": {"matchLabels": self.selector},
                "persistentVolumeClaimRetentionPolicy": kube.claim_retention(self._args.keep_data),
                "template": {
                    "metadata": {"labels": kube.with_managed_by(self.selector)},
                    "spec": {"enableServiceLinks": False,
                             "serviceAccountName": self.service_account.metadata.name,
                             "automountServiceAccountToken": False,
                             "securityContext": kube.pod_security(RUN_AS_USER),
                             "containers": [container]},
                },
                "volumeClaimTemplates": [
                    kube.claim_template("data", webui.storage, "frontend", self._args.name)],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.secret],
                                        custom_timeouts=kube.rollout_timeouts(15)),
        )
