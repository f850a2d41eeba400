"""Helpers for the real-engine tier: the tool folder, a kwok cluster, a project copy, the CLI.

Everything here runs real binaries built by scripts/e2e-tools.sh (Go module proxy only) and keeps
its state in temporary folders: nothing touches the repository's Pulumi.<stack>.yaml files, the
user's ~/.pulumi or ~/.kube.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from token_references import LegacyTokenReferences  # noqa: F401 (the tests import it from here)

ROOT = Path(__file__).resolve().parents[2]
TOOLS_SCRIPT = ROOT / "scripts" / "e2e-tools.sh"
PASSPHRASE = "e2e-test-passphrase"  # a test value; protects only throw-away test stacks
TEST_SECRET_KEY = "e" * 48  # a test value (>= 32 characters), never a real key
TEST_ADMIN_PASSWORD = "e2e-admin-" + "p" * 12  # likewise (>= 12 characters)
K8S_SDK_VERSION = "4.32.0"  # pulumi-kubernetes in requirements.txt
ICC_NAMESPACE = "we2e-default"
MINIKUBE_NAMESPACE = "icc-ollama"
GPU_NODE = "kwok-gpu-v100"
CPU_NODE = "kwok-cpu"

# What the Pulumi program needs besides __main__.py (its code, payloads and dashboards).
PROGRAM_FOLDERS = ("components", "settings", "payloads", "dashboards")

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


def fallback_provider(bin_dir: Path) -> bool:
    """True when the Kubernetes provider is the v2.0.0 stand-in (see scripts/e2e-tools.sh):
    the proxy refuses every provider/v4 version, so 4.32.0 itself cannot be built here."""
    return "-k8sprov2." in str(bin_dir)


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
    proc.seconds = time.monotonic() - started  # type: ignore[attr-defined]
    if check and proc.returncode != 0:
        raise CommandFailed(
            f"{' '.join(cmd)} exited {proc.returncode} after "
            f"{proc.seconds:.1f}s\n--- stdout ---\n{proc.stdout[-6000:]}"
            f"\n--- stderr ---\n{proc.stderr[-6000:]}"
        )
    return proc


# --------------------------------------------------------------------------- cluster


def _node(name: str, gpu: bool) -> dict:
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


def storage_objects() -> list[dict]:
    """StorageClasses as on the targets, and one pre-bound PV per claim the stacks will make.

    No provisioner runs here (no kubelet, no CSI): each PV names its future claim in `claimRef`,
    so the PV controller binds it as soon as the StatefulSet controller creates the claim.
    """
    objects: list[dict] = [
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "rook-ceph-block"},
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "Immediate",
            "reclaimPolicy": "Retain",
        },
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": "standard",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "Immediate",
            "reclaimPolicy": "Retain",
        },
    ]
    claims = [  # namespace, claim, storage class, size
        (ICC_NAMESPACE, "models-ollama-0", "rook-ceph-block", "20Gi"),
        (ICC_NAMESPACE, "data-open-webui-0", "rook-ceph-block", "5Gi"),
        (ICC_NAMESPACE, "backups-open-webui-0", "rook-ceph-block", "5Gi"),
        (MINIKUBE_NAMESPACE, "models-ollama-0", "standard", "10Gi"),
        (MINIKUBE_NAMESPACE, "models-ollama-1", "standard", "10Gi"),
        (MINIKUBE_NAMESPACE, "data-open-webui-0", "standard", "2Gi"),
        (MINIKUBE_NAMESPACE, "backups-open-webui-0", "standard", "2Gi"),
    ]
    objects += [bound_volume(*claim) for claim in claims]
    return objects


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
            "--etcd-binary",
            str(bin_dir / "etcd"),
            "--kube-apiserver-binary",
            str(bin_dir / "kube-apiserver"),
            "--kube-controller-manager-binary",
            str(bin_dir / "kube-controller-manager"),
            "--kube-scheduler-binary",
            str(bin_dir / "kube-scheduler"),
            "--kwok-controller-binary",
            str(bin_dir / "kwok"),
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
    cluster.apply([_node(CPU_NODE, gpu=False), _node(GPU_NODE, gpu=True)])
    cluster.wait_for(
        "both fake nodes Ready",
        lambda: (
            all(
                any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in n["status"].get("conditions", [])
                )
                for n in cluster.get("nodes")["items"]
            )
            and len(cluster.get("nodes")["items"]) == 2
        ),
    )
    # The ICC namespace exists before anyone deploys (users cannot create namespaces there).
    cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ICC_NAMESPACE}}])
    cluster.apply(storage_objects())
    return cluster


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


# --------------------------------------------------------------------------- pulumi


def pulumi_env(bin_dir: Path, home: Path, state: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PATH": os.pathsep.join(
                [str(bin_dir), str(ROOT / ".venv" / "bin"), env.get("PATH", "")]
            ),
            "PULUMI_HOME": str(home),
            "PULUMI_BACKEND_URL": f"file://{state}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            # The provider comes from the isolated PULUMI_HOME (`plugin install --file`), not PATH.
            "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
            "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "1",
            "PULUMI_SKIP_CONFIRMATIONS": "true",
            "NO_COLOR": "1",
        }
    )
    for leak in ("KUBECONFIG", "PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE_FILE"):
        env.pop(leak, None)
    return env


def install_plugins(bin_dir: Path, env: dict[str, str]) -> None:
    """Put the locally built provider into the isolated PULUMI_HOME under the SDK's version."""
    run(
        [
            str(bin_dir / "pulumi"),
            "plugin",
            "install",
            "resource",
            "kubernetes",
            K8S_SDK_VERSION,
            "--file",
            str(bin_dir / "pulumi-resource-kubernetes"),
        ],
        env=env,
    )


