"""The real `pulumi preview` / `pulumi up` / `pulumi destroy` of the Kubernetes stacks.

The real Pulumi CLI, the Python language host and the Kubernetes provider (all built from the Go
module proxy by scripts/e2e-tools.sh) run the unmodified program against a local control plane
(etcd, kube-apiserver, kube-controller-manager, kube-scheduler) whose two nodes are simulated by
kwok: pods are scheduled for real, then kwok marks them Running/Ready with an IP, so the
StatefulSet, EndpointSlice and endpoints controllers and Pulumi's await logic see real readiness.

Storage: no provisioner can run without a kubelet, so the cluster fixture creates the target's
StorageClasses (`rook-ceph-block`, `standard` as default, `kubernetes.io/no-provisioner`) and one
pre-bound hostPath PV per claim the StatefulSets will make (`claimRef` names the claim).

Monitoring: minikube runs as shipped, with Prometheus and Grafana through the provider's Helm v4
`Chart`, from stand-in charts of the same names, values keys and object kinds
(scripts/standin_charts.py; the real charts' repositories cannot be reached offline).

Each stack lives in a temporary copy of the project with its own stack name (`e2e-icc`,
`e2e-minikube`), a `file://` backend and a passphrase; the repository's Pulumi.icc.yaml and
Pulumi.minikube.yaml are never read or written. Plugins are never downloaded
(PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true): the provider is installed from a file into an
isolated PULUMI_HOME.

The provider here is v4.25.0 (the release the Go module proxy serves), registered as the SDK's
4.32.0. Where the two differ in what this program meets, the test says which one it proves.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from e2e_support import (
    CPU_NODE,
    GPU_NODE,
    ICC_NAMESPACE,
    MINIKUBE_NAMESPACE,
    create_stack,
    project_copy,
    stack_settings,
)

pytestmark = pytest.mark.e2e
SKIP_AWAIT = "pulumi.com/skipAwait"
WORKLOADS = ("deployments", "statefulsets")


def pods(cluster, namespace: str, app: str) -> list[dict]:
    return (
        cluster.get("pods", namespace)["items"]
        if not app
        else [
            p
            for p in cluster.get("pods", namespace)["items"]
            if p["metadata"].get("labels", {}).get("app.kubernetes.io/name") == app
        ]
    )


def ready(pod: dict) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in pod.get("status", {}).get("conditions", [])
    )


def endpoint_ips(cluster, namespace: str, service: str) -> set[str]:
    slices = cluster.get("endpointslices", namespace)["items"]
    return {
        address
        for s in slices
        if s["metadata"].get("labels", {}).get("kubernetes.io/service-name") == service
        for endpoint in s.get("endpoints") or []
        if endpoint.get("conditions", {}).get("ready")
        for address in endpoint.get("addresses", [])
    }


def assert_live_objects(cluster, target: str, namespace: str) -> None:
    replicas = 1 if target == "icc" else 2
    ollama = pods(cluster, namespace, "ollama")
    assert len(ollama) == replicas and all(ready(p) for p in ollama), ollama
    nodes = {p["spec"]["nodeName"] for p in ollama}
    # ICC: on the V100 node (GPU request + toleration); Minikube: no GPU, so never on it.
    assert nodes == ({GPU_NODE} if target == "icc" else {CPU_NODE}), nodes
    if target == "icc":
        for pod in ollama:
            limits = pod["spec"]["containers"][0]["resources"]["limits"]
            assert limits.get("nvidia.com/gpu") == "1", limits
    webui = pods(cluster, namespace, "open-webui")
    assert len(webui) == 1 and ready(webui[0]) and webui[0]["spec"]["nodeName"] == CPU_NODE
    for service, count in (("ollama", replicas), ("ollama-headless", replicas), ("open-webui", 1)):
        ips = endpoint_ips(cluster, namespace, service)
        assert len(ips) == count, f"service {service}: ready endpoints {ips}"
    secret = cluster.get("secret", namespace, "open-webui-secret")
    assert {"WEBUI_SECRET_KEY", "WEBUI_ADMIN_PASSWORD"} <= set(secret["data"])
    claims = {c["metadata"]["name"]: c for c in cluster.get("pvc", namespace)["items"]}
    wanted = {f"models-ollama-{i}" for i in range(replicas)}
    wanted |= {"data-open-webui-0", "backups-open-webui-0"}  # chats, and their snapshots
    assert wanted <= set(claims), sorted(claims)
    assert all(claims[name]["status"]["phase"] == "Bound" for name in wanted)


def claim_uids(cluster, namespace: str) -> dict[str, str]:
    return {
        c["metadata"]["name"]: c["metadata"]["uid"] for c in cluster.get("pvc", namespace)["items"]
    }


def assert_services_find_their_pods(cluster, namespace: str) -> None:
    """Every Service of the namespace, the program's and the charts' alike, skips the provider's
    Service await and selects the Ready pods of exactly one workload (its ready endpoints)."""
    pods_now = cluster.get("pods", namespace)["items"]
    workloads = [w for kind in WORKLOADS for w in cluster.get(kind, namespace)["items"]]
    services = cluster.get("services", namespace)["items"]
    assert services
    for service in services:
        name, selector = service["metadata"]["name"], service["spec"].get("selector") or {}
        assert (service["metadata"].get("annotations") or {}).get(SKIP_AWAIT) == "true", name
        selected = [
            w["metadata"]["name"]
            for w in workloads
            if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, f"service {name} selects {selected}"
        ready_pods = [p for p in pods_now if ready(p) and selector.items() <= labels_of(p).items()]
        ips = endpoint_ips(cluster, namespace, name)
        assert ready_pods and ips == {p["status"]["podIP"] for p in ready_pods}, (name, ips)


def assert_network_policies_select_pods(cluster, namespace: str) -> None:
    """Every NetworkPolicy's target and every pod it admits exist as live pods: a selector the
    charts' labels do not match would leave a policy that isolates or admits nothing."""
    pods_now = [labels_of(p) for p in cluster.get("pods", namespace)["items"]]
    for policy in cluster.get("networkpolicies", namespace)["items"]:
        name, spec = policy["metadata"]["name"], policy["spec"]
        selectors = [spec["podSelector"].get("matchLabels", {})] + [
            peer["podSelector"]["matchLabels"]
            for rule in spec.get("ingress") or []
            for peer in rule.get("from") or []
            if "podSelector" in peer
        ]
        for selector in selectors:
            assert any(selector.items() <= labels.items() for labels in pods_now), (name, selector)


