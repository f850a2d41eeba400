"""Who can reach the service: the Docker target's published ports and the Kubernetes Ingress,
against Open WebUI's sign-in and the target. Each rule needs a section and `webui.auth`, so it
lives here, where both are visible; the sections themselves check only their own fields.
"""

from __future__ import annotations

import ipaddress

from settings.base import KeyedError
from settings.docker import Docker
from settings.ingress import Ingress


def check_docker_exposure(docker: Docker, auth: bool) -> None:
    """Ports on another address than loopback reach the whole network: only on purpose."""
    if ipaddress.ip_address(docker.bind_address).is_loopback:
        return
    if not docker.allow_network_access:
        raise KeyedError(
            "docker.bindAddress",
            docker.bind_address,
            "publishes the ports to every machine that can reach this one; keep "
            "127.0.0.1, or opt in with `pulumi config set --path "
            "docker.allowNetworkAccess true`",
        )
    if not auth:
        raise KeyedError(
            "webui.auth",
            False,
            f"Open WebUI without sign-in must not listen on {docker.bind_address}; "
            f"turn auth on with `pulumi config set --path webui.auth true` or keep "
            f"docker.bindAddress 127.0.0.1",
        )
    if docker.publishes_ollama and not docker.expose_ollama_api:
        raise KeyedError(
            "docker.ollamaPort",
            docker.ollama_port,
            f"Ollama's API has no authentication and would listen on "
            f"{docker.bind_address}; set docker.ollamaPort 0 (Open WebUI reaches "
            f"Ollama on the stack network) or opt in with `pulumi config set --path "
            f"docker.exposeOllamaApi true`",
        )


def check_ingress_exposure(ingress: Ingress, target: str, auth: bool) -> None:
    """An Ingress needs a host, sign-in, and on the ICC TLS unless plain http is opted in."""
    if not ingress.enabled:
        return
    if ingress.host is None:
        example = (
            "chat.<your-domain>, a name you control with a CNAME to "
            "icc-k8s-api.informatik.haw-hamburg.de"
            if target == "icc"
            else "open-webui.minikube.local"
        )
        raise KeyedError(
            "ingress.host",
            None,
            f"required when ingress.enabled is true: {example}; set it with "
            f"`pulumi config set --path ingress.host <name>`",
        )
    if not auth:
        raise KeyedError(
            "webui.auth",
            False,
            f"with ingress.enabled, anyone who reaches {ingress.host} would chat "
            f"without an account; turn auth on with `pulumi config set --path webui.auth "
            f"true`, or use `kubectl port-forward` and switch the ingress off",
        )
    if target == "icc" and not ingress.tls.enabled and not ingress.allow_plain_http:
        raise KeyedError(
            "ingress.tls.enabled",
            False,
            "passwords and chats would cross the network unencrypted; keep TLS "
            "on, or opt in with `pulumi config set --path ingress.allowPlainHttp "
            "true`",
        )
