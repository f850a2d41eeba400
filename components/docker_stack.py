"""LocalDockerStack: Open WebUI, and optionally Ollama, as containers on one Docker host.

It replaces the seed's Terraform path (one Open WebUI container, no Ollama URL, no volume) and
shares everything that is not Docker-specific with the Kubernetes stacks: the settings model, the
environment (`webui_env`, `webui_secret_env`, `ollama_env`), the model-loader script, the workload
names (`ollama`, `open-webui`) and the labels. Two modes, chosen by `docker.runOllama`:

(a) Ollama runs here too, with a GPU when `ollama.gpu.enabled`; Open WebUI reaches it through the
    stack's network by its container name, and a loader container keeps `ollama.models` pulled.
(b) Open WebUI only, pointed at `docker.ollamaUrl` (a local Ollama via host.docker.internal, or
    the ICC Ollama through `kubectl port-forward`).

Container, volume and network names are global on a Docker host, so they are fixed and short.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import docker_backup, kube, next_steps
from components import docker_forms as forms
from components.docker_names import (
    BACKUP_VOLUME,
    LOADER,
    OLLAMA,
    OLLAMA_VOLUME,
    WEBUI,
    WEBUI_VOLUME,
)
from components.ollama_env import LOADER_ENV, SCRIPT, SCRIPT_DIR, ollama_env
from components.ollama_env import PORT as OLLAMA_PORT
from components.webui_env import PORT as WEBUI_PORT
from components.webui_env import (
    browser_origins,
    webui_env,
    webui_secret_env,
)
from settings.docker import Docker
from settings.ollama import Ollama
from settings.sidecars import LOADER_RESOURCES
from settings.webui import WebUi

HOST_GATEWAY = docker.ContainerHostArgs(host="host.docker.internal", ip="host-gateway")
# Docker Engine 20.10 (API 1.41, Debian 12's docker.io) is the oldest this stack supports: it is
# the first with `host-gateway`. scripts/docker_preflight.py checks it before `pulumi up`.
MIN_DOCKER_VERSION = "20.10"
MIN_DOCKER_API = "1.41"
# The stock Ollama image runs as root and keeps models under $HOME/.ollama.
OLLAMA_DATA_DIR = "/root/.ollama"
# Open WebUI's first start migrates its database and downloads embedding models: minutes.
WEBUI_WAIT_SECONDS = 600
OLLAMA_WAIT_SECONDS = 300
# The loader is healthy once it runs and reaches the server (which is healthy before it starts).
LOADER_WAIT_SECONDS = 120


@dataclass(frozen=True)
class LocalDockerStackArgs:
    docker: Docker
    ollama: Ollama
    webui: WebUi
    secret_key: pulumi.Input[str]
    admin_password: pulumi.Input[str] | None = None
    openai_api_key: pulumi.Input[str] | None = None
    keep_data: bool = True


def volume_options(keep_data: bool, parent: pulumi.Resource | None) -> pulumi.ResourceOptions:
    """Volumes outlive `pulumi destroy` unless the user opts out; the next `up` reuses them."""
    return pulumi.ResourceOptions(parent=parent, retain_on_delete=keep_data)


class LocalDockerStack(pulumi.ComponentResource):
    """A network, retained volumes, pinned images and health-checked containers on one host."""

    ollama_url: str
    webui_url: str

    def __init__(
        self, name: str, args: LocalDockerStackArgs, opts: pulumi.ResourceOptions | None = None
    ):
        settings = args.docker
        # Before anything is registered: a limit Docker would misread stops the program at once.
        self._limits = {WEBUI: forms.limits(args.webui.resources, "webui.resources.limits")}
        if settings.run_ollama:
            self._limits[OLLAMA] = forms.limits(args.ollama.resources, "ollama.resources.limits")
        super().__init__("icc:docker:LocalDockerStack", name, None, opts)
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        self.network = docker.Network(
            f"{name}-network",
            name=settings.network_name,
            driver="bridge",
            labels=[
                docker.NetworkLabelArgs(label=key, value=value)
                for key, value in kube.with_managed_by(
                    {"app.kubernetes.io/part-of": kube.PART_OF}
                ).items()
            ],
            opts=child,
        )
        self.ollama_container: docker.Container | None = None
        self.loader: docker.Container | None = None
        if settings.run_ollama:
            self.ollama_url = f"http://{OLLAMA}:{OLLAMA_PORT}"
            self.ollama_container = self._ollama(name)
            if args.ollama.models:
                self.loader = self._loader(name, self.ollama_container)
        else:
            # The settings require docker.ollamaUrl whenever docker.runOllama is false.
            assert settings.ollama_url is not None
            self.ollama_url = settings.ollama_url
        self.webui_url = (
            f"http://{next_steps.url_host(settings.bind_address)}:{settings.webui_port}"
        )
        # Backups (components/docker_backup.py): a volume of their own and the schedule.
        self.backups = self.backup_container = None
        if args.webui.backup.enabled:
            volume = (f"{name}-webui-backups", BACKUP_VOLUME, WEBUI, "backup")
            self.backups = self._volume(*volume)
        self.webui_container = self._webui(name)
        if self.backups is not None:
            scheduler = docker_backup.SchedulerArgs(args.webui, self.webui_image, self.webui_mounts)
            self.backup_container = docker_backup.scheduler(f"{name}-webui-backup", scheduler, self)
        self.register_outputs({"ollamaUrl": self.ollama_url, "webuiUrl": self.webui_url})

    def _volume(self, logical: str, volume_name: str, app: str, component: str) -> docker.Volume:
        return docker.Volume(
            logical,
            name=volume_name,
            labels=[
                docker.VolumeLabelArgs(label=key, value=value)
                for key, value in kube.with_managed_by(kube.labels(app, component)).items()
            ],
            opts=volume_options(self._args.keep_data, self),
        )

    def _image(self, logical: str, image: str) -> docker.RemoteImage:
        # Kept on destroy: removing a multi-GB image only makes the next `up` slow.
        return docker.RemoteImage(
            logical, name=image, keep_locally=True, opts=pulumi.ResourceOptions(parent=self)
        )

    def _published(self, internal: int, external: int) -> list[docker.ContainerPortArgs]:
        return [
            docker.ContainerPortArgs(
                internal=internal,
                external=external,
                ip=self._args.docker.bind_address,
                protocol="tcp",
            )
        ]

    def _network(self) -> list[docker.ContainerNetworksAdvancedArgs]:
        return [docker.ContainerNetworksAdvancedArgs(name=self.network.name)]

    def _ollama(self, name: str) -> docker.Container:
        settings, ollama = self._args.docker, self._args.ollama
        volume = self._volume(f"{name}-ollama-models", OLLAMA_VOLUME, OLLAMA, "inference")
        self.ollama_image = self._image(f"{name}-ollama-image", ollama.image)
        return docker.Container(
            f"{name}-ollama",
            name=OLLAMA,
            # The id, not the name: a name makes every update a replacement (pulumi-docker#325).
            image=self.ollama_image.image_id,
            envs=forms.env_list(ollama_env(ollama)),
            volumes=[
                docker.ContainerVolumeArgs(volume_name=volume.name, container_path=OLLAMA_DATA_DIR)
            ],
            networks_advanced=self._network(),
            ports=(
                self._published(OLLAMA_PORT, settings.ollama_port) if settings.ollama_port else None
            ),
            device_requests=forms.gpu_requests(ollama.gpu),
            labels=forms.container_labels(OLLAMA, "inference"),
            restart="unless-stopped",
            # The image has no curl; `ollama list` succeeds once the server answers.
            healthcheck=forms.healthcheck(["ollama", "list"], start_period_seconds=60),
            wait=True,
            wait_timeout=OLLAMA_WAIT_SECONDS,
            destroy_grace_seconds=60,  # let a running pull or generation stop cleanly
            **self._limits[OLLAMA],
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _loader(self, name: str, server: docker.Container) -> docker.Container:
        """The Kubernetes sidecar's script as a second container: visible, retrying model pulls.

        `up` fails if the loader cannot start. The provider (terraform-provider-docker v4.5.0,
        under pulumi-docker 5.x) returns from a create once the engine has started the container;
        only `wait` makes it poll the health check, for up to wait_timeout, and then fail. A
        crash-looping container is never healthy: between restarts it is not running, so no
        check can pass. must_run would not help: its read only reacts to State.Running false,
        and the engine reports a restarting container as running.
        """
        script = f"{SCRIPT_DIR}/{SCRIPT.name}"
        env = {
            "OLLAMA_HOST": f"{OLLAMA}:{OLLAMA_PORT}",
            "OLLAMA_MODELS_WANTED": ollama_env(self._args.ollama)["OLLAMA_MODELS_WANTED"],
            **LOADER_ENV,
        }
        loader_limits = LOADER_RESOURCES["limits"]
        return docker.Container(
            f"{name}-model-loader",
            name=LOADER,
            image=self.ollama_image.image_id,
            # The image's ENTRYPOINT is /bin/ollama: without this the command would become its
            # arguments (`ollama /bin/sh …`, "unknown command") and the loader would never run.
            entrypoints=["/bin/sh"],
            command=[script],
            uploads=[
                docker.ContainerUploadArgs(file=script, content=SCRIPT.read_text(), executable=True)
            ],
            envs=forms.env_list(env),
            networks_advanced=self._network(),
            labels=forms.container_labels(OLLAMA, "model-loader"),
            restart="unless-stopped",
            init=True,  # the shell loop stops on `docker stop`; the container ends with the script
            # Healthy = the script is running (with init, the container lives exactly as long as
            # it) and reaches the server through OLLAMA_HOST. Not `model-loader.sh check`: that
            # would hold `up` until every model is downloaded, gigabytes later.
            healthcheck=forms.healthcheck(["ollama", "list"], start_period_seconds=60),
            wait=True,
            wait_timeout=LOADER_WAIT_SECONDS,
            **forms.container_limits(loader_limits["cpu"], loader_limits["memory"], "loader"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[server]),
        )

    def _webui(self, name: str) -> docker.Container:
        args, settings = self._args, self._args.docker
        volume = self._volume(f"{name}-webui-data", WEBUI_VOLUME, WEBUI, "frontend")
        self.webui_mounts = docker_backup.Mounts(volume, self.backups)
        self.webui_image = self._image(f"{name}-webui-image", args.webui.image)
        origins = browser_origins(settings.webui_port, self.webui_url)
        plain = webui_env(args.webui, (self.ollama_url,), None, origins)
        admin_password = args.admin_password if args.webui.auth else None
        return docker.Container(
            f"{name}-open-webui",
            name=WEBUI,
            image=self.webui_image.image_id,
            command=docker_backup.start_command(args.webui),
            envs=forms.secret_env_list(
                plain, webui_secret_env(args.secret_key, args.openai_api_key, admin_password)
            ),
            volumes=self.webui_mounts.volumes(),
            uploads=docker_backup.script_uploads() if self.backups is not None else None,
            networks_advanced=self._network(),
            # An Ollama outside this stack is reached through the host (Linux needs this entry).
            hosts=None if settings.run_ollama else [HOST_GATEWAY],
            ports=self._published(WEBUI_PORT, settings.webui_port),
            labels=forms.container_labels(WEBUI, "frontend"),
            restart="unless-stopped",
            # /ready, as the Kubernetes readiness probe: start-up done and the database answers.
            healthcheck=forms.healthcheck(
                ["curl", "--silent", "--fail", f"http://localhost:{WEBUI_PORT}/ready"],
                start_period_seconds=300,
            ),
            wait=True,
            wait_timeout=WEBUI_WAIT_SECONDS,
            destroy_grace_seconds=30,  # SQLite finishes its writes before the container goes
            **self._limits[WEBUI],
            # The env holds the secret key and the admin password: what the provider reports back
            # stays secret too, and the policy pack can see that it does.
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["envs"]),
        )
