"""WebIngress: Open WebUI on a public host through ingress-nginx, with TLS.

Chat answers stream for minutes (server-sent events) and the UI holds a websocket open, so the
proxy timeouts are raised from nginx's 60 s, response buffering is off (otherwise tokens arrive in
bursts), and uploads may be as large as `ingress.proxyBodySize`. Websocket upgrades need no
annotation in ingress-nginx. Cookie affinity keeps a browser on one Open WebUI pod should there
ever be more than one. The annotation names are ingress-nginx's (docs: user-guide/
nginx-configuration/annotations.md); another controller class ignores them.

Ollama's API has no authentication. It is routed only when `ingress.exposeOllama` is set, on a
host of its own (Open WebUI serves /api itself), and the program then warns on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from settings.ingress import Ingress

NGINX = "nginx.ingress.kubernetes.io"
ICC_API_HOST = "icc-k8s-api.informatik.haw-hamburg.de"


@dataclass(frozen=True)
class WebIngressArgs:
    namespace: str
    ingress: Ingress
    target: str
    webui_service: str
    webui_port: int
    ollama_service: str
    ollama_port: int
    name: str = "open-webui"
    ollama_name: str = "ollama-api"


def public_url(ingress: Ingress, host: str | None = None) -> str:
    scheme = "https" if ingress.tls.enabled else "http"
    return f"{scheme}://{host or ingress.host}"


def proxy_annotations(ingress: Ingress, sticky: bool) -> dict[str, str]:
    """ingress-nginx settings for long streams and uploads; every value a string, as required."""
    timeout = str(ingress.proxy_timeout_seconds)  # unitless seconds
    annotations = {
        f"{NGINX}/proxy-read-timeout": timeout,
        f"{NGINX}/proxy-send-timeout": timeout,
        f"{NGINX}/proxy-body-size": ingress.proxy_body_size,
        f"{NGINX}/proxy-buffering": "off",
    }
    if sticky:
        annotations[f"{NGINX}/affinity"] = "cookie"
        annotations[f"{NGINX}/session-cookie-name"] = "icc-ollama-route"
    if ingress.tls.enabled and ingress.tls.cluster_issuer:
        annotations["cert-manager.io/cluster-issuer"] = ingress.tls.cluster_issuer
    if ingress.skip_await:
        # Pulumi would wait up to 10 min for `.status.loadBalancer`, which a controller that does
        # not publish its address never fills; routing works without it (ingress.skipAwait).
        annotations["pulumi.com/skipAwait"] = "true"
    return annotations


def tls_secret(ingress: Ingress, generated: str) -> str:
    return ingress.tls.existing_secret or generated


def exposure_warning(ingress: Ingress) -> str:
    return (
        f"ingress.exposeOllama is on: the Ollama API, which has no authentication, is "
        f"reachable at {public_url(ingress, ingress.ollama_host)} by anyone who can reach the "
        f"ingress; anyone there can run and pull models. Prefer `kubectl port-forward "
        f"svc/ollama 11434:11434`, or restrict the host at the controller."
    )


def reported_address(status: Any) -> str | None:
    """The first address the ingress controller published in the Ingress's
    `.status.loadBalancer` (what `kubectl get ingress` shows as ADDRESS), or None."""
    balancer = status.load_balancer if status is not None else None
    for entry in (balancer.ingress if balancer is not None else None) or ():
        if entry.ip or entry.hostname:
            return entry.ip or entry.hostname
    return None


def hosts_line(address: str | None, host: str) -> str:
    """The /etc/hosts line for Minikube: the published address, else `minikube ip` at the prompt."""
    return (
        f'echo "{address or "$(minikube ip)"} {host}" | sudo tee -a /etc/hosts  '
        f"# docker driver on macOS/Windows: 127.0.0.1 and `minikube tunnel`"
    )


def setup_steps(
    target: str, ingress: Ingress, address: pulumi.Output[str | None]
) -> dict[str, pulumi.Input[str]]:
    """What the user must do outside Pulumi before the host answers."""
    if target == "icc":
        return {
            "ingressDns": (
                f"create a CNAME {ingress.host} -> {ICC_API_HOST}; the certificate "
                f"follows within minutes"
            ),
            "ingressAccess": (
                "reachable from the HAW network (or VPN) only; for access from "
                "outside ask the ICC team. Public access requires access control "
                "or an imprint and a privacy statement"
            ),
        }
    host = ingress.host or ""
    return {
        "ingressAddon": "minikube addons enable ingress",
        "ingressHosts": address.apply(lambda published: hosts_line(published, host)),
    }


class WebIngress(pulumi.ComponentResource):
    """One Ingress for Open WebUI, and one for the Ollama API only when explicitly asked.

    `address` is what the ingress controller publishes in the Open WebUI Ingress's status, once it
    does: Pulumi waits for it unless `ingress.skipAwait` is on (then it is in the state only if
    the controller was quicker than the create, or after `pulumi refresh`).
    """

    url: str
    address: pulumi.Output[str | None]

    def __init__(self, name: str, args: WebIngressArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("icc:ingress:WebIngress", name, None, opts)
        self._args = args
        settings = args.ingress
        # The settings refuse an enabled ingress without a host, and exposeOllama without one.
        assert settings.host is not None
        self.url = public_url(settings)
        self.ingress_name = args.name
        child = pulumi.ResourceOptions(parent=self)
        self.webui = self._ingress(
            f"{name}-webui",
            args.name,
            settings.host,
            args.webui_service,
            args.webui_port,
            settings.tls.secret_name,
            sticky=True,
            opts=child,
        )
        self.address = self.webui.status.apply(reported_address)
        self.next_steps = setup_steps(args.target, settings, self.address)
        self.ollama = None
        self.ollama_url: str | None = None
        if settings.expose_ollama and settings.ollama_host is not None:
            pulumi.log.warn(exposure_warning(settings), resource=self)
            self.ollama_url = public_url(settings, settings.ollama_host)
            self.ollama = self._ingress(
                f"{name}-ollama",
                args.ollama_name,
                settings.ollama_host,
                args.ollama_service,
                args.ollama_port,
                f"{args.ollama_name}-tls",
                sticky=False,
                opts=child,
            )
        self.register_outputs(
            {"url": self.url, "ollamaUrl": self.ollama_url, "address": self.address}
        )

    def _ingress(
        self,
        logical: str,
        name: str,
        host: str,
        service: str,
        port: int,
        generated_secret: str,
        sticky: bool,
        opts: pulumi.ResourceOptions,
    ) -> k8s.networking.v1.Ingress:
        settings = self._args.ingress
        spec: dict = {
            "ingressClassName": settings.class_name,
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": service, "port": {"number": port}}},
                            }
                        ]
                    },
                }
            ],
        }
        if settings.tls.enabled:
            secret = tls_secret(settings, generated_secret)
            spec["tls"] = [{"hosts": [host], "secretName": secret}]
        return k8s.networking.v1.Ingress(
            logical,
            metadata={
                "name": name,
                "namespace": self._args.namespace,
                "labels": kube.with_managed_by(kube.labels(name, "ingress")),
                "annotations": proxy_annotations(settings, sticky),
            },
            spec=spec,
            opts=opts,
        )
