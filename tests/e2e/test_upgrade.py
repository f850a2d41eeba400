"""A stack deployed by the program before the typed classes sees no change after the switch.

Until c82b774 every Kubernetes object was a `KubeObject` (a raw `pulumi.CustomResource` under the
provider's type token with a plain manifest); since c3da749 they are `pulumi_kubernetes` classes.
This deploys each Kubernetes stack with the program as it was at c82b774 (`git archive` of that
commit, the same virtualenv), then runs the program as the switch left it (c3da749, likewise)
against that state on the real engine
and the real Kubernetes provider (v4.25.0, see scripts/e2e-tools.sh): `pulumi preview
--expect-no-changes`, then `pulumi up`, whose outputs must now carry what the cluster reported
(the ingress address the controller published, the Services' cluster IPs).

Both stacks switch on every kind the program makes: the Namespace with its adopting provider
(minikube), ServiceAccounts, ConfigMaps, Secrets, Services, StatefulSets, the HPA, the Ingress,
NetworkPolicies, and monitoring's Secret, ConfigMap and exporter Deployment (its two charts are
local stand-ins with no templates: only the program's own objects matter here).

Both programs are fixed commits, each run under mocks by its own tests/harness.py: later changes
alter objects and settings on purpose (backups replace the Open WebUI StatefulSet, the cluster
checks need keys the old program refuses), which is upgrade news of their own, not of the switch.
The resources whose wire inputs differ between the two programs under mocks may change in the
preview; every other one must not, and with none differing the preview must pass
`--expect-no-changes` as it stands.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
import yaml

from e2e_support import (
    PROGRAM_FOLDERS,
    ROOT,
    TEST_ADMIN_PASSWORD,
    TEST_SECRET_KEY,
    bound_volume,
    create_stack,
)

pytestmark = pytest.mark.e2e

BEFORE = "c82b774"  # the last main whose program registered its objects as KubeObject
AFTER = "c3da749"  # the switch to pulumi_kubernetes classes (branch typed, merged in 693a764)
NAMESPACES = {"icc": "wupgrade-default", "minikube": "upgrade-minikube"}
# The address the stand-in ingress controller publishes (a Minikube node's, as the addon does).
PUBLISHED = "192.168.49.2"
GRAFANA_PASSWORD = "e2e-grafana-" + "g" * 12  # a test value, like e2e_support's passwords


def program_at(commit: str, dest: Path, state: Path) -> Path:
    """The program as it was at `commit`, with the harness of that commit (tests/harness.py) and
    its backend pointed at the test's state."""
    known = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{commit}^{{commit}}"])
    assert known.returncode == 0, (
        f"commit {commit} is not in this clone's history; fetch it (git fetch --unshallow)"
    )
    files = ["__main__.py", "Pulumi.yaml", "tests/harness.py", *PROGRAM_FOLDERS]
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, *files],
        check=True,
        capture_output=True,
    ).stdout
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    project = yaml.safe_load((dest / "Pulumi.yaml").read_text())
    project["backend"] = {"url": f"file://{state}"}
    project["runtime"]["options"]["virtualenv"] = str(ROOT / ".venv")
    (dest / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    return dest


def stand_in_charts(folder: Path) -> dict[str, str]:
    """Local charts named as the real ones, without templates: Chart v4 renders nothing."""
    paths = {}
    for name, version in (("prometheus", "29.27.0"), ("grafana", "12.11.1")):
        chart = folder / name
        chart.mkdir(parents=True)
        chart_yaml = {"apiVersion": "v2", "name": name, "version": version}
        (chart / "Chart.yaml").write_text(yaml.safe_dump(chart_yaml))
        paths[name] = str(chart)
    return paths


def stack_settings(target: str, cluster, charts: dict[str, str]) -> dict:
    settings = {
        "target": target,
        "kubeconfig": cluster.kubeconfig.read_text(),
        "kubeContext": cluster.context,
        "namespace": NAMESPACES[target],
        "ollama": {"models": ["llama3.2:1b"], "autoscaling": {"enabled": True}},
        "ingress": {"enabled": True},
        "monitoring": {
            "enabled": True,
            "prometheus": {"chart": charts["prometheus"]},
            "grafana": {"chart": charts["grafana"]},
        },
    }
    if target == "icc":
        settings["createNamespace"] = False
        settings["ingress"]["host"] = "chat.wupgrade.example.org"
        settings["quota"] = {"gpu": 4}  # the HPA's GPUs must fit (the fake GPU node has 4)
    return settings


def prepare_cluster(cluster, target: str) -> None:
    namespace = NAMESPACES[target]
    storage_class = "rook-ceph-block" if target == "icc" else "standard"
    claims = [(f"models-ollama-{i}", "20Gi") for i in range(4)] + [("data-open-webui-0", "5Gi")]
    objects = [bound_volume(namespace, claim, storage_class, size) for claim, size in claims]
    if target == "icc":  # users cannot create namespaces there
        objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    cluster.apply(objects)


class IngressController(threading.Thread):
    """Publishes an address in the Open WebUI Ingress's status once it exists, as a controller
    does (Pulumi's Ingress await on Minikube waits for it)."""

    def __init__(self, cluster, namespace: str):
        super().__init__(daemon=True)
        self.cluster, self.namespace = cluster, namespace
        self.done = threading.Event()

    def run(self) -> None:
        status = {"status": {"loadBalancer": {"ingress": [{"ip": PUBLISHED}]}}}
        while not self.done.wait(1):
            found = self.cluster.kubectl(
                "get", "ingress", "open-webui", "-n", self.namespace, check=False
            )
            if found.returncode == 0:
                self.cluster.kubectl(
                    "patch", "ingress", "open-webui", "-n", self.namespace,
                    "--subresource=status", "--type=merge", "-p", json.dumps(status),
                )  # fmt: skip
                return


def mock_inputs(program: Path, stack: str, config: dict) -> dict[str, dict]:
    """What one version of the program sends for each resource, under the harness' mocks."""
    code = (
        "import json, sys\n"
        f"sys.path[:0] = [{str(program)!r}, {str(program / 'tests')!r}]\n"
        "import harness\n"
        f"config = json.loads({json.dumps(config)!r})\n"
        # Each harness runs the __main__.py of the folder it sits in (its ROOT).
        f"run = harness.run_program(config, stack={stack!r})\n"
        "print(json.dumps({f'{r.typ}::{r.name}': r.inputs for r in run.resources}))\n"
    )
    out = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        cwd=program,
        timeout=300,
    )
    assert out.returncode == 0, f"{program} under mocks:\n{out.stderr[-3000:]}"
    return json.loads(out.stdout.splitlines()[-1])


