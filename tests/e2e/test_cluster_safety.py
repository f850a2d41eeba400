"""The cluster pre-flight with the real CLI, engine and Kubernetes provider (v4.25.0, D7) against
the kwok control plane: a stack changes only the cluster it names, and every case that would
point it elsewhere or at nothing stops before anything is created, with one line and its fix.

"Before anything is created" is checked on both sides: the stack's state holds no resource but
the stack itself, and the cluster holds none of the stack's objects. Each stack lives in a
project copy of its own (the session's backend, another stack name), with a kubeconfig of its
own where a case needs one, written next to it; the session's kubeconfig is never changed.

- icc against a second context (the same control plane under another address, as a second
  cluster looks from the kubeconfig) is refused in a preview and in `up`;
- a missing kubeconfig (KUBECONFIG=/nonexistent/config, as in the report), an unknown context
  and an API server that is not running (a kubeconfig naming a port where nothing listens: what
  a client sees of a stopped minikube) each stop `up` with one line and the fix; a preview goes
  on offline with the same line as a warning;
- a preview names the API server and context it will change, also when KUBECONFIG supplies the
  kubeconfig;
- minikube refuses an existing namespace without our labels; with createNamespace=false it is
  used as it is, without a Namespace resource;
- a cordoned GPU node, and a namespace quota without room for a GPU, each with a one-minute
  rollout timeout: `up` explains the Pending/Unschedulable replica, or the pod the StatefulSet
  controller could not create (the reason Kubernetes gives, what it means, the next command)
  before the provider's timeout error, and prints no service URL.

Cost: about one minute for the two rollout timeouts (run at once; the floor is one minute) plus
a dozen short runs.
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from e2e_support import (
    GPU_NODE,
    ROOT,
    claim_volumes,
    create_stack,
    project_copy,
    stack_settings,
)

sys.path.insert(0, str(ROOT))
from components.cluster_view import observe  # noqa: E402
from settings import parse_settings  # noqa: E402

pytestmark = pytest.mark.e2e

ICC_LINE_END = "(previewing without the cluster; `pulumi up` stops here)"


def kubeconfig_with(cluster, folder: Path, contexts: dict[str, str]) -> Path:
    """The session's kubeconfig plus contexts {name: server} that reuse its user and CA."""
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    context = next(c["context"] for c in config["contexts"] if c["name"] == cluster.context)
    base = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    for name, server in contexts.items():
        config["clusters"].append({"name": name, "cluster": {**base, "server": server}})
        config["contexts"].append({"name": name, "context": {**context, "cluster": name}})
    path = folder / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def new_stack(name: str, cluster, engine_env, e2e_tmp, **settings):
    workdir = project_copy(e2e_tmp / f"project-{name}", Path(engine_env["E2E_STATE_DIR"]))
    return create_stack(name, workdir, dict(engine_env), cluster.bin_dir, settings)


def resources_in_state(stack) -> list[str]:
    exported = json.loads(stack.pulumi("stack", "export").stdout)
    return [r["type"] for r in exported["deployment"].get("resources") or []]