def labels_of(pod: dict) -> dict:
    return pod["metadata"].get("labels") or {}


def assert_monitoring_live(cluster, namespace: str) -> None:
    """The charts' workloads run (Prometheus, Grafana, kube-state-metrics on minikube's cluster
    scope) beside the exporter, and their Services carry the annotation from the chart values."""
    deployments = {d["metadata"]["name"]: d for d in cluster.get("deployments", namespace)["items"]}
    wanted = {"prometheus-server", "grafana", "ollama-exporter"}
    wanted.add(f"{namespace}-prometheus-kube-state-metrics")
    assert wanted <= set(deployments), sorted(deployments)
    for name in wanted:
        status = deployments[name]["status"]
        assert status.get("readyReplicas") == deployments[name]["spec"]["replicas"], (name, status)


def adopting_provider_inputs(stack) -> dict:
    """The inputs of the provider the kept Namespace is created with (`k8s-adopt`)."""
    state = json.loads(stack.pulumi("stack", "export").stdout)["deployment"]["resources"]
    providers = [r for r in state if r["type"] == "pulumi:providers:kubernetes"]
    return next(r["inputs"] for r in providers if r["urn"].endswith("::k8s-adopt"))


@pytest.mark.parametrize("target", ["icc", "minikube"])
def test_stack_lifecycle(target, cluster, engine_env, e2e_tmp, monitoring, request):
    """icc with its defaults (monitoring off); minikube as shipped, monitoring on (stand-in
    charts through the provider's Helm v4 Chart, scripts/standin_charts.py)."""
    namespace = ICC_NAMESPACE if target == "icc" else MINIKUBE_NAMESPACE
    state = Path(engine_env["E2E_STATE_DIR"])
    workdir = project_copy(e2e_tmp / f"project-{target}", state)
    settings = stack_settings(target, cluster, monitoring if target == "minikube" else None)
    stack = create_stack(f"e2e-{target}", workdir, engine_env, cluster.bin_dir, settings)
    request.node.stash_timings = stack.timings  # type: ignore[attr-defined]

    # 1. preview, then the first real `up` (waits for the StatefulSets to be Ready).
    stack.timed("preview", "preview", "--diff")
    stack.timed("up", "up", "--yes", "--skip-preview")
    assert_live_objects(cluster, target, namespace)
    assert_services_find_their_pods(cluster, namespace)
    assert_network_policies_select_pods(cluster, namespace)
    if target == "minikube":
        assert_monitoring_live(cluster, namespace)
    outputs = stack.outputs()
    assert outputs["namespace"] == namespace
    claims_before = claim_uids(cluster, namespace)
    if target == "minikube":  # see step 5
        assert adopting_provider_inputs(stack).get("upsertExistingObjects") in (True, "true")

    # 2. Nothing changed: a second `up` and a strict preview do nothing (charts included).
    stack.timed("up-again", "up", "--yes", "--skip-preview", "--expect-no-changes")
    stack.timed("preview-no-changes", "preview", "--expect-no-changes")

    # 3. A setting change rolls the Ollama pods (the env var lands in the pod template). The
    # StatefulSet await of 4.25 does not compare observedGeneration (4.26+ does), so what is
    # checked here after `up` returns is the rollout itself: it holds for both versions.
    before = {
        p["metadata"]["name"]: p["metadata"]["uid"] for p in pods(cluster, namespace, "ollama")
    }
    stack.pulumi("config", "set", "--path", "ollama.keepAlive", "17m")
    stack.timed("rollout", "up", "--yes", "--skip-preview")
    sts = cluster.get("statefulset", namespace, "ollama")
    env = {
        e["name"]: e.get("value") for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env.get("OLLAMA_KEEP_ALIVE") == "17m", env
    assert sts["status"].get("updatedReplicas") == sts["spec"]["replicas"]
    assert sts["status"]["currentRevision"] == sts["status"]["updateRevision"]
    after = {
        p["metadata"]["name"]: p["metadata"]["uid"] for p in pods(cluster, namespace, "ollama")
    }
    assert set(after) == set(before) and all(after[n] != before[n] for n in before), (before, after)
    assert_live_objects(cluster, target, namespace)

    # 4. destroy: the workloads go, the data claims stay (whenDeleted: Retain).
    stack.timed("destroy", "destroy", "--yes", "--skip-preview")
    cluster.wait_for(
        "workload pods gone",
        lambda: (
            not pods(cluster, namespace, "ollama") and not pods(cluster, namespace, "open-webui")
        ),
        timeout=120,
    )
    assert not cluster.get("statefulsets", namespace)["items"]
    assert claim_uids(cluster, namespace) == claims_before

    # 5. A new `up` finds the kept claims (same objects, same UIDs) without error. On minikube
    # the kept Namespace is created again. Provider 4.25 (this tier) creates by server-side
    # apply and so takes over any existing object; 4.32 (what users get) answers AlreadyExists
    # unless the provider sets upsertExistingObjects (4.29+). The re-up proves the first; the
    # state of the first `up` proved that the Namespace's provider asks for the second.
    stack.timed("re-up", "up", "--yes", "--skip-preview")
    assert_live_objects(cluster, target, namespace)
    assert claim_uids(cluster, namespace) == claims_before

    print(f"\n[{target}] seconds: " + ", ".join(f"{k}={v:.1f}" for k, v in stack.timings.items()))