def differing(before: dict[str, dict], after: dict[str, dict]) -> set[str]:
    """`type::name` of each resource whose inputs differ, or that only one program makes."""
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}


def changed_steps(proc: subprocess.CompletedProcess) -> set[str]:
    """`type::name` of every step of a `--json` preview that is not `same`."""
    steps = json.loads(proc.stdout)["steps"]
    changed = set()
    for step in steps:
        if step["op"] == "same":
            continue
        *_, typ, name = step["urn"].split("::")
        changed.add(f"{typ.split('$')[-1]}::{name}")
    return changed


@pytest.mark.parametrize("target", ["icc", "minikube"])
def test_a_stack_deployed_before_the_typed_classes_sees_no_change(
    target, cluster, engine_env, e2e_tmp
):
    namespace = NAMESPACES[target]
    state = Path(engine_env["E2E_STATE_DIR"])
    prepare_cluster(cluster, target)
    settings = stack_settings(target, cluster, stand_in_charts(e2e_tmp / f"charts-{target}"))
    name = f"e2e-upgrade-{target}"

    # 1. The program before the switch deploys the stack.
    old = program_at(BEFORE, e2e_tmp / f"upgrade-old-{target}", state)
    stack = create_stack(name, old, engine_env, cluster.bin_dir, settings)
    stack.config("grafanaAdminPassword", GRAFANA_PASSWORD, secret=True)
    controller = IngressController(cluster, namespace)
    if target == "minikube":  # the ICC stack skips the await (ingress.skipAwait)
        controller.start()
    try:
        stack.timed("old up", "up", "--yes", "--skip-preview")
    finally:
        controller.done.set()

    # 2. The program after the switch, same stack (its config file moves along: salt, secrets).
    new = program_at(AFTER, e2e_tmp / f"upgrade-new-{target}", state)
    stack_file = f"Pulumi.{name}.yaml"
    (new / stack_file).write_text((old / stack_file).read_text())
    stack.workdir = new

    # The resources the two programs send differently (none, as the switch leaves it).
    secrets = {
        "webuiSecretKey": TEST_SECRET_KEY,
        "webuiAdminPassword": TEST_ADMIN_PASSWORD,
        "grafanaAdminPassword": GRAFANA_PASSWORD,
    }
    config = {**settings, **secrets}
    differ = differing(mock_inputs(old, name, config), mock_inputs(new, name, config))

    preview = stack.timed("new preview", "preview", "--json", "--expect-no-changes", check=False)
    changed = changed_steps(preview)
    assert changed <= differ, f"changed although sent as before: {sorted(changed - differ)}"
    if not differ:
        assert preview.returncode == 0, preview.stderr[-3000:]

    # 3. `up` with the program after the switch changes no object either, and exports what the
    # cluster reported for them (read from the state the old program's `up` left).
    strict = () if differ else ("--expect-no-changes",)
    stack.timed("new up", "up", "--yes", "--skip-preview", *strict)
    outputs = stack.outputs()
    services = cluster.get("services", namespace)["items"]
    cluster_ips = {
        s["metadata"]["name"]: s["spec"]["clusterIP"]
        for s in services
        if s["spec"].get("clusterIP") not in (None, "None")
    }
    assert outputs["serviceClusterIPs"] == cluster_ips
    if target == "minikube":
        assert outputs["ingressAddress"] == PUBLISHED
        assert outputs["ingressSteps"]["ingressHosts"].startswith(f'echo "{PUBLISHED} ')
    else:  # ingress.skipAwait: the ICC's controller may never publish one
        assert outputs["ingressAddress"].startswith("none published yet; see `kubectl")
    print(f"\n[{target}] seconds: " + ", ".join(f"{k}={v:.1f}" for k, v in stack.timings.items()))
    print(f"[{target}] resources sent differently under mocks: {sorted(differ) or 'none'}")
    sys.stdout.flush()