def assert_refused(stack, line: str, cluster=None, namespace: str = "") -> str:
    """`up` fails with `line` as its one error line and has changed nothing."""
    proc = stack.pulumi("up", "--yes", "--skip-preview", check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    errors = [text for text in output.splitlines() if text.strip().startswith("error:")]
    assert any(line in text for text in errors), output[-3000:]
    assert set(resources_in_state(stack)) <= {"pulumi:pulumi:Stack"}, resources_in_state(stack)
    if cluster is not None:
        left = cluster.get("statefulsets,services,configmaps,secrets", namespace)["items"]
        assert [o for o in left if o["metadata"]["name"] != "kube-root-ca.crt"] == []
    return output


def assert_preview_goes_on(stack, line: str) -> None:
    proc = stack.pulumi("preview", check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert line in proc.stdout and ICC_LINE_END in proc.stdout, proc.stdout[-3000:]


def test_icc_refuses_a_second_context_before_any_change(cluster, engine_env, e2e_tmp):
    server = cluster.api_server()
    second = server.replace("127.0.0.1", "localhost")  # the same API server, another cluster
    folder = e2e_tmp / "safety-second"
    folder.mkdir()
    settings = {
        **stack_settings("icc", cluster),
        "kubeconfig": str(kubeconfig_with(cluster, folder, {"second": second})),
        "kubeContext": "second",
    }
    stack = new_stack("e2e-safety-second", cluster, engine_env, e2e_tmp, **settings)
    expected = f"the icc stack would change the cluster at {second} (context second, kubeconfig"
    proc = stack.pulumi("preview", check=False)
    assert proc.returncode != 0 and expected in proc.stdout, proc.stdout[-3000:]
    assert_refused(stack, expected, cluster, "we2e-default")


def test_missing_unknown_and_stopped_each_give_one_line_with_the_fix(cluster, engine_env, e2e_tmp):
    # No kubeconfig: KUBECONFIG names nothing (as in the report), no setting, no ~/.kube.
    home = e2e_tmp / "safety-home"
    home.mkdir()
    missing = new_stack(
        "e2e-safety-missing",
        cluster,
        engine_env,
        e2e_tmp,
        target="minikube",
        monitoring={"enabled": False},
        ollama={"models": ["llama3.2:1b"]},
    )
    missing.env.update(HOME=str(home), KUBECONFIG="/nonexistent/config")
    line = (
        "icc-ollama:kubeconfig: no kubeconfig at /nonexistent/config from KUBECONFIG; start it "
        "with `minikube start --cpus 4 --memory 12g --disk-size 40g --cni calico`"
    )
    assert_preview_goes_on(missing, line)
    assert_refused(missing, line)

    unknown = new_stack(
        "e2e-safety-unknown",
        cluster,
        engine_env,
        e2e_tmp,
        **{**stack_settings("icc", cluster), "kubeContext": "ghost"},
    )
    line = (
        f"icc-ollama:kubeContext (given: ghost): no such context; choose one with `pulumi "
        f"config set kubeContext <name>` (contexts there: {cluster.context})"
    )
    assert_refused(unknown, line)

    folder = e2e_tmp / "safety-stopped"
    folder.mkdir()
    stopped_server = f"https://127.0.0.1:{free_port()}"
    kubeconfig = kubeconfig_with(cluster, folder, {"stopped": stopped_server})
    stopped = new_stack(
        "e2e-safety-stopped",
        cluster,
        engine_env,
        e2e_tmp,
        **{
            **stack_settings("icc", cluster),
            "kubeconfig": str(kubeconfig),
            "kubeContext": "stopped",
            "iccApiServer": stopped_server,
        },
    )
    line = (
        f"icc-ollama: the API server at {stopped_server} (context stopped, kubeconfig "
        f"{kubeconfig}) does not answer (connection refused); connect to the HAW network or VPN "
        f"and check `kubectl cluster-info`"
    )
    assert_preview_goes_on(stopped, line)
    assert_refused(stopped, line, cluster, "we2e-default")


def test_a_preview_names_the_cluster_it_will_change(cluster, engine_env, e2e_tmp):
    settings = {
        key: value for key, value in stack_settings("icc", cluster).items() if key != "kubeconfig"
    }
    stack = new_stack("e2e-safety-shown", cluster, engine_env, e2e_tmp, **settings)
    stack.env["KUBECONFIG"] = str(cluster.kubeconfig)
    proc = stack.pulumi("preview")
    server = cluster.api_server()
    assert (
        f"icc stack: changes the cluster at {server} (context {cluster.context}, kubeconfig "
        f"{cluster.kubeconfig} from KUBECONFIG; checked: the ICC's API server"
    ) in proc.stdout, proc.stdout[-3000:]
    outputs = proc.stdout.split("Outputs:")[-1]
    assert "apiServer" in outputs and server in outputs, proc.stdout[-3000:]
    # What the look costs each run (the kubeconfig, one TLS request): a figure for the note.
    secrets = {"webuiSecretKey": "k" * 32, "webuiAdminPassword": "p" * 16}
    look = parse_settings(
        {**stack_settings("minikube", cluster), "namespace": "icc-probe-none", **secrets},
        frozenset(secrets),
    )
    seconds = []
    for _ in range(5):
        started = time.perf_counter()
        assert observe(look).status == 404  # the namespace is not there: asked and answered
        seconds.append(time.perf_counter() - started)
    print(f"\n[cluster] the pre-flight's look: {1000 * statistics.median(seconds):.0f} ms")


def test_minikube_refuses_a_namespace_that_is_not_ours(cluster, engine_env, e2e_tmp):
    namespace = "team-e2e"
    cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}])
    before = cluster.get("namespace", name=namespace)["metadata"].get("labels")
    settings = {**stack_settings("minikube", cluster), "namespace": namespace}
    stack = new_stack("e2e-safety-foreign", cluster, engine_env, e2e_tmp, **settings)
    line = f"icc-ollama:namespace (given: {namespace}): it exists and is not ours"
    proc = stack.pulumi("preview", check=False)
    assert proc.returncode != 0 and line in proc.stdout, proc.stdout[-3000:]
    assert_refused(stack, line, cluster, namespace)
    assert cluster.get("namespace", name=namespace)["metadata"].get("labels") == before

    stack.config("createNamespace", "false")  # share it: used as it is
    proc = stack.pulumi("preview")
    assert "kubernetes:core/v1:Namespace" not in proc.stdout, proc.stdout[-3000:]
    assert "kubernetes:apps/v1:StatefulSet" in proc.stdout


