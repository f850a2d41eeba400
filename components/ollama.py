"""OllamaServer: Ollama on port 11434 as a StatefulSet with one model claim per replica.

Why a StatefulSet: the models must be on every replica that serves. A Deployment sharing one RWO
claim only works on a single node and deadlocks rollouts; RWX is not offered on ICC. With
`volumeClaimTemplates` each replica owns its claim (`models-ollama-<i>`), the claims are made by the
controller (so `pulumi destroy` and replacements leave them alone unless the user opts out), and
each replica has a stable DNS name that Open WebUI lists in `OLLAMA_BASE_URLS`.

Why a sidecar preloads: a `postStart` hook hides its logs and can crash the pod. The
`model-loader` container logs every pull, retries with back-off, and the Ollama container only
turns Ready once every configured model is on its disk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import autoscaling, kube
from components.network import AllowRule
from components.ollama_env import LOADER_ENV, PORT, SCRIPT, SCRIPT_DIR, ollama_env
from settings.ollama import Ollama
from settings.sidecars import LOADER_RESOURCES

# Ollama runs as this non-root user (a high uid, clear of the node's own users) in a group of the
# same number, which also owns the claim (fsGroup). The pinned image sets no HOME and runs as root
# by default; Ollama keeps its models and its key (id_ed25519) under $HOME/.ollama (Ollama
# v0.32.15: envconfig.Models, and initializeKeypair when `ollama serve` starts), so HOME is set
# here and the claim mounted there.
RUN_AS_USER = 10001
HOME = "/home/ollama"
MODELS_DIR = f"{HOME}/.ollama"


@dataclass(frozen=True)
class OllamaServerArgs:
    namespace: str
    ollama: Ollama
    keep_data: bool = True
    name: str = "ollama"


class OllamaServer(pulumi.ComponentResource):
    """Ollama replicas, their model claims, a ClusterIP Service and per-replica DNS names."""

    service_name: str
    url: str
    replica_urls: list[str]
    webui_urls: list[str]
    cluster_ip: pulumi.Output[str]  # assigned by the cluster to the ClusterIP Service

    def __init__(
        self, name: str, args: OllamaServerArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("icc:ollama:OllamaServer", name, None, opts)
        self._args = args
        self.selector = kube.labels(args.name, "inference")
        self.headless_name = f"{args.name}-headless"
        self.scripts_name = f"{args.name}-scripts"
        self.service_name = args.name
        self.url = f"http://{kube.service_dns(args.name, args.namespace)}:{PORT}"
        self.replica_urls = [
            f"http://{args.name}-{i}.{kube.service_dns(self.headless_name, args.namespace)}:{PORT}"
            for i in range(autoscaling.initial_replicas(args.ollama))
        ]
        # With the HPA on, replicas come and go: the Service reaches only the Ready ones, i.e.
        # those whose models are present (see components/autoscaling.py).
        self.webui_urls = [self.url] if args.ollama.autoscaling.enabled else self.replica_urls
        child = pulumi.ResourceOptions(parent=self)
        # No API token: nothing in these pods talks to the API server.
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=self._meta(args.name),
            automount_service_account_token=False,
            opts=child,
        )
        self.scripts = k8s.core.v1.ConfigMap(
            f"{name}-scripts",
            metadata=self._meta(self.scripts_name),
            data={SCRIPT.name: SCRIPT.read_text()},
            opts=child,
        )
        self.headless = self._service(f"{name}-headless", self.headless_name, child, headless=True)
        self.service = self._service(f"{name}-service", args.name, child, headless=False)
        self.cluster_ip = self.service.spec.apply(kube.assigned_cluster_ip)
        self.statefulset = self._statefulset(name)
        self.autoscaler = None
        if args.ollama.autoscaling.enabled:
            self.autoscaler = autoscaling.ollama_autoscaler(
                f"{name}-autoscaler",
                self._meta(args.name),
                args.name,
                args.ollama.autoscaling,
                # After the StatefulSet: until its target exists an HPA only reports FailedGetScale.
                pulumi.ResourceOptions(parent=self, depends_on=[self.statefulset]),
            )
        self.register_outputs(
            {
                "serviceName": self.service_name,
                "url": self.url,
                "replicaUrls": self.replica_urls,
                "webuiUrls": self.webui_urls,
                "statefulSetName": args.name,
                "clusterIP": self.cluster_ip,
            }
        )

    def allow_rules(
        self, clients: Mapping[str, dict[str, str]], ingress_namespace: str | None = None
    ) -> tuple[AllowRule, ...]:
        """Ollama's API has no authentication: only the named client pods may open it, and the
        ingress controller's namespace only when the API is exposed (ingress.exposeOllama)."""
        rules = tuple(
            AllowRule(
                f"ollama-from-{client}", target=self.selector, ports=(PORT,), sources=(selector,)
            )
            for client, selector in clients.items()
        )
        if ingress_namespace is not None:
            rules += (
                AllowRule(
                    "ollama-from-ingress",
                    target=self.selector,
                    ports=(PORT,),
                    namespaces=(ingress_namespace,),
                ),
            )
        return rules

    def _meta(self, name: str, component: str = "inference") -> dict:
        return {
            "name": name,
            "namespace": self._args.namespace,
            "labels": kube.with_managed_by(kube.labels(self._args.name, component)),
        }

    def _service(
        self, logical: str, name: str, opts: pulumi.ResourceOptions, headless: bool
    ) -> k8s.core.v1.Service:
        spec = {
            "selector": self.selector,
            "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}],
        }
        if headless:
            spec["clusterIP"] = "None"
        else:
            spec["type"] = "ClusterIP"
        return k8s.core.v1.Service(
            logical, metadata=kube.skip_await(self._meta(name)), spec=spec, opts=opts
        )

    def _statefulset(self, name: str) -> k8s.apps.v1.StatefulSet:
        args, settings = self._args, self._args.ollama
        script_hash = hashlib.sha256(SCRIPT.read_bytes()).hexdigest()[:16]
        pod_spec = {
            "enableServiceLinks": False,  # a Service named "ollama" would inject OLLAMA_* variables
            "terminationGracePeriodSeconds": 60,
            "serviceAccountName": args.name,
            "automountServiceAccountToken": False,
            "securityContext": kube.pod_security(RUN_AS_USER),
            "initContainers": [
                kube.adopt_legacy_data(settings.image, "models", MODELS_DIR, RUN_AS_USER)
            ],
            "containers": self._containers(),
            "volumes": [
                {
                    "name": "scripts",
                    "configMap": {"name": self.scripts_name, "defaultMode": 0o555},
                },
                {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
            ],
        }
        if settings.tolerations:
            pod_spec["tolerations"] = [
                t.model_dump(exclude_none=True) for t in settings.tolerations
            ]
        if settings.node_selector:
            pod_spec["nodeSelector"] = dict(settings.node_selector)
        if settings.gpu.enabled and settings.gpu.runtime_class_name:
            pod_spec["runtimeClassName"] = settings.gpu.runtime_class_name
        return k8s.apps.v1.StatefulSet(
            name,
            metadata=self._meta(args.name),
            spec={
                # By name, not as an output: the StatefulSet must not wait for a Service's await
                # (see OpenWebUI; providers before v3.20 also await headless Services' pods).
                "serviceName": self.headless_name,
                "replicas": autoscaling.initial_replicas(settings),
                "podManagementPolicy": "Parallel",
                "selector": {"matchLabels": self.selector},
                "persistentVolumeClaimRetentionPolicy": kube.claim_retention(args.keep_data),
                "template": {
                    "metadata": {
                        "labels": kube.with_managed_by(self.selector),
                        "annotations": {"icc-ollama/model-loader-sha256": script_hash},
                    },
                    "spec": pod_spec,
                },
                "volumeClaimTemplates": [
                    kube.claim_template("models", settings.storage, "inference", args.name)
                ],
            },
            opts=pulumi.ResourceOptions.merge(
                autoscaling.statefulset_options(
                    settings, self, kube.rollout_timeouts(settings.rollout_timeout_minutes)
                ),
                # Its pods need both; they are named above, so the order must be said here.
                pulumi.ResourceOptions(depends_on=[self.service_account, self.scripts]),
            ),
        )

    def _env(self) -> list[dict]:
        env = {"HOME": HOME, **ollama_env(self._args.ollama)}
        return [{"name": key, "value": value} for key, value in env.items()]

    def _containers(self) -> list[dict]:
        settings = self._args.ollama
        gpu = (
            {settings.gpu.resource_name: str(settings.gpu.count)} if settings.gpu.enabled else None
        )
        script = f"{SCRIPT_DIR}/{SCRIPT.name}"
        scripts_mount = {"name": "scripts", "mountPath": SCRIPT_DIR, "readOnly": True}
        tmp_mount = {"name": "tmp", "mountPath": "/tmp"}
        # Ready: the API answers. With models, the loader's own readiness adds "and every model
        # is on disk", so the pod turns Ready (and `pulumi up` returns) only with its models.
        server = {
            "name": "ollama",
            "image": settings.image,
            "imagePullPolicy": kube.PULL_POLICY,
            "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
            "env": self._env(),
            "resources": settings.resources.requirements(gpu),
            "volumeMounts": [{"name": "models", "mountPath": MODELS_DIR}, scripts_mount, tmp_mount],
            "securityContext": kube.container_security(read_only_root=True),
            # A GPU node may need minutes to bring up the driver and the server: 10 min grace.
            "startupProbe": kube.http_probe("/", PORT, period=10, failures=60),
            "readinessProbe": kube.http_probe("/api/tags", PORT, period=10, failures=3),
            "livenessProbe": kube.http_probe("/", PORT, period=20, failures=6),
        }
        if not settings.models:
            return [server]
        # The sidecar's probes: readiness is its job done (every model present, `check`); liveness
        # restarts a loop hung on a server that accepts but never answers (`alive`: no heartbeat
        # or pull progress for 15 min, more than its sleeps), and holds from its first second.
        loader = {
            "name": "model-loader",
            "image": settings.image,
            "imagePullPolicy": kube.PULL_POLICY,
            "command": ["/bin/sh", script],
            "env": [
                {"name": "HOME", "value": "/tmp"},
                {"name": "OLLAMA_HOST", "value": f"127.0.0.1:{PORT}"},
                {"name": "OLLAMA_MODELS_WANTED", "value": " ".join(settings.models)},
                *({"name": key, "value": value} for key, value in LOADER_ENV.items()),
            ],
            "resources": LOADER_RESOURCES,
            "volumeMounts": [scripts_mount, tmp_mount],
            "securityContext": kube.container_security(read_only_root=True),
            "readinessProbe": kube.exec_probe(["/bin/sh", script, "check"], period=15, failures=3),
            "livenessProbe": kube.exec_probe(["/bin/sh", script, "alive"], period=60, failures=3),
        }
        return [server, loader]
