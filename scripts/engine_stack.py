"""The real Pulumi CLI on a copy of the project, for the real-engine tier and `make bench`.

An isolated PULUMI_HOME with the locally built Kubernetes provider installed from a file, a
`file://` backend and a passphrase in temporary folders, plugin downloads off: nothing touches
the repository's Pulumi.<stack>.yaml files or the user's ~/.pulumi.

Used by scripts/bench.py and tests/e2e (tests may import scripts; scripts import no test module).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from kwok_cluster import ICC_NAMESPACE, ROOT, Cluster, run

PASSPHRASE = "e2e-test-passphrase"  # a test value; protects only throw-away test stacks
TEST_SECRET_KEY = "e" * 48  # a test value (>= 32 characters), never a real key
TEST_ADMIN_PASSWORD = "e2e-admin-" + "p" * 12  # likewise (>= 12 characters)
TEST_GRAFANA_PASSWORD = "e2e-grafana-" + "g" * 12  # likewise
K8S_SDK_VERSION = "4.32.0"  # pulumi-kubernetes in requirements.txt

# What the Pulumi program needs besides __main__.py (its code, payloads and dashboards).
PROGRAM_FOLDERS = ("components", "settings", "payloads", "dashboards")


def stack_settings(target: str, cluster: Cluster, monitoring: dict | None = None) -> dict:
    """A stack of `target` on the kwok cluster. Monitoring is off unless `monitoring` says how
    (scripts/standin_charts.py: the charts of the Helm repositories cannot be reached here)."""
    settings: dict[str, Any] = {
        "target": target,
        "kubeconfig": cluster.kubeconfig.read_text(),
        "kubeContext": cluster.context,
        # Only one model, so the rendered StatefulSets stay small; nothing is pulled here.
        "ollama": {"models": ["llama3.2:1b"]},
        "monitoring": monitoring or {"enabled": False},
    }
    if target == "icc":
        settings.update({"namespace": ICC_NAMESPACE, "createNamespace": False})
        # The pre-flight accepts only the ICC's API server: here it is the kwok control plane's.
        settings["iccApiServer"] = urlsplit(cluster.api_server()).netloc
    else:
        settings["otherLocalCluster"] = True  # kwok, not minikube (components/cluster.py)
    return settings


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
    # Plain settings go into the stack file the test owns; the secrets go through the CLI.
    stack_file = workdir / f"Pulumi.{name}.yaml"
    current = yaml.safe_load(stack_file.read_text()) or {}
    current.setdefault("config", {}).update(
        {f"icc-ollama:{key}": value for key, value in config.items()}
    )
    stack_file.write_text(yaml.safe_dump(current, sort_keys=False))
    stack.config("webuiSecretKey", TEST_SECRET_KEY, secret=True)
    stack.config("webuiAdminPassword", TEST_ADMIN_PASSWORD, secret=True)
    if (config.get("monitoring") or {}).get("enabled"):
        stack.config("grafanaAdminPassword", TEST_GRAFANA_PASSWORD, secret=True)
    return stack
