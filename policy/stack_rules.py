"""The ICC rules that need the whole stack: default-deny and auth behind an Ingress."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from facts import Facts
from wire import (
    Resource,
    containers,
    get,
    is_unknown,
    items,
    pod_labels,
    pod_spec,
)


def workloads(resources: Iterable[Resource]) -> list[Resource]:
    return [r for r in resources if pod_spec(r) is not None]


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    if get(selector, "matchExpressions"):
        return False  # not evaluated: only label equality counts as selecting here
    match = get(selector, "matchLabels", default={})
    return all(labels.get(key) == value for key, value in match.items())


def network_policies(resources: Iterable[Resource]) -> list[Resource]:
    return [
        r
        for r in resources
        if r.kubernetes
        and r.kind == "NetworkPolicy"
        and "Ingress" in items(get(r.props, "spec", "policyTypes", default=["Ingress"]))
    ]


def default_deny(resources: list[Resource], facts: Facts) -> list[str]:
    pods = workloads(resources)
    kubernetes = facts.kubernetes if facts.kubernetes is not None else bool(pods)
    if not kubernetes:
        return []
    policies = network_policies(resources)
    denies = [p for p in policies if not items(get(p.props, "spec", "ingress"))]
    if not denies:
        return [
            "no default-deny NetworkPolicy (policyTypes [Ingress], no ingress rules): every "
            "pod, Ollama's unauthenticated API included, is open to the whole cluster; keep "
            "`networkPolicies.enabled` true"
        ]
    open_pods = [
        w.label
        for w in pods
        if not any(
            selects(get(p.props, "spec", "podSelector", default={}), pod_labels(w))
            for p in policies
        )
    ]
    if open_pods:
        return [
            f"{', '.join(open_pods)}: no NetworkPolicy selects these pods, so they accept "
            f"traffic from the whole cluster; label them app.kubernetes.io/part-of: "
            f"icc-ollama (what the default-deny policy selects)"
        ]
    return []


def env_value(container: Mapping[str, Any], name: str) -> Any:
    for env in items(container.get("env")):
        if get(env, "name") == name:
            return env.get("value") if isinstance(env, Mapping) else None
    return None


def webui_auth(resources: list[Resource], facts: Facts) -> list[str]:
    if not any(r.kubernetes and r.kind == "Ingress" for r in resources):
        return []
    problems = []
    for workload in workloads(resources):
        for container in containers(pod_spec(workload)):
            if "open-webui" not in str(get(container, "image") or ""):
                continue
            auth = env_value(container, "WEBUI_AUTH")
            if is_unknown(auth):
                continue
            if str(auth).lower() != "true":
                problems.append(
                    f"{workload.label}: Open WebUI is published through an Ingress "
                    f"with WEBUI_AUTH={auth}: anyone on the network could chat and "
                    f"read chats; set `webui.auth` true"
                )
    return problems
