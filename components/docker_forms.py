"""How the Docker target writes container values: the provider's canonical forms and helpers.

The provider reads each container back from the engine and diffs that against these inputs, so
every value must be written exactly as it is read back, or each `up` shows a change (a replacement
for `cpus` and `healthcheck`, which force a new container). The read-back code is
terraform-provider-docker v4.5.0 (pulumi-docker 5.x's upstream),
internal/provider/resource_docker_container_funcs.go:932-968 and helpers.go:133-149.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

import pulumi
import pulumi_docker as docker

from components import kube, next_steps
from components.webui_env import login_hint
from settings.base import Resources
from settings.ollama import Gpu

if TYPE_CHECKING:
    from components.docker_stack import LocalDockerStackArgs
from settings.quantity import parse_quantity

# The same names as the Kubernetes workloads, so logs, docs and commands read the same everywhere.
OLLAMA = "ollama"
WEBUI = "open-webui"
LOADER = f"{OLLAMA}-model-loader"
OLLAMA_VOLUME = f"{OLLAMA}-models"
WEBUI_VOLUME = f"{WEBUI}-data"
BACKUP = f"{WEBUI}-backup"
BACKUP_VOLUME = f"{WEBUI}-backups"
# The stock Ollama image runs as root and keeps models under $HOME/.ollama.
OLLAMA_DATA_DIR = "/root/.ollama"
# Open WebUI's first start migrates its database and downloads embedding models: minutes.
WEBUI_WAIT_SECONDS = 600
OLLAMA_WAIT_SECONDS = 300
# The loader is healthy once it runs and reaches the server (which is healthy before it starts).
LOADER_WAIT_SECONDS = 120
# The backup container is healthy once its schedule runs and can write the backup volume.
BACKUP_WAIT_SECONDS = 120
EXAMPLE_MODEL = "llama3.2:1b"

_NANO = Decimal(10) ** 9


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
        raise ValueError(
            f"the Docker provider reads it back as {text}, so every `up` would "
            f"replace the container"
        )
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
            f"decimal, such as 0.5 or 2, with `pulumi config set --path {key}.cpu 2`"
        ) from None
    mib = memory_mib(memory)
    return {"cpus": docker_cpus, "memory": mib, "memory_swap": mib}


def limits(resources: Resources, key: str) -> dict:
    return container_limits(resources.limits.cpu, resources.limits.memory, key)


def gpu_requests(gpu: Gpu) -> list[docker.ContainerDeviceRequestArgs] | None:
    # `device_requests` rather than `gpus`: it honours ollama.gpu.count like `docker run --gpus N`.
    if not gpu.enabled:
        return None
    return [
        docker.ContainerDeviceRequestArgs(driver="nvidia", count=gpu.count, capabilities=["gpu"])
    ]


def env_list(env: dict[str, str]) -> list[str]:
    return [f"{key}={value}" for key, value in env.items()]


def secret_env_list(
    plain: dict[str, str], secret: dict[str, pulumi.Output[str]]
) -> pulumi.Output[list[str]]:
    """`envs` as one secret list: state stays encrypted and no preview prints the key."""
    entries = [pulumi.Output.concat(key, "=", value) for key, value in secret.items()]
    return pulumi.Output.secret(pulumi.Output.all(*env_list(plain), *entries))


def container_labels(app: str, component: str) -> list[docker.ContainerLabelArgs]:
    return [
        docker.ContainerLabelArgs(label=key, value=value)
        for key, value in kube.with_managed_by(kube.labels(app, component)).items()
    ]


def healthcheck(test: list[str], start_period_seconds: int) -> docker.ContainerHealthcheckArgs:
    # No start_interval: it needs Engine API 1.44 (Docker 25), and the provider's client then
    # refuses every container on Docker 20.10-24 ("specify health-check start interval requires
    # API version 1.44"). The 10s interval costs at most 10s more per `up`.
    return docker.ContainerHealthcheckArgs(
        tests=["CMD", *test],
        interval=go_duration(10),
        timeout=go_duration(5),
        retries=6,
        start_period=go_duration(start_period_seconds),
    )


def next_steps_commands(
    args: LocalDockerStackArgs, webui_url: str, ollama_url: str
) -> dict[str, str]:
    """What to open and run next on the docker target (exported as `nextSteps`)."""
    settings, ollama = args.docker, args.ollama
    model = ollama.models[0] if ollama.models else EXAMPLE_MODEL
    steps = {
        "openWebUI": webui_url,
        "login": login_hint(args.webui, webui_url, args.admin_password_command),
    }
    if settings.run_ollama:
        steps["pullModel"] = f"docker exec {OLLAMA} ollama pull {model}"
        if ollama.models:
            steps["modelLoaderLogs"] = f"docker logs -f {LOADER}"
        if settings.ollama_port:
            host = next_steps.url_host(settings.bind_address)
            steps["ollamaApi"] = f"http://{host}:{settings.ollama_port}"
    else:
        api = next_steps.host_side_url(ollama_url)
        steps["pullModel"] = f'curl {api}/api/pull -d \'{{"model": "{model}"}}\''
    return steps
