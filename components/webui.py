"""OpenWebUI: the chat front end on port 8080, its data claim, its secrets and its Service.

One replica on SQLite, as the Open WebUI docs require without Postgres and Redis. It runs as a
one-replica StatefulSet so its data claim is made by the controller: it survives `pulumi destroy`
and replacements exactly like the Ollama model claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.network import AllowRule
from settings.webui import WebUi

PORT = 8080
DATA_DIR = "/app/backend/data"
# Open WebUI 0.11.0 runs as any uid with group 0. At every start it deletes and re-copies the
# files of its static directory (open_webui/config.py:95-140), which also holds the fonts and
# swagger files only the image has (env.py:248): that directory is an emptyDir seeded from the
# image by an init container. Its other writes go to DATA_DIR (the database, uploads, the vector
# store and, by the image's HF_HOME / SENTENCE_TRANSFORMERS_HOME / WHISPER_MODEL_DIR, the model
# caches) and to temporary files (/tmp). So the root filesystem can be read-only.
RUN_AS_USER = 1000
RUN_AS_GROUP = 0
STATIC_DIR = "/app/backend/open_webui/static"
STATIC_SEED_DIR = "/seed"
TMP_DIR = "/tmp"
SEED_RESOURCES = {"requests": {"cpu": "10m", "memory": "32Mi"},
                  "limits": {"cpu": "200m", "memory": "64Mi"}}

# Creates the admin account before the server starts, then starts the image's own command
# (`bash start.sh` in /app/backend) without the password in its environment. Not left to the
# server's own headless-admin path on purpose: after creating the admin that path also sets
# `ui.enable_signup = False` (open_webui/main.py:349-352), and with ENABLE_PERSISTENT_CONFIG=false
# that lives in memory only (models/config.py:196-206): sign-up would be closed until the first
# restart and open after it. create_admin_user does nothing once a user exists
# (utils/auth.py:525-538), so this runs at every start and changes nothing after the first.
ADMIN_SCRIPT = Path(__file__).resolve().parents[1] / "payloads" / "webui-admin.py"
START_SHELL = 'python3 -c "$1" && unset WEBUI_ADMIN_PASSWORD && exec bash start.sh'

# What each `webui.signup` means: Open WebUI's ENABLE_SIGNUP and DEFAULT_USER_ROLE
# (config.py:1623, 1699; a new account gets ui.default_user_role, routers/auths.py:849-855).
SIGNUP_ENV = {
    "approval": {"ENABLE_SIGNUP": "true", "DEFAULT_USER_ROLE": "pending"},
    "open": {"ENABLE_SIGNUP": "true", "DEFAULT_USER_ROLE": "user"},
    "closed": {"ENABLE_SIGNUP": "false", "DEFAULT_USER_ROLE": "pending"},
}


@dataclass(frozen=True)
class OpenWebUIArgs:
    namespace: str
    webui: WebUi
    ollama_urls: tuple[str, ...]
    secret_key: pulumi.Input[str]
    admin_password: Optional[pulumi.Input[str]] = None
    openai_api_key: Optional[pulumi.Input[str]] = None
    keep_data: bool = True
    public_url: Optional[str] = None
    # The Ollama Service for embeddings (RAG); None: the first of ollama_urls.
    rag_ollama_url: Optional[str] = None
    name: str = "open-webui"


def browser_origins(local_port: int, public_url: Optional[str] = None) -> tuple[str, ...]:
    """Where browsers open Open WebUI: the local port-forward (or published port) and the
    public URL. Its socket.io refuses other origins once CORS_ALLOW_ORIGIN is a list
    (socket/main.py:59-90), so every address the README names is here."""
    origins = [f"http://localhost:{local_port}", f"http://127.0.0.1:{local_port}"]
    if public_url and public_url not in origins:
        origins.append(public_url)
    return tuple(origins)


def webui_env(webui: WebUi, ollama_urls: tuple[str, ...], public_url: Optional[str],
              origins: tuple[str, ...], rag_ollama_url: Optional[str] = None) -> dict[str, str]:
    """Plain (non-secret) environment, shared by the Kubernetes and Docker targets."""
    env = {
        # Each replica is listed so Open WebUI sees which models each one holds.
        "OLLAMA_BASE_URLS": ";".join(ollama_urls),
        "ENABLE_OLLAMA_API": "true" if ollama_urls else "false",
        "WEBUI_AUTH": str(webui.auth).lower(),
        **SIGNUP_ENV[webui.signup],
        # Without it a model is shown to admins only until the admin sets its access
        # (utils/models.py:475-527); `granted` keeps that per-model step.
        "BYPASS_MODEL_ACCESS_CONTROL": str(webui.model_access == "all").lower(),
        "ENABLE_PERSISTENT_CONFIG": str(webui.persistent_config).lower(),
        "ENABLE_OPENAI_API": str(webui.openai.enabled).lower(),
        # The default "*" lets any site use a signed-in browser's session (config.py:2111-2119).
        "CORS_ALLOW_ORIGIN": ";".join(origins),
        "UVICORN_WORKERS": "1",
    }
    if ollama_urls or rag_ollama_url:
        # The image's default is host.docker.internal:11434 (config.py:243-250, 1087), which is
        # wrong everywhere here once an admin switches embeddings to Ollama.
        env["RAG_OLLAMA_BASE_URL"] = rag_ollama_url or ollama_urls[0]
    if webui.auth:
        env["WEBUI_ADMIN_EMAIL"] = webui.admin_email
    if webui.openai.enabled:
        env["OPENAI_API_BASE_URL"] = webui.openai.base_url
    if public_url:
        env["WEBUI_URL"] = public_url
    return env


def webui_secret_env(secret_key: pulumi.Input[str],
                     openai_api_key: Optional[pulumi.Input[str]],
                     admin_password: Optional[pulumi.Input[str]] = None,
                     ) -> dict[str, pulumi.Output[str]]:
    """Secret environment, shared by the Kubernetes and Docker targets; every value stays secret."""
    # The key comes from stack config, so it is the same on every update: users stay logged in.
    env = {"WEBUI_SECRET_KEY": pulumi.Output.secret(secret_key)}
    if admin_password is not None:
        env["WEBUI_ADMIN_PASSWORD"] = pulumi.Output.secret(admin_password)
    if openai_api_key is not None:
        env["OPENAI_API_KEY"] = pulumi.Output.secret(openai_api_key)
    return env


def start_command(webui: WebUi) -> Optional[list[str]]:
    """The container command: the admin bootstrap first when there are logins, else the image's."""
    if not webui.auth:
        return None
    return ["bash", "-c", START_SHELL, "create-admin", ADMIN_SCRIPT.read_text()]


