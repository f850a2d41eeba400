"""The real `pulumi preview` / `pulumi up` / `pulumi destroy` of the Kubernetes stacks.

The real Pulumi CLI, the Python language host and the Kubernetes provider (all built from the Go
module proxy by scripts/e2e-tools.sh) run the unmodified program against a local control plane
(etcd, kube-apiserver, kube-controller-manager, kube-scheduler) whose two nodes are simulated by
kwok: pods are scheduled for real, then kwok marks them Running/Ready with an IP, so the
StatefulSet, EndpointSlice and endpoints controllers and Pulumi's await logic see real readiness.

Storage: no provisioner can run without a kubelet, so the cluster fixture creates the target's
StorageClasses (`rook-ceph-block`, `standard` as default, `kubernetes.io/no-provisioner`) and one
pre-bound hostPath PV per claim the StatefulSets will make (`claimRef` names the claim).

Each stack lives in a temporary copy of the project with its own stack name (`e2e-icc`,
`e2e-minikube`), a `file://` backend and a passphrase; the repository's Pulumi.icc.yaml and
Pulumi.minikube.yaml are never read or written. Plugins are never downloaded
(PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true): the provider is installed from a file into an
isolated PULUMI_HOME.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from e2e_support import (
    CPU_NODE,
    GPU_NODE,
    ICC_NAMESPACE,
    MINIKUBE_NAMESPACE,
    create_stack,
    fallback_provider,
    project_copy,
)

pytestmark = pytest.mark.e2e


def cluster_server(cluster) -> str:
    """The API server of the session's kubeconfig context."""
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    context = next(c["context"] for c in config["contexts"] if c["name"] == cluster.context)
    return next(
        c["cluster"]["server"] for c in config["clusters"] if c["name"] == context["cluster"]
    )


def stack_settings(target: str, cluster) -> dict:
    settings = {
        "target": target,
        # The kubeconfig's contents (the current provider also takes a path; the v2 fallback
        # provider built here takes only contents).
        "kubeconfig": cluster.kubeconfig.read_text(),
        "kubeContext": cluster.context,
        # Only one model, so the rendered StatefulSets stay small; nothing is pulled here.
        "ollama": {"models": ["llama3.2:1b"]},
    }
    if target == "icc":
        settings.update({"namespace": ICC_NAMESPACE, "createNamespace": False})
        # The pre-flight accepts only the ICC's API server: here it is the kwok control plane's.
        settings["iccApiServer"] = urlsplit(cluster_server(cluster)).netloc
    else:
        settings["otherLocalCluster"] = True  # kwok, not minikube (components/cluster.py)
    # The Prometheus/Grafana charts come from Helm repositories, which cannot be reached
    # offline; the e2e stacks deploy without monitoring.
    settings["monitoring"] = {"enabled": False}
    return settings


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


def expect_known_adoption_gap(stack, namespace: str) -> None:
    """The kept namespace is adopted through `upsertExistingObjects` (pulumi-kubernetes >= 4.20);
    the v2.0.0 stand-in provider has no such option. Check that it fails exactly there, and
    nowhere else, then stop: the real re-`up` needs the 4.32.0 provider, not buildable here."""
    proc = stack.pulumi("up", "--yes", "--skip-preview", check=False)
    assert proc.returncode != 0, "the stand-in provider adopted the namespace: drop this gap"
    assert f'namespaces "{namespace}" already exists' in proc.stdout, proc.stdout[-3000:]
    print("\n[minikube] seconds: " + ", ".join(f"{k}={v:.1f}" for k, v in stack.timings.items()))
    pytest.xfail(
        "re-up on minikube adopts the kept namespace only with pulumi-kubernetes "
        "4.32.0 (upsertExistingObjects); the stand-in v2.0.0 provider stops with "
        f'namespaces "{namespace}" already exists'
    )


@pytest.mark.parametrize("target", ["icc", "minikube"])
def test_stack_lifecycle(target, cluster, engine_env, e2e_tmp, request):
    namespace = ICC_NAMESPACE if target == "icc" else MINIKUBE_NAMESPACE
    state = Path(engine_env["E2E_STATE_DIR"])
    workdir = project_copy(e2e_tmp / f"project-{target}", state)
    stack = create_stack(
        f"e2e-{target}", workdir, engine_env, cluster.bin_dir, stack_settings(target, cluster)
    )
    request.node.stash_timings = stack.timings  # type: ignore[attr-defined]

    # 1. preview, then the first real `up` (waits for the StatefulSets to be Ready).
    stack.timed("preview", "preview", "--diff")
    stack.timed("up", "up", "--yes", "--skip-preview")
    assert_live_objects(cluster, target, namespace)
    outputs = stack.outputs()
    assert outputs["namespace"] == namespace
    claims_before = claim_uids(cluster, namespace)

    # 2. Nothing changed: a second `up` and a strict preview do nothing.
    stack.timed("up-again", "up", "--yes", "--skip-preview", "--expect-no-changes")
    stack.timed("preview-no-changes", "preview", "--expect-no-changes")

    # 3. A setting change rolls the Ollama pods (the env var lands in the pod template).
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

    # 5. A new `up` adopts the kept claims (same objects, same UIDs) without error.
    if target == "minikube" and fallback_provider(cluster.bin_dir):
        expect_known_adoption_gap(stack, namespace)
    stack.timed("re-up", "up", "--yes", "--skip-preview")
    assert_live_objects(cluster, target, namespace)
    assert claim_uids(cluster, namespace) == claims_before

    print(f"\n[{target}] seconds: " + ", ".join(f"{k}={v:.1f}" for k, v in stack.timings.items()))
