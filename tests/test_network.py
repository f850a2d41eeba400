"""NetworkPolicies, checked by evaluating them: who may reach Ollama and Open WebUI."""

import pytest

from components import kube
from harness import run_stack

OLLAMA = kube.with_managed_by(kube.labels("ollama", "inference"))
WEBUI = kube.with_managed_by(kube.labels("open-webui", "frontend"))
STRANGER = {"app": "someone-elses-job"}


def matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def allowed(policies, pod_labels, port, source_labels, source_namespace, namespace):
    """Kubernetes semantics: a pod selected by any policy accepts only what some policy allows."""
    selecting = [p["spec"] for p in policies if matches(p["spec"]["podSelector"], pod_labels)]
    if not selecting:
        return True
    for spec in selecting:
        for rule in spec.get("ingress", []):
            if rule.get("ports") and port not in [p["port"] for p in rule["ports"]]:
                continue
            for peer in rule.get("from", []):
                if (
                    "podSelector" in peer
                    and source_namespace == namespace
                    and matches(peer["podSelector"], source_labels)
                ):
                    return True
                if "namespaceSelector" in peer and matches(
                    peer["namespaceSelector"], {"kubernetes.io/metadata.name": source_namespace}
                ):
                    return True
    return False


def policies_of(run):
    return [o for o in run.kubernetes_objects() if o["kind"] == "NetworkPolicy"]


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_ollama_api_is_reachable_only_from_open_webui(stack, request):
    run = request.getfixturevalue(stack)
    ns = run.exports["namespace"]
    policies = policies_of(run)
    assert allowed(policies, OLLAMA, 11434, WEBUI, ns, ns)
    assert not allowed(policies, OLLAMA, 11434, STRANGER, ns, ns)
    assert not allowed(policies, OLLAMA, 11434, {}, "ingress-nginx", ns)
    assert not allowed(policies, OLLAMA, 11434, WEBUI, "other-namespace", ns)


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_open_webui_is_reachable_from_the_ingress_controller_only(stack, request):
    run = request.getfixturevalue(stack)
    ns = run.exports["namespace"]
    policies = policies_of(run)
    assert allowed(policies, WEBUI, 8080, {}, "ingress-nginx", ns)
    assert not allowed(policies, WEBUI, 8080, STRANGER, ns, ns)
    assert not allowed(policies, WEBUI, 22, {}, "ingress-nginx", ns)


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_default_deny_covers_every_pod_of_the_release(stack, request):
    run = request.getfixturevalue(stack)
    deny = next(p for p in policies_of(run) if p["metadata"]["name"] == "icc-ollama-default-deny")
    assert deny["spec"] == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "icc-ollama"}},
        "policyTypes": ["Ingress"],
        "ingress": [],
    }
    for obj in run.kubernetes_objects():
        if obj["kind"] == "StatefulSet":
            pod_labels = obj["spec"]["template"]["metadata"]["labels"]
            assert matches(deny["spec"]["podSelector"], pod_labels), obj["metadata"]["name"]


def test_ingress_controller_namespace_is_a_setting(monkeypatch):
    run = run_stack(
        "minikube", monkeypatch, networkPolicies={"ingressControllerNamespace": "kube-system"}
    )
    policies = policies_of(run)
    assert allowed(policies, WEBUI, 8080, {}, "kube-system", "icc-ollama")
    assert not allowed(policies, WEBUI, 8080, {}, "ingress-nginx", "icc-ollama")


def test_policies_can_be_switched_off(monkeypatch):
    run = run_stack("minikube", monkeypatch, networkPolicies={"enabled": False})
    assert policies_of(run) == []