def waiting_stack(name: str, namespace: str, cluster, engine_env, e2e_tmp, *extra: dict):
    """An icc stack in a namespace of its own, with its claims' volumes and a 1-minute wait."""
    cluster.apply(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
            *claim_volumes("icc", namespace),
            *extra,
        ]
    )
    settings = {
        **stack_settings("icc", cluster),
        "namespace": namespace,
        "ollama": {"models": ["llama3.2:1b"], "rolloutTimeoutMinutes": 1},
    }
    return new_stack(name, cluster, engine_env, e2e_tmp, **settings)


def explained_before_timeout(output: str, first_line: str) -> None:
    """The watch's block came while `up` still waited (a live `up` prints a message's first
    line at once), and no URL claims a service that is not up."""
    explained, timed_out = output.find(first_line), output.find("timed out waiting to be Ready")
    assert explained != -1 and timed_out != -1, output[-4000:]
    assert explained < timed_out, output[-4000:]
    assert "openWebUIUrl" not in output and "ollamaUrl" not in output, output[-2000:]


def test_a_waiting_rollout_is_explained_before_the_timeout(cluster, engine_env, e2e_tmp):
    """Two stacks wait at once (one minute each, the timeout's floor): one for a GPU on the
    cordoned V100 node (the pod is Pending, Unschedulable), one in a namespace whose quota allows
    no GPU (the StatefulSet controller cannot create the pod at all)."""
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "no-gpu", "namespace": "wquota-default"},
        "spec": {"hard": {"requests.nvidia.com/gpu": "0"}},
    }
    pending = waiting_stack("e2e-safety-pending", "wsafe-default", cluster, engine_env, e2e_tmp)
    full = waiting_stack("e2e-safety-quota", "wquota-default", cluster, engine_env, e2e_tmp, quota)
    cluster.kubectl("cordon", GPU_NODE)
    runs = [
        stack.start("up", "--yes", "--skip-preview", stdout=subprocess.PIPE, text=True)
        for stack in (pending, full)
    ]
    try:
        outputs = [run.communicate(timeout=400)[0] for run in runs]
    finally:
        cluster.kubectl("uncordon", GPU_NODE, check=False)
        for run in runs:
            if run.poll() is None:
                run.kill()
    try:
        assert [run.returncode for run in runs] != [0, 0], outputs
        output = outputs[0]
        explained_before_timeout(
            output, "ollama-0: Pending, Unschedulable: 0/2 nodes are available"
        )
        assert "means: no node has a free GPU (nvidia.com/gpu)" in output, output[-4000:]
        kubectl = f"kubectl --context {cluster.context} -n wsafe-default"
        assert f"look further: {kubectl} describe pod ollama-0" in output, output[-4000:]

        output = outputs[1]
        explained_before_timeout(output, "ollama: 1 of 1 pods not created: ")
        assert "exceeded quota: no-gpu" in output, output[-4000:]
        assert "means: the namespace's quota has no room for it" in output, output[-4000:]
        kubectl = f"kubectl --context {cluster.context} -n wquota-default"
        assert f"look further: {kubectl} describe statefulset ollama" in output, output[-4000:]
    finally:
        for stack, namespace in ((pending, "wsafe-default"), (full, "wquota-default")):
            stack.pulumi("destroy", "--yes", "--skip-preview", check=False)
            cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
