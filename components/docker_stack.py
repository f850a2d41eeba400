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

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Optional
from urllib.parse import urlsplit

import pulumi
import pulumi_docker as docker

from components import kube
from components.ollama import LOADER_ENV, PORT as OLLAMA_PORT, SCRIPT, SCRIPT_DIR, ollama_env
from settings.base import Resources
from settings.docker import Docker
from settings.ollama import Gpu, Ollama
from settings.quantity import parse_quantity
from settings.sidecars import LOADER_RESOURCES
from settings.webui import WebUi
from components.webui import DATA_DIR as WEBUI_DATA_DIR, PORT as WEBUI_PORT
from components.webui import browser_origins, login_hint, start_command, webui_env
from components.webui import webui_secret_env

# The same names as the Kubernetes workloads, so logs, docs and commands read the same everywhere.
OLLAMA = "ollama"
WEBUI = "open-webui"
LOADER = f"{OLLAMA}-model-loader"
OLLAMA_VOLUME = f"{OLLAMA}-models"
WEBUI_VOLUME = f"{WEBUI}-data"
# The stock Ollama image runs as root and keeps models under $HOME/.ollama.
OLLAMA_DATA_DIR = "/root/.ollama"
# Open WebUI's first start migrates its database and downloads embedding models: minutes.
WEBUI_WAIT_SECONDS = 600
OLLAMA_WAIT_SECONDS = 300
# The loader is healthy once it runs and reaches the server (which is healthy before it starts).
LOADER_WAIT_SECONDS = 120
HOST_GATEWAY = docker.ContainerHostArgs(host="host.docker.internal", ip="host-gateway")
EXAMPLE_MODEL = "llama3.2:1b"
# Docker Engine 20.10 (API 1.41, Debian 12's docker.io) is the oldest this stack supports: it is
# the first with `host-gateway`. scripts/docker_preflight.py checks it before `pulumi up`.
MIN_DOCKER_VERSION = "20.10"
MIN_DOCKER_API = "1.41"

# Canonical forms. The provider reads each container back from the engine and diffs that against
# these inputs, so every value must be written exactly as it is read back, or each `up` shows a
# change (a replacement for `cpus` and `healthcheck`, which force a new container). The read-back
# code is terraform-provider-docker v4.5.0 (pulumi-docker 5.x's upstream),
# internal/provider/resource_docker_container_funcs.go:932-968 and helpers.go:133-149.
_NANO = Decimal(10) ** 9

@dataclass(frozen=True)
class LocalDockerStackArgs:
    docker: Docker
    ollama: Ollama
    webui: WebUi
    secret_key: pulumi.Input[str]
    admin_password: Optional[pulumi.Input[str]] = None
    openai_api_key: Optional[pulumi.Input[str]] = None
    admin_password_command: str = "pulumi config get webuiAdminPassword"
    keep_data: bool = True


def volume_options(keep_data: bool, parent: Optional[pulumi.Resource]) -> pulumi.ResourceOptions:
    """Volumes outlive `pulumi destroy` unless the user opts out; the next `up` reuses them."""
    return pulumi.ResourceOptions(parent=parent, retain_on_delete=keep_data)


def memory_mib(quantity: str) -> int:
    """A Kubernetes memory quantity as Docker's `memory` (MiB, rounded up; read back in MiB)."""
    return math.ceil(parse_quantity(quantity) / 2**20)


def cpus(quantity: str) -> str:
    """A Kubernetes CPU quantity as Docker's `cpus`, in the provider's read-back form.

    The provider prints NanoCPUs with nine decimals and then either keeps one decimal, when the
    text holds exactly nine zeros ("2" -> "2.0", "500m" -> "0.5"), or strips trailing zeros
    ("1.25", and "10" -> "10."). A ValueError says when that form is not the value itself
    ("10m" would read back as "0.0").
    """
    value = parse_quantity(quantity)
    if (value * _NANO) % 1:
        raise ValueError("Docker takes at most nine decimals")
    text = f"{value:.9f}"
    if text.count("0") == 9:
        text = f"{value.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):.1f}"
    else:
        text = text.rstrip("0")
    if Decimal(text) != value:
        raise ValueError(f"the Docker provider reads it back as {text}, so every `up` would "
                         f"replace the container")
    return text


