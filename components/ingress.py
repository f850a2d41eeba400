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

import pulumi

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


def setup_steps(target: str, ingress: Ingress) -> dict[str, str]:
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
    return {
        "ingressAddon": "minikube addons enable ingress",
        "ingressHosts": (
            f'echo "$(minikube ip) {ingress.host}" | sudo tee -a /etc/hosts  '
            f"# docker driver on macOS/Windows: 127.0.0.1 and `minikube tunnel`"
        ),
    }


class WebIngress(pulumi.ComponentResource):
    """One Ingress for Open WebUI, and one for the Ollama API only when explicitly asked."""

    url: str

    def __init__(self, name: str, args: WebIngressArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("icc:ingress:WebIngress", name, None, opts)
        self._args = args
        settings = args.ingress
        # The settings refuse an enabled ingress without a host, and exposeOllama without one.
        assert settings.host is not None
        self.url = public_url(settings)
        self.next_steps = setup_steps(args.target, settings)
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
        self.register_outputs({"url": self.url, "ollamaUrl": self.ollama_url})

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
    ) -> kube.KubeObject:
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
        return kube.KubeObject(
            logical,
            "networking.k8s.io/v1",
            "Ingress",
            opts,
            metadata={
                "name": name,
                "namespace": self._args.namespace,
                "labels": kube.with_managed_by(kube.labels(name, "ingress")),
                "annotations": proxy_annotations(settings, sticky),
            },
            spec=spec,
        )
