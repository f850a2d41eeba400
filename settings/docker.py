"""The `docker` section: the Docker host, the mode (Ollama here or elsewhere) and the ports."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from settings.base import DnsLabel, KeyedError, Model


def is_loopback(host: str) -> bool:
    """True for any name or address that means "this machine" (127/8, ::1, 0.0.0.0, localhost)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None) or address
    return mapped.is_loopback or mapped.is_unspecified


def _check_docker_host(value: str) -> str:
    if not re.match(r"^(unix|npipe|tcp|ssh)://\S+$", value):
        raise ValueError(
            "must be a Docker host such as unix:///var/run/docker.sock, "
            "npipe:////./pipe/docker_engine, tcp://host:2376 or ssh://user@host"
        )
    return value


def _check_ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(
            "must be an IP address such as 127.0.0.1 (0.0.0.0 opens the port to your whole network)"
        ) from None


def _check_ollama_url(value: str) -> str:
    match = re.match(r"^https?://(\[[0-9a-fA-F:]+\]|[^/\s:\[\]]+)(:[0-9]{1,5})?(/\S*)?$", value)
    if not match:
        raise ValueError("must be an http(s) URL such as http://host.docker.internal:11434")
    path = (match.group(3) or "").rstrip("/")
    if path.endswith("/api"):
        raise ValueError(
            "drop the '/api' suffix: Open WebUI wants the bare Ollama URL (the "
            "'/api' form belonged to the deprecated OLLAMA_API_BASE_URL), e.g. "
            "http://host.docker.internal:11434"
        )
    if match.group(2) and not 1 <= int(match.group(2)[1:]) <= 65535:
        raise ValueError(
            "the port must be between 1 and 65535, e.g. http://host.docker.internal:11434"
        )
    if is_loopback(match.group(1)):
        raise ValueError(
            "inside the Open WebUI container this address is the container itself; "
            "for an Ollama on this machine (or a kubectl port-forward) use "
            "http://host.docker.internal:11434"
        )
    return value.rstrip("/")


DockerHost = Annotated[str, AfterValidator(_check_docker_host)]
IpAddress = Annotated[str, AfterValidator(_check_ip)]
OllamaUrl = Annotated[str, AfterValidator(_check_ollama_url)]


class Docker(Model):
    """Only for target docker: the daemon, the mode and the published ports."""

    # The one place the Docker host is named; rootless Docker, Colima or a remote host set it.
    host: DockerHost = "unix:///var/run/docker.sock"
    # True: Ollama runs as a container here too. False: Open WebUI only, using ollamaUrl.
    run_ollama: bool = True
    ollama_url: OllamaUrl | None = None
    webui_port: int = Field(default=3000, ge=1, le=65535)
    # 0 leaves the Ollama API unpublished (e.g. when a local Ollama already holds 11434).
    ollama_port: int = Field(default=11434, ge=0, le=65535)
    # Published ports listen on loopback only unless this is changed on purpose.
    bind_address: IpAddress = "127.0.0.1"
    # Opt-ins for a bindAddress other than loopback: the ports are then open to the network.
    allow_network_access: bool = False
    expose_ollama_api: bool = False
    network_name: DnsLabel = "icc-ollama"

    @model_validator(mode="after")
    def _one_ollama(self) -> Docker:
        if not self.run_ollama and self.ollama_url is None:
            raise KeyedError(
                "docker.ollamaUrl",
                None,
                "docker.runOllama is false, so Open WebUI needs the URL of an "
                "existing Ollama; set it with `pulumi config set --path "
                "docker.ollamaUrl http://host.docker.internal:11434`",
            )
        if self.run_ollama and self.ollama_url is not None:
            raise KeyedError(
                "docker.ollamaUrl",
                self.ollama_url,
                "only used when docker.runOllama is false; remove it with `pulumi "
                "config rm --path docker.ollamaUrl` or set docker.runOllama to "
                "false",
            )
        if self.run_ollama and self.ollama_port and self.ollama_port == self.webui_port:
            raise KeyedError(
                "docker.ollamaPort",
                self.ollama_port,
                f"docker.webuiPort is {self.webui_port} too; give each its own port "
                f"or set docker.ollamaPort 0 to leave Ollama unpublished",
            )
        return self

    @property
    def publishes_ollama(self) -> bool:
        return self.run_ollama and self.ollama_port != 0
