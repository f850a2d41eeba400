"""The commands a user runs next (exported as `nextSteps`), in plain `pulumi`, `kubectl` and
`docker` words: on a Kubernetes stack port-forwards, the login hint, logs and where the passwords
are read; on Docker what to open and the commands for the containers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pulumi

from components.docker_names import LOADER, OLLAMA
from components.webui_env import login_hint
from settings import Settings

if TYPE_CHECKING:
    from components.monitoring import Monitoring
    from components.ollama import OllamaServer
    from components.webui import OpenWebUI


def kubectl_prefix(settings: Settings) -> str:
    kubectl = "kubectl" + (f" --context {settings.kube_context}" if settings.kube_context else "")
    return kubectl + f" -n {settings.namespace}"


def monitoring_commands(settings: Settings, monitoring: Monitoring | None) -> dict[str, str]:
    """Grafana and Prometheus are reached by port-forward only (NetworkPolicies keep others out)."""
    if monitoring is None:
        return {}
    kubectl = kubectl_prefix(settings)
    grafana, prometheus = settings.monitoring.grafana, settings.monitoring.prometheus
    return {
        "grafana": (
            f"{kubectl} port-forward svc/{monitoring.grafana_service} {grafana.local_port}:80"
        ),
        "grafanaLogin": (
            f"open http://localhost:{grafana.local_port}; user admin, password from "
            f"`{secret_output_command('grafanaAdminPassword')}`; dashboard "
            f"icc-ollama/icc-ollama: Ollama"
        ),
        "prometheus": (
            f"{kubectl} port-forward svc/{monitoring.prometheus_service} {prometheus.local_port}:80"
        ),
    }


def secret_output_command(name: str) -> str:
    """How a person reads a secret stack output (the passwords the program made or was given)."""
    return f"pulumi stack output --show-secrets {name} -s {pulumi.get_stack()}"


def admin_password_command() -> str:
    return secret_output_command("webuiAdminPassword")


def kubernetes_commands(
    settings: Settings, ollama: OllamaServer, webui: OpenWebUI
) -> dict[str, str]:
    kubectl = kubectl_prefix(settings)
    port = settings.webui.local_port
    return {
        "openWebUI": (
            f"KUBECTL_PORT_FORWARD_WEBSOCKETS=true {kubectl} port-forward "
            f"svc/{webui.service_name} {port}:8080"
        ),
        "login": login_hint(settings.webui, f"http://localhost:{port}", admin_password_command()),
        "ollamaApi": f"{kubectl} port-forward svc/{ollama.service_name} 11434:11434",
        "modelLoaderLogs": f"{kubectl} logs -f {ollama.service_name}-0 -c model-loader",
        "pullModel": (
            f"{kubectl} exec {ollama.service_name}-0 -c ollama -- ollama pull <model>  "
            f"# repeat for each replica, or add it to ollama.models"
        ),
    }


EXAMPLE_MODEL = "llama3.2:1b"


def docker_commands(settings: Settings, webui_url: str, ollama_url: str) -> dict[str, str]:
    """What to open and run next on the docker target (the URLs are LocalDockerStack's)."""
    docker, ollama = settings.docker, settings.ollama
    model = ollama.models[0] if ollama.models else EXAMPLE_MODEL
    steps = {
        "openWebUI": webui_url,
        "login": login_hint(settings.webui, webui_url, admin_password_command()),
    }
    if docker.run_ollama:
        steps["pullModel"] = f"docker exec {OLLAMA} ollama pull {model}"
        if ollama.models:
            steps["modelLoaderLogs"] = f"docker logs -f {LOADER}"
        if docker.ollama_port:
            steps["ollamaApi"] = f"http://{url_host(docker.bind_address)}:{docker.ollama_port}"
    else:
        api = host_side_url(ollama_url)
        steps["pullModel"] = f'curl {api}/api/pull -d \'{{"model": "{model}"}}\''
    return steps


def url_host(bind_address: str) -> str:
    """Where a browser on this machine reaches a port published on `bind_address`."""
    if bind_address in ("0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{bind_address}]" if ":" in bind_address else bind_address


def host_side_url(url: str) -> str:
    """The URL as seen from this machine rather than from inside a container."""
    parts = urlsplit(url)
    if parts.hostname == "host.docker.internal":
        netloc = parts.netloc.replace("host.docker.internal", "localhost")
        return parts._replace(netloc=netloc).geturl()
    return url