def login_hint(webui: WebUi, url: str, password_command: str) -> str:
    """How to sign in, for the `login` export: the admin's e-mail, where the password is, and
    what a student gets."""
    if not webui.auth:
        return f"open {url}; no login (webui.auth is false): everyone who reaches it is the admin"
    admin = (f"open {url}; admin: sign in as {webui.admin_email} with the initial password from "
             f"`{password_command}`")
    students = {
        "approval": ("students: 'Sign up', then wait as pending until the admin approves them in "
                     "Admin Panel > Users (role user)"),
        "open": "students: 'Sign up' and chat at once (role user)",
        "closed": ("students: no sign-up; the admin adds each account in Admin Panel > Users > "
                   "'+'"),
    }[webui.signup]
    models = ("every user sees every model" if webui.model_access == "all" else
              "a model is visible to students only after the admin grants it in Workspace > "
              "Models")
    return f"{admin}; {students}; {models}"


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
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=self._meta(args.name),
            spec={"type": "ClusterIP", "selector": self.selector,
                  "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}]},
            opts=child,
        )
        self.statefulset = self._statefulset(name)
        self.register_outputs({"serviceName": self.service_name,
                               "statefulSetName": self.statefulset.metadata.name})

    def allow_rules(self, ingress_namespace: str) -> tuple[AllowRule, ...]:
        """Browsers reach Open WebUI through the ingress controller (port-forward needs no rule:
        the kubelet enters the pod directly)."""
        return (AllowRule("webui-from-ingress", target=self.selector, ports=(PORT,),
                          namespaces=(ingress_namespace,)),)

    def _meta(self, name: str) -> dict:
        return {"name": name, "namespace": self._args.namespace,
                "labels": kube.with_managed_by(self.selector)}

    def _secret(self, name: str, opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
        args = self._args
        data = webui_secret_env(args.secret_key, args.openai_api_key, self._admin_password())
        return k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=self._meta(self.secret_name),
            type="Opaque",
            string_data=data,
            opts=opts,
        )

    def _admin_password(self) -> Optional[pulumi.Input[str]]:
        return self._args.admin_password if self._args.webui.auth else None

    def _env(self) -> list[dict]:
        args = self._args
        plain = webui_env(args.webui, args.ollama_urls, args.public_url,
                          browser_origins(args.webui.local_port, args.public_url),
                          args.rag_ollama_url)
        # The image's HOME (/root) is not the non-root user's; caches written there go to /tmp.
        plain = {**plain, "HOME": TMP_DIR}
        env = [{"name": key, "value": value} for key, value in plain.items()]
        for key in webui_secret_env(args.secret_key, args.openai_api_key, self._admin_password()):
            env.append({"name": key, "valueFrom": {
                # The name, not the Secret's output: that output is secret as a whole, and it
                # would turn the pod template into "[secret]" in every preview (the StatefulSet
                # waits for the Secret through depends_on instead).
                "secretKeyRef": {"name": self.secret_name, "key": key}}})
        return env

    def _seed_static(self) -> dict:
        """Copies the image's static directory into the emptyDir mounted over it (STATIC_DIR)."""
        return {
            "name": "seed-static",
            "image": self._args.webui.image,
            "command": ["cp", "-R", f"{STATIC_DIR}/.", STATIC_SEED_DIR],
            "resources": SEED_RESOURCES,
            "volumeMounts": [{"name": "static", "mountPath": STATIC_SEED_DIR}],
            "securityContext": kube.container_security(),
        }

    def _statefulset(self, name: str) -> k8s.apps.v1.StatefulSet:
        webui = self._args.webui
        container = {
            "name": "open-webui",
            "image": webui.image,
            "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
            "env": self._env(),
            "resources": webui.resources.requirements(),
            "volumeMounts": [{"name": "data", "mountPath": DATA_DIR},
                             {"name": "static", "mountPath": STATIC_DIR},
                             {"name": "tmp", "mountPath": TMP_DIR}],
            "securityContext": kube.container_security(),
            # The first start migrates the database and may download embedding models.
            "startupProbe": kube.http_probe("/health", PORT, period=10, failures=60),
            # /ready answers 200 only once start-up finished and the database answers
            # (open_webui/main.py:2773-2811); /health (:2768) answers once the process listens.
            "readinessProbe": kube.http_probe("/ready", PORT, period=10, failures=3),
            "livenessProbe": kube.http_probe("/health", PORT, period=20, failures=6),
        }
        command = start_command(webui)
        if command:
            container["command"] = command
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
                             "securityContext": kube.pod_security(RUN_AS_USER, RUN_AS_GROUP),
                             "initContainers": [self._seed_static()],
                             "containers": [container],
                             "volumes": [{"name": "static", "emptyDir": {"sizeLimit": "256Mi"}},
                                         {"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}}]},
                },
                "volumeClaimTemplates": [
                    kube.claim_template("data", webui.storage, "frontend", self._args.name)],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.secret],
                                        custom_timeouts=kube.rollout_timeouts(15)),
        )