def go_duration(seconds: int) -> str:
    """Whole seconds as Go's time.Duration prints them, the read-back form ("60" -> "1m0s")."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def container_limits(cpu: str, memory: str, key: str) -> dict:
    """Docker's limits from Kubernetes quantities; `key` names the setting in a config error.

    memory_swap equals memory: the container gets no swap, so a model that does not fit is
    OOM-killed and restarted instead of paging gigabytes of weights and freezing the host. It is
    also the form read back, where left out Docker defaults it to twice the memory and the
    provider sees a diff. Hosts without swap accounting (cgroup v1 without swapaccount=1) store
    -1 instead; there each `up` shows an in-place update of memorySwap (no restart), which
    docker_preflight.py warns about. ignore_changes is no way out: a later memory increase would
    then be sent with the old, smaller memory_swap, which Docker refuses.
    """
    try:
        docker_cpus = cpus(cpu)
    except ValueError as error:
        raise pulumi.RunError(
            f"icc-ollama:{key}.cpu (given: {cpu}): {error}; use a value with at most one "
            f"decimal, such as 0.5 or 2, with `pulumi config set --path {key}.cpu 2`") from None
    mib = memory_mib(memory)
    return {"cpus": docker_cpus, "memory": mib, "memory_swap": mib}


def limits(resources: Resources, key: str) -> dict:
    return container_limits(resources.limits.cpu, resources.limits.memory, key)


def url_host(bind_address: str) -> str:
    """Where a browser on this machine reaches a port published on `bind_address`."""
    if bind_address in ("0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{bind_address}]" if ":" in bind_address else bind_address


def gpu_requests(gpu: Gpu) -> Optional[list[docker.ContainerDeviceRequestArgs]]:
    # `device_requests` rather than `gpus`: it honours ollama.gpu.count like `docker run --gpus N`.
    if not gpu.enabled:
        return None
    return [docker.ContainerDeviceRequestArgs(driver="nvidia", count=gpu.count,
                                              capabilities=["gpu"])]


def env_list(env: dict[str, str]) -> list[str]:
    return [f"{key}={value}" for key, value in env.items()]


def secret_env_list(plain: dict[str, str],
                    secret: dict[str, pulumi.Output[str]]) -> pulumi.Output[list[str]]:
    """`envs` as one secret list: state stays encrypted and no preview prints the key."""
    entries = [pulumi.Output.concat(key, "=", value) for key, value in secret.items()]
    return pulumi.Output.secret(pulumi.Output.all(*env_list(plain), *entries))


def container_labels(app: str, component: str) -> list[docker.ContainerLabelArgs]:
    return [docker.ContainerLabelArgs(label=key, value=value)
            for key, value in kube.with_managed_by(kube.labels(app, component)).items()]


def healthcheck(test: list[str], start_period_seconds: int) -> docker.ContainerHealthcheckArgs:
    # No start_interval: it needs Engine API 1.44 (Docker 25), and the provider's client then
    # refuses every container on Docker 20.10-24 ("specify health-check start interval requires
    # API version 1.44"). The 10s interval costs at most 10s more per `up`.
    return docker.ContainerHealthcheckArgs(tests=["CMD", *test], interval=go_duration(10),
                                           timeout=go_duration(5), retries=6,
                                           start_period=go_duration(start_period_seconds))


def host_side_url(url: str) -> str:
    """The URL as seen from this machine rather than from inside a container."""
    parts = urlsplit(url)
    if parts.hostname == "host.docker.internal":
        netloc = parts.netloc.replace("host.docker.internal", "localhost")
        return parts._replace(netloc=netloc).geturl()
    return url


class LocalDockerStack(pulumi.ComponentResource):
    """A network, retained volumes, pinned images and health-checked containers on one host."""

    ollama_url: str
    webui_url: str
    next_steps: dict[str, str]

    def __init__(self, name: str, args: LocalDockerStackArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        settings = args.docker
        # Before anything is registered: a limit Docker would misread stops the program at once.
        self._limits = {WEBUI: limits(args.webui.resources, "webui.resources.limits")}
        if settings.run_ollama:
            self._limits[OLLAMA] = limits(args.ollama.resources, "ollama.resources.limits")
        super().__init__("icc:docker:LocalDockerStack", name, None, opts)
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        self.network = docker.Network(
            f"{name}-network", name=settings.network_name, driver="bridge",
            labels=[docker.NetworkLabelArgs(label=key, value=value) for key, value in
                    kube.with_managed_by({"app.kubernetes.io/part-of": kube.PART_OF}).items()],
            opts=child)
        self.ollama_container: Optional[docker.Container] = None
        self.loader: Optional[docker.Container] = None
        if settings.run_ollama:
            self.ollama_url = f"http://{OLLAMA}:{OLLAMA_PORT}"
            self.ollama_container = self._ollama(name)
            self.loader = self._loader(name) if args.ollama.models else None
        else:
            self.ollama_url = settings.ollama_url
        self.webui_url = f"http://{url_host(settings.bind_address)}:{settings.webui_port}"
        self.webui_container = self._webui(name)
        self.next_steps = self._next_steps()
        self.register_outputs({"ollamaUrl": self.ollama_url, "webuiUrl": self.webui_url})

    def _volume(self, logical: str, volume_name: str, app: str, component: str) -> docker.Volume:
        return docker.Volume(
            logical, name=volume_name,
            labels=[docker.VolumeLabelArgs(label=key, value=value)
                    for key, value in kube.with_managed_by(kube.labels(app, component)).items()],
            opts=volume_options(self._args.keep_data, self))

    def _image(self, logical: str, image: str) -> docker.RemoteImage:
        # Kept on destroy: removing a multi-GB image only makes the next `up` slow.
        return docker.RemoteImage(logical, name=image, keep_locally=True,
                                  opts=pulumi.ResourceOptions(parent=self))

    def _published(self, internal: int, external: int) -> list[docker.ContainerPortArgs]:
        return [docker.ContainerPortArgs(internal=internal, external=external,
                                         ip=self._args.docker.bind_address, protocol="tcp")]

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
            envs=env_list(ollama_env(ollama)),
            volumes=[docker.ContainerVolumeArgs(volume_name=volume.name,
                                                container_path=OLLAMA_DATA_DIR)],
            networks_advanced=self._network(),
            ports=(self._published(OLLAMA_PORT, settings.ollama_port)
                   if settings.ollama_port else None),
            device_requests=gpu_requests(ollama.gpu),
            labels=container_labels(OLLAMA, "inference"),
            restart="unless-stopped",
            # The image has no curl; `ollama list` succeeds once the server answers.
            healthcheck=healthcheck(["ollama", "list"], start_period_seconds=60),
            wait=True,
            wait_timeout=OLLAMA_WAIT_SECONDS,
            destroy_grace_seconds=60,  # let a running pull or generation stop cleanly
            **self._limits[OLLAMA],
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _loader(self, name: str) -> docker.Container:
        """The Kubernetes sidecar's script as a second container: visible, retrying model pulls.

        `up` fails if the loader cannot start. The provider returns from a create once the engine
        has started the container; only `wait` makes it poll the health check (upstream
        resource_docker_container_funcs.go:583-627), for up to wait_timeout, and then fail. A
        crash-looping container is never healthy: between restarts it is not running, so no
        check can pass. must_run would not help: it only reacts to State.Running false, and the
        engine reports a restarting container as running (same file, :815-823).
        """
        script = f"{SCRIPT_DIR}/{SCRIPT.name}"
        env = {"OLLAMA_HOST": f"{OLLAMA}:{OLLAMA_PORT}",
               "OLLAMA_MODELS_WANTED": ollama_env(self._args.ollama)["OLLAMA_MODELS_WANTED"],
               **LOADER_ENV}
        loader_limits = LOADER_RESOURCES["limits"]
        return docker.Container(
            f"{name}-model-loader",
            name=LOADER,
            image=self.ollama_image.image_id,
            # The image's ENTRYPOINT is /bin/ollama: without this the command would become its
            # arguments (`ollama /bin/sh …`, "unknown command") and the loader would never run.
            entrypoints=["/bin/sh"],
            command=[script],
            uploads=[docker.ContainerUploadArgs(file=script, content=SCRIPT.read_text(),
                                                executable=True)],
            envs=env_list(env),
            networks_advanced=self._network(),
            labels=container_labels(OLLAMA, "model-loader"),
            restart="unless-stopped",
            init=True,  # the shell loop stops on `docker stop`; the container ends with the script
            # Healthy = the script is running (with init, the container lives exactly as long as
            # it) and reaches the server through OLLAMA_HOST. Not `model-loader.sh check`: that
            # would hold `up` until every model is downloaded, gigabytes later.
            healthcheck=healthcheck(["ollama", "list"], start_period_seconds=60),
            wait=True,
            wait_timeout=LOADER_WAIT_SECONDS,
            **container_limits(loader_limits["cpu"], loader_limits["memory"], "loader"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.ollama_container]),
        )

    def _webui(self, name: str) -> docker.Container:
        args, settings = self._args, self._args.docker
        volume = self._volume(f"{name}-webui-data", WEBUI_VOLUME, WEBUI, "frontend")
        self.webui_image = self._image(f"{name}-webui-image", args.webui.image)
        origins = browser_origins(settings.webui_port, self.webui_url)
        plain = webui_env(args.webui, (self.ollama_url,), None, origins)
        admin_password = args.admin_password if args.webui.auth else None
        return docker.Container(
            f"{name}-open-webui",
            name=WEBUI,
            image=self.webui_image.image_id,
            command=start_command(args.webui),
            envs=secret_env_list(plain, webui_secret_env(args.secret_key, args.openai_api_key,
                                                         admin_password)),
            volumes=[docker.ContainerVolumeArgs(volume_name=volume.name,
                                                container_path=WEBUI_DATA_DIR)],
            networks_advanced=self._network(),
            # An Ollama outside this stack is reached through the host (Linux needs this entry).
            hosts=None if settings.run_ollama else [HOST_GATEWAY],
            ports=self._published(WEBUI_PORT, settings.webui_port),
            labels=container_labels(WEBUI, "frontend"),
            restart="unless-stopped",
            # /ready, as the Kubernetes readiness probe: start-up done and the database answers.
            healthcheck=healthcheck(
                ["curl", "--silent", "--fail", f"http://localhost:{WEBUI_PORT}/ready"],
                start_period_seconds=300),
            wait=True,
            wait_timeout=WEBUI_WAIT_SECONDS,
            destroy_grace_seconds=30,  # SQLite finishes its writes before the container goes
            **self._limits[WEBUI],
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _next_steps(self) -> dict[str, str]:
        settings, ollama = self._args.docker, self._args.ollama
        model = ollama.models[0] if ollama.models else EXAMPLE_MODEL
        steps = {"openWebUI": self.webui_url,
                 "login": login_hint(self._args.webui, self.webui_url,
                                     self._args.admin_password_command)}
        if settings.run_ollama:
            steps["pullModel"] = f"docker exec {OLLAMA} ollama pull {model}"
            if ollama.models:
                steps["modelLoaderLogs"] = f"docker logs -f {LOADER}"
            if settings.ollama_port:
                host = url_host(settings.bind_address)
                steps["ollamaApi"] = f"http://{host}:{settings.ollama_port}"
        else:
            api = host_side_url(self.ollama_url)
            steps["pullModel"] = f"curl {api}/api/pull -d '{{\"model\": \"{model}\"}}'"
        return steps
