"""icc-ollama: a private LLM chat service (Ollama + Open WebUI) on the ICC, Minikube or Docker.

This file only reads the validated settings, builds the explicit provider, wires the components
and exports what a user needs next. Every resource lives in a component under components/.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any

import pulumi
from pydantic import SecretStr

from components import cluster, kube, next_steps, webui_backup
from components.kube_facts import OWNED_LABELS
from components.ollama_env import PORT as ollama_port
from components.rollout_watch import watch_rollouts
from components.secrets import StackSecrets, StackSecretsArgs
from components.webui_env import PORT as webui_port
from settings import Settings, load_settings

# Each target loads only its own provider SDK: the Kubernetes components (which import
# pulumi_kubernetes) are imported where the Kubernetes path runs, the Docker one likewise.
if TYPE_CHECKING:
    import pulumi_kubernetes as k8s

    from components.monitoring import Monitoring
    from components.network import AllowRule
    from components.ollama import OllamaServer
    from components.webui import OpenWebUI


def kubernetes_provider(settings: Settings, name: str = "k8s", adopt: bool = False) -> k8s.Provider:
    import pulumi_kubernetes as k8s

    return k8s.Provider(
        name,
        # Unset means the SDK's own choice (KUBECONFIG, else ~/.kube/config), the one the cluster
        # pre-flight has just checked and shown; passing anything else here would show up as a
        # provider update in every existing stack.
        kubeconfig=settings.kubeconfig,
        context=settings.kube_context,
        namespace=settings.namespace,
        # Stays what existing stacks were made with, and never comes from what the pre-flight saw
        # (server address, resolved context, token): when this string changes, the provider is
        # replaced and every resource with it (pulumi-kubernetes >= 4.16 keys replacement on it
        # alone). A refreshed ICC token or a new minikube IP must not look like a new cluster.
        cluster_identifier=settings.kube_context or settings.target,
        upsert_existing_objects=adopt,
    )


def owned_namespace(settings: Settings) -> k8s.core.v1.Namespace | None:
    """The namespace on targets where we may create it (kept on destroy, see namespace_options)."""
    if not settings.create_namespace:
        return None
    import pulumi_kubernetes as k8s

    return k8s.core.v1.Namespace(
        "namespace",
        metadata={"name": settings.namespace, "labels": dict(OWNED_LABELS)},
        opts=kube.namespace_options(kubernetes_provider(settings, "k8s-adopt", adopt=True)),
    )


def secret_input(value: SecretStr | None) -> pulumi.Output[str] | None:
    return pulumi.Output.secret(value.get_secret_value()) if value is not None else None


def stack_secrets(settings: Settings) -> StackSecrets:
    """The secrets from stack config, or made by the program where the user set none."""
    return StackSecrets(
        "secrets",
        StackSecretsArgs(
            webui_secret_key=settings.webui_secret_key,
            webui_admin_password=settings.webui_admin_password,
            grafana_admin_password=settings.grafana_admin_password,
            needs_admin_password=settings.webui.auth,
            needs_grafana_password=settings.kubernetes and settings.monitoring.enabled,
        ),
    )


def secret_exports(secrets: StackSecrets) -> dict[str, Any]:
    """The passwords a person types, as secret outputs (`pulumi stack output --show-secrets`)."""
    exports: dict[str, Any] = {}
    if secrets.webui_admin_password is not None:
        exports["webuiAdminPassword"] = secrets.webui_admin_password
    if secrets.grafana_admin_password is not None:
        exports["grafanaAdminPassword"] = secrets.grafana_admin_password
    return exports


def network_rules(
    settings: Settings, ollama: OllamaServer, webui: OpenWebUI, monitoring: Monitoring | None
) -> tuple[AllowRule, ...]:
    """Who talks to whom: each component states the rules for its own pods."""
    controller = settings.network_policies.ingress_controller_namespace
    clients = {"webui": webui.selector}
    if monitoring is not None and monitoring.exporter_selector is not None:
        clients["exporter"] = monitoring.exporter_selector
    exposed = settings.ingress.enabled and settings.ingress.expose_ollama
    return (
        *ollama.allow_rules(clients, controller if exposed else None),
        *webui.allow_rules(controller),
        *(monitoring.allow_rules if monitoring is not None else ()),
    )


def monitoring_stack(
    settings: Settings,
    ollama: OllamaServer,
    secrets: StackSecrets,
    opts: pulumi.ResourceOptions,
) -> Monitoring | None:
    if secrets.grafana_admin_password is None:  # made exactly when monitoring is on
        return None
    from components.monitoring import Monitoring, MonitoringArgs

    args = MonitoringArgs(
        namespace=settings.namespace,
        monitoring=settings.monitoring,
        admin_password=secrets.grafana_admin_password,
        ollama_discovery=f"{kube.service_dns(ollama.headless_name, settings.namespace)}"
        f":{ollama_port}",
    )
    return Monitoring("monitoring", args, opts)


def web_ingress(
    settings: Settings, ollama: OllamaServer, webui: OpenWebUI, opts: pulumi.ResourceOptions
) -> dict[str, Any]:
    """The Ingress when enabled, and what it adds to the exports."""
    if not settings.ingress.enabled:
        return {}
    from components.ingress import WebIngress, WebIngressArgs

    ingress = WebIngress(
        "ingress",
        WebIngressArgs(
            namespace=settings.namespace,
            ingress=settings.ingress,
            target=settings.target,
            webui_service=webui.service_name,
            webui_port=webui_port,
            ollama_service=ollama.service_name,
            ollama_port=ollama_port,
        ),
        # The await looks the backend Services up by name: create them first (Ollama only when
        # routed: its first rollout may wait long for model pulls).
        pulumi.ResourceOptions.merge(
            opts,
            pulumi.ResourceOptions(
                depends_on=[webui, ollama] if settings.ingress.expose_ollama else [webui]
            ),
        ),
    )
    look = f"{next_steps.kubectl_prefix(settings)} get ingress {ingress.ingress_name}"
    exports: dict[str, Any] = {
        "ingressUrl": ingress.url,
        # What the ingress controller published in the Ingress status, once it has.
        "ingressAddress": ingress.address.apply(
            lambda address: address or f"none published yet; see `{look}`"
        ),
        "ingressSteps": ingress.next_steps,
    }
    if ingress.ollama_url:
        exports["ollamaPublicUrl"] = ingress.ollama_url
    return exports


def when_ready(ready: pulumi.Output[Any], value: Any) -> pulumi.Output[Any]:
    """An output that exists only once the workloads are Ready: a failed or timed-out rollout
    leaves no URL that looks as if the service were up."""
    return ready.apply(lambda _: value)


def deploy_kubernetes(settings: Settings) -> dict[str, Any]:
    from components.ingress import public_url
    from components.network import NetworkIsolation, NetworkIsolationArgs
    from components.ollama import OllamaServer, OllamaServerArgs
    from components.webui import OpenWebUI, OpenWebUIArgs

    # First, before any resource: a refusal here leaves the cluster and the state untouched.
    target = cluster.preflight(settings)
    secrets = stack_secrets(settings)
    provider = kubernetes_provider(settings)
    namespace = owned_namespace(settings)
    opts = pulumi.ResourceOptions(
        providers=[provider], depends_on=[namespace] if namespace else None
    )
    ollama = OllamaServer(
        "ollama",
        OllamaServerArgs(
            namespace=settings.namespace,
            ollama=settings.ollama,
            keep_data=settings.keep_data_on_destroy,
        ),
        opts,
    )
    webui = OpenWebUI(
        "open-webui",
        OpenWebUIArgs(
            namespace=settings.namespace,
            webui=settings.webui,
            ollama_urls=tuple(ollama.webui_urls),
            public_url=public_url(settings.ingress) if settings.ingress.enabled else None,
            secret_key=secrets.webui_secret_key,
            admin_password=secrets.webui_admin_password,
            openai_api_key=secret_input(settings.openai_api_key),
            rag_ollama_url=ollama.url,
            keep_data=settings.keep_data_on_destroy,
        ),
        opts,
    )
    monitoring = monitoring_stack(settings, ollama, secrets, opts)
    if settings.network_policies.enabled:
        NetworkIsolation(
            "network",
            NetworkIsolationArgs(
                namespace=settings.namespace,
                rules=network_rules(settings, ollama, webui, monitoring),
            ),
            opts,
        )
    watch_rollouts(settings, target, ollama, webui)
    ready = pulumi.Output.all(ollama.statefulset.id, webui.statefulset.id)
    return {
        "target": settings.target,
        "namespace": settings.namespace,
        "cluster": target.outputs(),
        "ollamaUrl": when_ready(ready, ollama.url),
        "ollamaReplicaUrls": when_ready(ready, ollama.replica_urls),
        "openWebUIUrl": when_ready(ready, f"http://localhost:{settings.webui.local_port}"),
        # What the cluster assigned to each Service (in-cluster addresses; unknown until created).
        "serviceClusterIPs": {
            ollama.service_name: ollama.cluster_ip,
            webui.service_name: webui.cluster_ip,
            **(monitoring.cluster_ips if monitoring is not None else {}),
        },
        "nextSteps": {
            **next_steps.kubernetes_commands(settings, ollama, webui),
            **next_steps.monitoring_commands(settings, monitoring),
            **webui_backup.next_steps(settings.webui, pulumi.get_stack()),
        },
        **web_ingress(settings, ollama, webui, opts),
        **secret_exports(secrets),
    }


def deploy_docker(settings: Settings) -> dict[str, Any]:
    import pulumi_docker as docker

    from components.docker_stack import LocalDockerStack, LocalDockerStackArgs

    secrets = stack_secrets(settings)
    provider = docker.Provider("docker", host=settings.docker.host)
    stack = LocalDockerStack(
        "local",
        LocalDockerStackArgs(
            docker=settings.docker,
            ollama=settings.ollama,
            webui=settings.webui,
            secret_key=secrets.webui_secret_key,
            admin_password=secrets.webui_admin_password,
            openai_api_key=secret_input(settings.openai_api_key),
            keep_data=settings.keep_data_on_destroy,
        ),
        pulumi.ResourceOptions(providers=[provider]),
    )
    return {
        "target": settings.target,
        "ollamaUrl": stack.ollama_url,
        "openWebUIUrl": stack.webui_url,
        "nextSteps": {
            **next_steps.docker_commands(settings, stack.webui_url, stack.ollama_url),
            **webui_backup.next_steps(settings.webui, pulumi.get_stack()),
        },
        **secret_exports(secrets),
    }


def main() -> None:
    settings = load_settings()
    deploy = deploy_docker if settings.target == "docker" else deploy_kubernetes
    outputs = deploy(settings)
    for key, value in outputs.items():
        pulumi.export(key, value)
    # Everything made so far (the SDK's generated classes above all: pulumi_kubernetes' core/v1
    # alone is tens of thousands of objects) lives until the program exits. Frozen, the garbage
    # collector no longer scans it, neither in the collections while the engine works through
    # the resources nor in the full one at exit: about 0.2 s of every preview and up (make bench).
    gc.freeze()


main()
