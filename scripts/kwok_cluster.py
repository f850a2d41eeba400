"""A local Kubernetes control plane for the real-engine tier and `make bench`: kwokctl with the
binaries scripts/e2e-tools.sh builds (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok as plain host processes), one plain node and one fake V100 node, the
targets' storage classes and one pre-bound volume per claim the stacks make.

Used by scripts/bench.py and tests/e2e (tests may import scripts; scripts import no test module).
Everything lives in the folders it is given: nothing touches ~/.kube.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TOOLS_SCRIPT = ROOT / "scripts" / "e2e-tools.sh"
ICC_NAMESPACE = "we2e-default"
MINIKUBE_NAMESPACE = "icc-ollama"
GPU_NODE = "kwok-gpu-v100"
CPU_NODE = "kwok-cpu"

REQUIRED_TOOLS = (
    "pulumi",
    "pulumi-language-python",
    "pulumi-language-python-exec",
    "pulumi-resource-kubernetes",
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kwok",
    "kwokctl",
)


def tools_bin() -> Path:
    out = subprocess.run(
        ["bash", str(TOOLS_SCRIPT), "--print"], check=True, capture_output=True, text=True
    )
    return Path(out.stdout.strip())


def missing_tools(bin_dir: Path, names=REQUIRED_TOOLS) -> list[str]:
    return [name for name in names if not os.access(bin_dir / name, os.X_OK)]


class CommandFailed(AssertionError):
    pass


def run(
    cmd: list[str],
    env: dict[str, str],
    cwd: Path | None = None,
    check: bool = True,
    timeout: float = 600,
    input: str | None = None,
) -> subprocess.CompletedProcess:
    started = time.monotonic()
    proc = subprocess.run(
        cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, input=input
    )
    seconds = time.monotonic() - started
    proc.seconds = seconds  # type: ignore[attr-defined]
    if check and proc.returncode != 0:
        raise CommandFailed(
            f"{' '.join(cmd)} exited {proc.returncode} after "
            f"{seconds:.1f}s\n--- stdout ---\n{proc.stdout[-6000:]}"
            f"\n--- stderr ---\n{proc.stderr[-6000:]}"
        )
    return proc


def node(name: str, gpu: bool) -> dict:
    """A node kwok keeps Ready; the GPU one as the ICC's V100 nodes (4 GPUs, their taint)."""
    capacity = {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "500Gi"}
    labels = {
        "type": "kwok",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
    }
    spec: dict[str, Any] = {}
    if gpu:
        capacity["nvidia.com/gpu"] = "4"
        labels["gpu"] = "tesla-v100"
        # The ICC's V100 nodes carry this taint; only pods that tolerate it land there.
        spec["taints"] = [{"key": "gpu-tesla-v100", "value": "present", "effect": "NoSchedule"}]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": spec,
        "status": {"capacity": capacity, "allocatable": capacity},
    }


# (claim, storage class, size) of every claim each target's stack makes as shipped (models,
# chats, the chats' snapshots).
TARGET_CLAIMS = {
    "icc": (
        ("models-ollama-0", "rook-ceph-block", "20Gi"),
        ("data-open-webui-0", "rook-ceph-block", "5Gi"),
        ("backups-open-webui-0", "rook-ceph-block", "5Gi"),
    ),
    "minikube": (
        ("models-ollama-0", "standard", "10Gi"),
        ("models-ollama-1", "standard", "10Gi"),
        ("data-open-webui-0", "standard", "2Gi"),
        ("backups-open-webui-0", "standard", "2Gi"),
    ),
}


def claim_volumes(target: str, namespace: str) -> list[dict]:
    """One pre-bound PV per claim a `target` stack makes in `namespace`."""
    return [bound_volume(namespace, *claim) for claim in TARGET_CLAIMS[target]]


def storage_objects() -> list[dict]:
    """StorageClasses as on the targets, and the volumes of the icc and minikube stacks."""
    classes = [
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": name, "annotations": annotations},
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "Immediate",
            "reclaimPolicy": "Retain",
        }
        for name, annotations in (
            ("rook-ceph-block", {}),
            ("standard", {"storageclass.kubernetes.io/is-default-class": "true"}),
        )
    ]
    return (
        classes
        + claim_volumes("icc", ICC_NAMESPACE)
        + claim_volumes("minikube", MINIKUBE_NAMESPACE)
    )


