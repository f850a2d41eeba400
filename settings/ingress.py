"""The `ingress` section: Open WebUI on a public host, TLS, and the opt-in Ollama route."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from settings.base import DnsSubdomain, KeyedError, Model, OptionalDnsSubdomain, number_as_text

_DNS_NAME_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^{_DNS_NAME_LABEL}(\.{_DNS_NAME_LABEL})+$")


def _check_hostname(value: str) -> str:
    if "://" in value or "/" in value or ":" in value:
        raise ValueError(
            "must be a bare DNS name such as chat.example.org: no scheme, port or path"
        )
    if value != value.lower():
        raise ValueError(f"use lower case: {value.lower()}")
    if len(value) > 253 or not _HOSTNAME.match(value):
        raise ValueError(
            "must be a DNS name such as chat.example.org: dot-separated labels of "
            "lower-case letters, digits and '-' (no wildcard)"
        )
    if all(label.isdigit() for label in value.split(".")):
        raise ValueError("an IP address cannot be an Ingress host; use a DNS name")
    return value


def _check_nginx_size(value: str) -> str:
    if not re.match(r"^[0-9]+[kKmMgG]?$", value):
        raise ValueError("must be an nginx size such as 100m, 1g or 512k")
    return value


Hostname = Annotated[str, AfterValidator(_check_hostname)]
NginxSize = Annotated[str, BeforeValidator(number_as_text), AfterValidator(_check_nginx_size)]


class IngressTls(Model):
    enabled: bool = True
    # cert-manager's ClusterIssuer; it writes the certificate into `secretName`.
    cluster_issuer: OptionalDnsSubdomain = None
    secret_name: DnsSubdomain = "open-webui-tls"
    # Or a kubernetes.io/tls Secret that already exists in the namespace (then no clusterIssuer).
    existing_secret: OptionalDnsSubdomain = None


class Ingress(Model):
    """Open WebUI behind the cluster's ingress-nginx; the Ollama API only on explicit request."""

    enabled: bool = False
    host: Hostname | None = None
    class_name: DnsSubdomain = "nginx"
    tls: IngressTls = IngressTls()
    # Uploads (documents for RAG, images) larger than this get 413 from nginx.
    proxy_body_size: NginxSize = "100m"
    # A streamed answer or an idle websocket must not be cut after nginx's default 60 s.
    proxy_timeout_seconds: int = Field(default=3600, ge=60, le=86400)
    # True: do not wait for `.status.loadBalancer` (a controller may never publish it).
    skip_await: bool = False
    # An Ingress on the ICC is reachable from the whole HAW network: plain http only on purpose.
    allow_plain_http: bool = False
    # Ollama's API has no authentication: exposing it is opt-in, on a host of its own.
    expose_ollama: bool = False
    ollama_host: Hostname | None = None


def check_ingress(ingress: Ingress) -> None:
    """What the block says about itself (host, sign-in and target: settings/exposure.py). Called
    by Settings after the target rules, so a docker stack hears "Kubernetes only" first."""
    if not ingress.enabled:
        if ingress.expose_ollama:
            raise KeyedError(
                "ingress.exposeOllama",
                True,
                "needs ingress.enabled true; set it to false with "
                "`pulumi config set --path ingress.exposeOllama false`",
            )
        return
    _check_tls(ingress.tls)
    _check_ollama_route(ingress)


def _check_tls(tls: IngressTls) -> None:
    if tls.enabled and tls.cluster_issuer and tls.existing_secret:
        raise KeyedError(
            "ingress.tls.existingSecret",
            tls.existing_secret,
            f"TLS comes from cert-manager (ingress.tls.clusterIssuer is "
            f"{tls.cluster_issuer}) or from an existing secret, not both; turn "
            f"cert-manager off with `pulumi config set --path "
            f"ingress.tls.clusterIssuer ''` or remove existingSecret",
        )
    if tls.enabled and not (tls.cluster_issuer or tls.existing_secret):
        raise KeyedError(
            "ingress.tls",
            None,
            "TLS needs a certificate: set ingress.tls.clusterIssuer (cert-manager) "
            "or ingress.tls.existingSecret, or set ingress.tls.enabled false for "
            "plain http",
        )


def _check_ollama_route(ingress: Ingress) -> None:
    if ingress.expose_ollama and ingress.ollama_host is None:
        raise KeyedError(
            "ingress.ollamaHost",
            None,
            "ingress.exposeOllama needs a host of its own (Open WebUI's /api paths "
            "would collide); set it with `pulumi config set --path "
            "ingress.ollamaHost <name>`",
        )
    if ingress.ollama_host is not None and not ingress.expose_ollama:
        raise KeyedError(
            "ingress.ollamaHost",
            ingress.ollama_host,
            "only used with ingress.exposeOllama true; remove it with "
            "`pulumi config rm --path ingress.ollamaHost`",
        )
    if ingress.ollama_host is not None and ingress.ollama_host == ingress.host:
        raise KeyedError(
            "ingress.ollamaHost",
            ingress.ollama_host,
            "must differ from ingress.host: Open WebUI's own /api paths would collide",
        )