def project_copy(dest: Path, state: Path) -> Path:
    """The Pulumi program in a temp folder, with its backend pointed at the test's state."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "__main__.py", dest / "__main__.py")
    for folder in PROGRAM_FOLDERS:
        shutil.copytree(ROOT / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__"))
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    project["backend"] = {"url": f"file://{state}"}
    project["runtime"]["options"]["virtualenv"] = str(ROOT / ".venv")
    (dest / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    return dest


@dataclass
class Stack:
    name: str
    workdir: Path
    env: dict[str, str]
    bin_dir: Path
    timings: dict[str, float] = field(default_factory=dict)

    def command(self, *args: str) -> list[str]:
        return [str(self.bin_dir / "pulumi"), *args, "--stack", self.name, "--non-interactive"]

    def pulumi(
        self, *args: str, check: bool = True, timeout: float = 900
    ) -> subprocess.CompletedProcess:
        command = self.command(*args)
        return run(command, env=self.env, cwd=self.workdir, check=check, timeout=timeout)

    def start(self, *args: str, **popen: Any) -> subprocess.Popen:
        """`pulumi <args>` in the background, for a test that acts while it runs."""
        return subprocess.Popen(self.command(*args), cwd=self.workdir, env=self.env, **popen)

    def timed(self, label: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
        proc = self.pulumi(*args, **kwargs)
        self.timings[label] = proc.seconds  # type: ignore[attr-defined]
        return proc

    def config(self, key: str, value: str, secret: bool = False, path: bool = False) -> None:
        args = ["config", "set", key, value]
        if secret:
            args.append("--secret")
        if path:
            args.append("--path")
        self.pulumi(*args)

    def outputs(self) -> dict:
        return json.loads(self.pulumi("stack", "output", "--json", "--show-secrets").stdout)


def create_stack(
    name: str, workdir: Path, env: dict[str, str], bin_dir: Path, config: dict[str, Any]
) -> Stack:
    run(
        [
            str(bin_dir / "pulumi"),
            "stack",
            "init",
            name,
            "--secrets-provider",
            "passphrase",
            "--non-interactive",
        ],
        env=env,
        cwd=workdir,
    )
    stack = Stack(name=name, workdir=workdir, env=env, bin_dir=bin_dir)
    # Plain settings go into the stack file the test owns; the secret goes through the CLI.
    stack_file = workdir / f"Pulumi.{name}.yaml"
    current = yaml.safe_load(stack_file.read_text()) or {}
    current.setdefault("config", {}).update(
        {f"icc-ollama:{key}": value for key, value in config.items()}
    )
    stack_file.write_text(yaml.safe_dump(current, sort_keys=False))
    stack.config("webuiSecretKey", TEST_SECRET_KEY, secret=True)
    stack.config("webuiAdminPassword", TEST_ADMIN_PASSWORD, secret=True)
    return stack