def bound_volume(namespace: str, claim: str, storage_class: str, size: str) -> dict:
    """A PV that names its future claim in `claimRef`: no provisioner runs here (no kubelet, no
    CSI), so the PV controller binds it as soon as the StatefulSet controller makes the claim."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"pv-{namespace}-{claim}"},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": storage_class,
            "hostPath": {"path": f"/tmp/kwok-pv/{namespace}/{claim}"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": namespace,
                "name": claim,
            },
        },
    }


@dataclass
class Cluster:
    name: str
    bin_dir: Path
    workdir: Path
    kubeconfig: Path
    context: str
    env: dict[str, str] = field(default_factory=dict)

    def api_server(self) -> str:
        """The API server URL of this cluster's context in its kubeconfig."""
        config = yaml.safe_load(self.kubeconfig.read_text())
        context = next(c["context"] for c in config["contexts"] if c["name"] == self.context)
        return next(
            c["cluster"]["server"] for c in config["clusters"] if c["name"] == context["cluster"]
        )

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        return run(
            [
                str(self.bin_dir / "kubectl"),
                "--kubeconfig",
                str(self.kubeconfig),
                "--context",
                self.context,
                *args,
            ],
            env=self.env,
            input=input,
            check=check,
            timeout=timeout,
        )

    def get(self, kind: str, namespace: str | None = None, name: str = "") -> Any:
        args = ["get", kind] + ([name] if name else []) + ["-o", "json"]
        if namespace:
            args += ["-n", namespace]
        return json.loads(self.kubectl(*args).stdout)

    def apply(self, objects: list[dict]) -> None:
        self.kubectl(
            "apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(objects, sort_keys=False)
        )

    def wait_for(self, what: str, predicate, timeout: float = 120, interval: float = 1.0):
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = predicate()
                if last:
                    return last
            except (CommandFailed, KeyError, IndexError) as error:
                last = error
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def start_cluster(bin_dir: Path, workdir: Path, name: str = "icc-ollama-e2e") -> Cluster:
    """A kwokctl cluster with the local binaries (runtime `binary`: plain host processes)."""
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "KWOK_WORKDIR": str(workdir),
            "KWOK_KUBE_VERSION": "v" + kube_version(bin_dir),
            "KWOK_RUNTIME": "binary",
        }
    )
    kubeconfig = workdir / "kubeconfig"
    binaries = {
        "--etcd-binary": "etcd",
        "--kube-apiserver-binary": "kube-apiserver",
        "--kube-controller-manager-binary": "kube-controller-manager",
        "--kube-scheduler-binary": "kube-scheduler",
        "--kwok-controller-binary": "kwok",
    }
    run(
        [
            str(bin_dir / "kwokctl"),
            "create",
            "cluster",
            "--name",
            name,
            "--runtime",
            "binary",
            "--kubeconfig",
            str(kubeconfig),
            *(arg for flag, tool in binaries.items() for arg in (flag, str(bin_dir / tool))),
            "--wait",
            "2m",
        ],
        env=env,
        timeout=300,
    )
    cluster = Cluster(
        name=name,
        bin_dir=bin_dir,
        workdir=workdir,
        kubeconfig=kubeconfig,
        context=f"kwok-{name}",
        env=env,
    )
    cluster.wait_for(
        "the default service account namespace",
        lambda: cluster.kubectl("get", "ns", "default", check=False).returncode == 0,
    )
    cluster.apply([node(CPU_NODE, gpu=False), node(GPU_NODE, gpu=True)])
    cluster.wait_for("both fake nodes Ready", lambda: nodes_ready(cluster, 2))
    # The ICC namespace exists before anyone deploys (users cannot create namespaces there).
    cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ICC_NAMESPACE}}])
    cluster.apply(storage_objects())
    return cluster


def nodes_ready(cluster: Cluster, count: int) -> bool:
    found = cluster.get("nodes")["items"]
    conditions = [n["status"].get("conditions", []) for n in found]
    return len(found) == count and all(
        any(c["type"] == "Ready" and c["status"] == "True" for c in each) for each in conditions
    )


def stop_cluster(cluster: Cluster) -> None:
    run(
        [
            str(cluster.bin_dir / "kwokctl"),
            "delete",
            "cluster",
            "--name",
            cluster.name,
            "--kubeconfig",
            str(cluster.kubeconfig),
        ],
        env=cluster.env,
        check=False,
        timeout=120,
    )


def kube_version(bin_dir: Path) -> str:
    out = run([str(bin_dir / "kubectl"), "version", "--client", "-o", "json"], env=dict(os.environ))
    return json.loads(out.stdout)["clientVersion"]["gitVersion"].lstrip("v")
