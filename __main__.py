"""icc-ollama: a private LLM chat service (Ollama + Open WebUI) on the ICC, Minikube or Docker.

This file only reads the validated settings, builds the explicit provider, wires the components
and exports what a user needs next. Every resource lives in a component under components/.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import pulumi

from components.ingress import WebIngress, WebIngressArgs, public_url
from components import monitoring as mon
from components.network import AllowRule, NetworkIsolation, NetworkIsolationArgs
from components.ollama import PORT as ollama_port, OllamaServer, OllamaServerArgs
from components.settings import Settings, load_settings
from components.webui import PORT as webui_port, OpenWebUI, OpenWebUIArgs, login_hint
from components import kube

# Each target loads only its own provider SDK (see components/kube.py).
if TYPE_CHECKING:
    import pulumi_kubernetes as k8s


def kubernetes_provider(settings: Settings, name: str = "k8s", adopt: bool = False) -> k8s.Provider:
    import pulumi_kubernetes as k8s

    return k8s.Provider(
        name,
        kubeconfig=settings.kubeconfig,
        context=settings.kube_context,
        namespace=settings.namespace,
        # A refreshed ICC token must not look like a new cluster (that would replace everything).
        cluster_identifier=settings.kube_context or settings.target,
        upsert_existing_objects=adopt,
    )


def owned_namespace(settings: Settings) -> Optional[k8s.core.v1.Namespace]:
    """The namespace on targets where we may create it (kept on destroy, see namespace_options)."""
    if not settings.create_namespace:
        return None
    import pulumi_kubernetes as k8s

    return k8s.core.v1.Namespace(
        "namespace",
        metadata={"name": settings.namespace,
                  "labels": {"app.kubernetes.io/part-of": kube.PART_OF,
                             "app.kubernetes.io/managed-by": "pulumi"}},
        opts=kube.namespace_options(kubernetes_provider(settings, "k8s-adopt", adopt=True)),
    )


def kubectl_prefix(settings: Settings) -> str:
    kubectl = "kubectl" + (f" --context {settings.kube_context}" if settings.kube_context else "")
    return kubectl + f" -n {settings.namespace}"


def monitoring_commands(settings: Settings, monitoring: Optional[mon.Monitoring]) -> dict[str, str]:
    """Grafana and Prometheus are reached by port-forward only (NetworkPolicies keep others out)."""
    if monitoring is None:
        return {}
    kubectl, stack = kubectl_prefix(settings), pulumi.get_stack()
    grafana, prometheus = settings.monitoring.grafana, settings.monitoring.prometheus
    return {
        "grafana": f"{kubectl} port-forward svc/{monitoring.grafana_service} {grafana.local_port}:80",
        "grafanaLogin": (f"open http://localhost:{grafana.local_port}; user admin, password from "
                         f"`pulumi config get grafanaAdminPassword -s {stack}`; dashboard "
                         f"icc-ollama/icc-ollama: Ollama"),
        "prometheus": (f"{kubectl} port-forward svc/{monitoring.prometheus_service} "
                       f"{prometheus.local_port}:80"),
    }


def next_commands(settings: Settings, ollama: OllamaServer, webui: OpenWebUI) -> dict[str, str]:
    kubectl = kubectl_prefix(settings)
    port = settings.webui.local_port
    return {
        "openWebUI": (f"KUBECTL_PORT_FORWARD_WEBSOCKETS=true {kubectl} port-forward "
                      f"svc/{webui.service_name} {port}:8080"),
        "login": login_hint(settings.webui, f"http://localhost:{port}"),
        "ollamaApi": f"{kubectl} port-forward svc/{ollama.service_name} 11434:11434",
        "modelLoaderLogs": f"{kubectl} logs -f {ollama.service_name}-0 -c model-loader",
        "pullModel": (f"{kubectl} exec {ollama.service_name}-0 -c ollama -- ollama pull <model>  "
                      f"# repeat for each replica, or add it to ollama.models"),
    }


def allow_rules(settings: Settings, ollama: OllamaServer, webui: OpenWebUI,
                monitoring: Optional[mon.MonitoringArgs] = None) -> tuple[AllowRule, ...]:
    """Who may open a connection to whom inside the namespace; everything else is denied."""
    rules = (
        AllowRule("ollama-from-webui", target=ollama.selector, ports=(ollama_port,),
                  sources=(webui.selector,)),
        AllowRule("webui-from-ingress", target=webui.selector, ports=(webui_port,),
                  namespaces=(settings.network_policies.ingress_controller_namespace,)),
    )
    if settings.ingress.enabled and settings.ingress.expose_ollama:
        # Asked for explicitly (ingress.exposeOllama); WebIngress warns about it on every run.
        rules += (AllowRule("ollama-from-ingress", target=ollama.selector, ports=(ollama_port,),
                            namespaces=(settings.network_policies.ingress_controller_namespace,)),)
    if monitoring is not None:
        rules += monitoring_rules(settings, ollama, monitoring)
    return rules


def monitoring_rules(settings: Settings, ollama: OllamaServer,
                     args: mon.MonitoringArgs) -> tuple[AllowRule, ...]:
    """The exporter polls Ollama, Prometheus scrapes the exporter, Grafana queries Prometheus.
    Grafana and the exporter carry the release label (default-deny); the chart's Prometheus and
    kube-state-metrics pods do not, so their allow rules are what isolates them."""
    prometheus = mon.prometheus_selector(args)
    rules: tuple[AllowRule, ...] = (
        AllowRule("prometheus-from-grafana", target=prometheus, ports=(mon.PROMETHEUS_PORT,),
                  sources=(mon.grafana_selector(args),)),)
    if settings.monitoring.exporter.enabled:
        exporter = mon.exporter_selector(args)
        rules += (
            AllowRule("ollama-from-exporter", target=ollama.selector, ports=(ollama_port,),
                      sources=(exporter,)),
            AllowRule("exporter-from-prometheus", target=exporter, ports=(mon.EXPORTER_PORT,),
                      sources=(prometheus,)),
        )
    if settings.monitoring.scope == "cluster":
        rules += (AllowRule("kube-state-metrics-from-prometheus",
                            target=mon.kube_state_metrics_selector(args), ports=(mon.KSM_PORT,),
                            sources=(prometheus,)),)
    return rules


def monitoring_stack(settings: Settings, ollama: OllamaServer,
                     opts: pulumi.ResourceOptions) -> tuple[Optional[mon.Monitoring],
                                                            Optional[mon.MonitoringArgs]]:
    if not settings.monitoring.enabled:
        return None, None
    password = settings.grafana_admin_password
    assert password is not None  # the settings model requires it when monitoring is on
    args = mon.MonitoringArgs(
        namespace=settings.namespace, monitoring=settings.monitoring,
        admin_password=pulumi.Output.secret(password.get_secret_value()),
        ollama_discovery=f"{kube.service_dns(ollama.headless_name, settings.namespace)}:{ollama_port}")
    return mon.Monitoring("monitoring", args, opts), args


def web_ingress(settings: Settings, ollama: OllamaServer, webui: OpenWebUI,
                opts: pulumi.ResourceOptions) -> dict[str, Any]:
    """The Ingress when enabled, and what it adds to the exports."""
    if not settings.ingress.enabled:
        return {}
    ingress = WebIngress("ingress", WebIngressArgs(
        namespace=settings.namespace, ingress=settings.ingress, target=settings.target,
        webui_service=webui.service_name, webui_port=webui_port,
        ollama_service=ollama.service_name, ollama_port=ollama_port),
        # The await looks the backend Services up by name: create them first (Ollama only when
        # routed: its first rollout may wait long for model pulls).
        pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            depends_on=[webui, ollama] if settings.ingress.expose_ollama else [webui])))
    exports: dict[str, Any] = {"ingressUrl": ingress.url, "ingressSteps": ingress.next_steps}
    if ingress.ollama_url:
        exports["ollamaPublicUrl"] = ingress.ollama_url
    return exports


def deploy_kubernetes(settings: Settings) -> dict[str, Any]:
    provider = kubernetes_provider(settings)
    namespace = owned_namespace(settings)
    opts = pulumi.ResourceOptions(providers=[provider],
                                  depends_on=[namespace] if namespace else None)
    ollama = OllamaServer("ollama", OllamaServerArgs(
        namespace=settings.namespace, ollama=settings.ollama,
        keep_data=settings.keep_data_on_destroy), opts)
    openai_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    webui = OpenWebUI("open-webui", OpenWebUIArgs(
        namespace=settings.namespace, webui=settings.webui,
        ollama_urls=tuple(ollama.webui_urls),
        public_url=public_url(settings.ingress) if settings.ingress.enabled else None,
        secret_key=pulumi.Output.secret(settings.webui_secret_key.get_secret_value()),
        openai_api_key=pulumi.Output.secret(openai_key) if openai_key else None,
        keep_data=settings.keep_data_on_destroy), opts)
    monitoring, monitoring_args = monitoring_stack(settings, ollama, opts)
    if settings.network_policies.enabled:
        NetworkIsolation("network", NetworkIsolationArgs(
            namespace=settings.namespace,
            rules=allow_rules(settings, ollama, webui, monitoring_args)), opts)
    return {
        "target": settings.target,
        "namespace": settings.namespace,
        "ollamaUrl": ollama.url,
        "ollamaReplicaUrls": ollama.replica_urls,
        "openWebUIUrl": f"http://localhost:{settings.webui.local_port}",
        "nextSteps": {**next_commands(settings, ollama, webui),
                      **monitoring_commands(settings, monitoring)},
        **web_ingress(settings, ollama, webui, opts),
    }


def deploy_docker(settings: Settings) -> dict[str, Any]:
    import pulumi_docker as docker

    from components.docker_stack import LocalDockerStack, LocalDockerStackArgs

    provider = docker.Provider("docker", host=settings.docker.host)
    openai_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    stack = LocalDockerStack("local", LocalDockerStackArgs(
        docker=settings.docker, ollama=settings.ollama, webui=settings.webui,
        secret_key=pulumi.Output.secret(settings.webui_secret_key.get_secret_value()),
        openai_api_key=pulumi.Output.secret(openai_key) if openai_key else None,
        keep_data=settings.keep_data_on_destroy), pulumi.ResourceOptions(providers=[provider]))
    return {
        "target": settings.target,
        "ollamaUrl": stack.ollama_url,
        "openWebUIUrl": stack.webui_url,
        "nextSteps": stack.next_steps,
    }


def main() -> None:
    settings = load_settings()
    deploy = deploy_docker if settings.target == "docker" else deploy_kubernetes
    outputs = deploy(settings)
    for key, value in outputs.items():
        pulumi.export(key, value)


main()
