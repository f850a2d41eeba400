"""OpenWebUI: the chat front end on port 8080, its data claim, its secrets and its Service.

One replica on SQLite, as the Open WebUI docs require without Postgres and Redis. It runs as a
one-replica StatefulSet so its data claim is made by the controller: it survives `pulumi destroy`
and replacements exactly like the Ollama model claims.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components import webui_backup as backup
from components.network import AllowRule
from components.webui_env import (
    DATA_DIR,
    PORT,
    browser_origins,
    start_command,
    webui_env,
    webui_secret_env,
)
from settings.webui import WebUi

# Open WebUI runs as any uid with group 0 (since 0.11.0; 0.12.4 is pinned): here a high uid, clear
# of the node's own users; its claim belongs to a group of its own (fsGroup). At every start (when
# open_webui.config is imported) it deletes the files of its static directory and copies them again
# from the frontend build, whose static folder 0.12 requires (it raises at import without it); the
# static directory also holds the swagger-ui files only the image has. So that directory is an
# emptyDir seeded from the image by an init container. Its other writes go to DATA_DIR (the
# database, uploads, the vector store and, by the image's HF_HOME / SENTENCE_TRANSFORMERS_HOME /
# WHISPER_MODEL_DIR, the model caches) and to temporary files (/tmp). So the root filesystem can
# be read-only.
RUN_AS_USER = 10001
RUN_AS_GROUP = 0
FS_GROUP = 10001
STATIC_DIR = "/app/backend/open_webui/static"
STATIC_SEED_DIR = "/seed"
TMP_DIR = "/tmp"
SEED_RESOURCES = {
    "requests": {"cpu": "10m", "memory": "32Mi"},
    "limits": {"cpu": "200m", "memory": "64Mi"},
}


@dataclass(frozen=True)
class OpenWebUIArgs:
    namespace: str
    webui: WebUi
    ollama_urls: tuple[str, ...]
    secret_key: pulumi.Input[str]
    admin_password: pulumi.Input[str] | None = None
    openai_api_key: pulumi.Input[str] | None = None
    keep_data: bool = True
    public_url: str | None = None
    # The Ollama Service for embeddings (RAG); None: the first of ollama_urls.
    rag_ollama_url: str | None = None
    name: str = "open-webui"


class OpenWebUI(pulumi.ComponentResource):
    """Open WebUI with a stable WEBUI_SECRET_KEY from a Kubernetes Secret."""

    service_name: str
    cluster_ip: pulumi.Output[str]  # assigned by the cluster to the Service

    def __init__(self, name: str, args: OpenWebUIArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("icc:webui:OpenWebUI", name, None, opts)
        self._args = args
        self.selector = kube.labels(args.name, "frontend")
        self.service_name = args.name
        self.secret_name = f"{args.name}-secret"
        self.scripts_name = f"{args.name}-scripts"
        child = pulumi.ResourceOptions(parent=self)
        # No API token: nothing in this pod talks to the API server.
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=self._meta(args.name),
            automount_service_account_token=False,
            opts=child,
        )
        self.secret = self._secret(name, child)
        # The backup script for the init container and the sidecar (components/webui_backup.py).
        self.scripts = (
            k8s.core.v1.ConfigMap(
                f"{name}-scripts",
                metadata=self._meta(self.scripts_name),
                data=backup.script_files(),
                opts=child,
            )
            if args.webui.backup.enabled
            else None
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=kube.skip_await(self._meta(args.name)),
            spec={
                "type": "ClusterIP",
                "selector": self.selector,
                "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}],
            },
            opts=child,
        )
        self.cluster_ip = self.service.spec.apply(kube.assigned_cluster_ip)
        self.statefulset = self._statefulset(name)
        self.register_outputs(
            {
                "serviceName": self.service_name,
                "statefulSetName": self._args.name,
                "clusterIP": self.cluster_ip,
            }
        )

    def allow_rules(self, ingress_namespace: str) -> tuple[AllowRule, ...]:
        """Browsers reach Open WebUI through the ingress controller (port-forward needs no rule:
        the kubelet enters the pod directly)."""
        return (
            AllowRule(
                "webui-from-ingress",
                target=self.selector,
                ports=(PORT,),
                namespaces=(ingress_namespace,),
            ),
        )

    def _meta(self, name: str) -> dict:
        return {
            "name": name,
            "namespace": self._args.namespace,
            "labels": kube.with_managed_by(self.selector),
        }

    def _secret(self, name: str, opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
        args = self._args
        data = webui_secret_env(args.secret_key, args.openai_api_key, self._admin_password())
        # The class makes all of string_data secret, and what the provider reads back.
        return k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=self._meta(self.secret_name),
            type="Opaque",
            string_data=data,
            opts=opts,
        )

    def _admin_password(self) -> pulumi.Input[str] | None:
        return self._args.admin_password if self._args.webui.auth else None

    def _env(self) -> list[dict]:
        args = self._args
        plain = webui_env(
            args.webui,
            args.ollama_urls,
            args.public_url,
            browser_origins(args.webui.local_port, args.public_url),
            args.rag_ollama_url,
        )
        # The image's HOME (/root) is not the non-root user's; caches written there go to /tmp.
        # The secrets below are env vars, not files (checkov CKV_K8S_35): Open WebUI reads
        # WEBUI_SECRET_KEY, WEBUI_ADMIN_PASSWORD and OPENAI_API_KEY only from its environment
        # (open_webui.env and open_webui.config, 0.11.0 and 0.12.4; no *_FILE variant), so a
        # file would only be read into the environment by a wrapper.
        plain = {**plain, "HOME": TMP_DIR}
        env: list[dict] = [{"name": key, "value": value} for key, value in plain.items()]
        for key in webui_secret_env(args.secret_key, args.openai_api_key, self._admin_password()):
            env.append(
                {
                    "name": key,
                    "valueFrom": {
                        # The name, not the Secret's output: that output is secret as a whole,
                        # and it would turn the pod template into "[secret]" in every preview
                        # (the StatefulSet waits for the Secret through depends_on instead).
                        "secretKeyRef": {"name": self.secret_name, "key": key}
                    },
                }
            )
        return env

    def _seed_static(self) -> dict:
        """Copies the image's static directory into the emptyDir mounted over it (STATIC_DIR)."""
        return {
            "name": "seed-static",
            "image": self._args.webui.image,
            "imagePullPolicy": kube.PULL_POLICY,
            "command": ["cp", "-R", f"{STATIC_DIR}/.", STATIC_SEED_DIR],
            "resources": SEED_RESOURCES,
            "volumeMounts": [{"name": "static", "mountPath": STATIC_SEED_DIR}],
            "securityContext": kube.container_security(),
        }

    def _pod_spec(self, container: dict) -> dict:
        """The pod: with backups, the snapshot before every start (the last init container, so
        Open WebUI starts only after it) and the schedule beside Open WebUI."""
        webui = self._args.webui
        spec: dict = {
            "enableServiceLinks": False,
            "serviceAccountName": self._args.name,
            "automountServiceAccountToken": False,
            "securityContext": kube.pod_security(RUN_AS_USER, RUN_AS_GROUP, FS_GROUP),
            "initContainers": [
                self._seed_static(),
                kube.adopt_legacy_data(webui.image, "data", DATA_DIR, FS_GROUP),
            ],
            "containers": [container],
            "volumes": [
                {"name": "static", "emptyDir": {"sizeLimit": "256Mi"}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}},
            ],
        }
        if webui.backup.enabled:
            spec["initContainers"].append(backup.init_container(webui))
            spec["containers"].append(backup.sidecar(webui))
            spec["volumes"].append(backup.volume(self.scripts_name))
        return spec

    def _statefulset(self, name: str) -> k8s.apps.v1.StatefulSet:
        webui = self._args.webui
        container = {
            "name": "open-webui",
            "image": webui.image,
            "imagePullPolicy": kube.PULL_POLICY,
            "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
            "env": self._env(),
            "resources": webui.resources.requirements(),
            "volumeMounts": [
                {"name": "data", "mountPath": DATA_DIR},
                {"name": "static", "mountPath": STATIC_DIR},
                {"name": "tmp", "mountPath": TMP_DIR},
            ],
            "securityContext": kube.container_security(),
            # The first start migrates the database and may download embedding models.
            "startupProbe": kube.http_probe("/health", PORT, period=10, failures=60),
            # /ready answers 200 only once start-up finished and the database answers (and
            # Redis, where configured); /health whenever the server answers. Both unchanged from
            # 0.11.0 to 0.12.4; uvicorn listens only after the start-up (migrations, the RAG
            # embedding model), so on the real 0.12.4 both first answer at the same moment.
            "readinessProbe": kube.http_probe("/ready", PORT, period=10, failures=3),
            "livenessProbe": kube.http_probe("/health", PORT, period=20, failures=6),
        }
        command = start_command(webui)
        if command:
            container["command"] = command
        claims = [kube.claim_template("data", webui.storage, "frontend", self._args.name)]
        template_meta: dict = {"labels": kube.with_managed_by(self.selector)}
        if webui.backup.enabled:
            # A second claim template changes an immutable field: an existing StatefulSet is
            # replaced once (its claims are kept and re-attached, see the README).
            claims.append(backup.claim_template(webui, self._args.name))
            template_meta["annotations"] = {"icc-ollama/webui-backup-sha256": backup.script_hash()}
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
                "template": {"metadata": template_meta, "spec": self._pod_spec(container)},
                "volumeClaimTemplates": claims,
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                # Its pods need these; they are named here, so the order must be said.
                depends_on=[
                    self.secret,
                    self.service_account,
                    *([self.scripts] if self.scripts else []),
                ],
                custom_timeouts=kube.rollout_timeouts(15),
            ),
        )
