"""NetworkIsolation: default-deny ingress for this release's pods, then one allow rule per path.

Ollama's API has no authentication, so only Open WebUI (and the metrics scraper) may reach it.
Open WebUI is reachable from the ingress controller's namespace; `kubectl port-forward` enters
the pod through the kubelet, which NetworkPolicies do not filter, so it keeps working.
Egress stays open: Ollama pulls models from the internet and Open WebUI may call OpenAI.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import kube


@dataclass(frozen=True)
class AllowRule:
    """Pods matching `target` accept traffic on `ports` from pods matching any of `sources`
    (same namespace) and from any pod in the namespaces named in `namespaces`."""

    name: str
    target: dict[str, str]
    ports: tuple[int, ...]
    sources: tuple[dict[str, str], ...] = ()
    namespaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class NetworkIsolationArgs:
    namespace: str
    rules: tuple[AllowRule, ...]


def release_selector() -> dict[str, str]:
    return {"app.kubernetes.io/part-of": kube.PART_OF}


class NetworkIsolation(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: NetworkIsolationArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("icc:network:NetworkIsolation", name, None, opts)
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        deny = "icc-ollama-default-deny"
        self.deny = self._policy(f"{name}-default-deny", deny, release_selector(), [], child)
        allows = [(rule, f"icc-ollama-allow-{rule.name}") for rule in args.rules]
        self.allows = [
            self._policy(f"{name}-{rule.name}", policy, rule.target, [self._ingress(rule)], child)
            for rule, policy in allows
        ]
        self.register_outputs({"policies": [deny, *(policy for _, policy in allows)]})

    @staticmethod
    def _ingress(rule: AllowRule) -> dict:
        peers = [{"podSelector": {"matchLabels": source}} for source in rule.sources]
        peers += [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}
            for ns in rule.namespaces
        ]
        return {"from": peers, "ports": [{"protocol": "TCP", "port": port} for port in rule.ports]}

    def _policy(
        self,
        logical: str,
        name: str,
        selector: dict[str, str],
        ingress: list[dict],
        opts: pulumi.ResourceOptions,
    ) -> k8s.networking.v1.NetworkPolicy:
        return k8s.networking.v1.NetworkPolicy(
            logical,
            metadata={
                "name": name,
                "namespace": self._args.namespace,
                "labels": kube.with_managed_by(release_selector()),
            },
            spec={
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Ingress"],
                "ingress": ingress,
            },
            opts=opts,
        )
