"""`pulumi up` returns only once every Ollama replica is Ready, or fails at the configured timeout.

The Services no longer make `up` wait (components/kube.py); the StatefulSet's await must. Here
the replica cannot become Ready because the fake V100 node is cordoned, as when no GPU is free on
the ICC: the ICC replica requests a GPU and tolerates only that node's taint, so it stays Pending.
A replica whose models are still loading is the same case for the await: the pod exists and is
not Ready (kwok does not run probes, so the loader's readiness check cannot be simulated).

Provider versions: this tier runs 4.25.0, users 4.32.0. Both wait for ready replicas on create
and time out the same way; 4.26+ also compares `observedGeneration`, which matters for updates
(tests/e2e/test_engine.py's rollout step), not for the create checked here.

Cost in CI: about one minute for the timeout (ollama.rolloutTimeoutMinutes has a 1-minute floor)
plus a few `up`s.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from test_engine import endpoint_ips, pods, ready

from e2e_support import (
    CPU_NODE,
    GPU_NODE,
    claim_volumes,
    create_stack,
    project_copy,
    stack_settings,
)

NAMESPACE = "wwait-default"
TIMEOUT_MINUTES = 1


def ollama_pending(cluster) -> bool:
    replicas = pods(cluster, NAMESPACE, "ollama")
    return bool(replicas) and all(
        p["status"].get("phase") == "Pending" and not ready(p) for p in replicas
    )


def test_up_waits_for_ready_ollama_replicas(cluster, engine_env, e2e_tmp):
    cluster.apply(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
            *claim_volumes("icc", NAMESPACE),
        ]
    )
    settings = {
        **stack_settings("icc", cluster),
        "namespace": NAMESPACE,
        "ollama": {"models": ["llama3.2:1b"], "rolloutTimeoutMinutes": TIMEOUT_MINUTES},
    }
    workdir = project_copy(e2e_tmp / "project-wait", Path(engine_env["E2E_STATE_DIR"]))
    stack = create_stack("e2e-wait", workdir, engine_env, cluster.bin_dir, settings)
    try:
        cluster.kubectl("cordon", GPU_NODE)
        check_up_times_out(stack, cluster)
        check_up_returns_once_ready(stack, cluster)
    finally:
        cluster.kubectl("uncordon", GPU_NODE, check=False)
    stack.pulumi("destroy", "--yes", "--skip-preview")


def check_up_times_out(stack, cluster) -> None:
    """No GPU free: `up` keeps waiting, then fails after rolloutTimeoutMinutes, naming Ollama."""
    started = time.monotonic()
    proc = stack.pulumi("up", "--yes", "--skip-preview", check=False, timeout=300)
    elapsed = time.monotonic() - started
    print(f"\n[wait] up with the replica Pending failed after {elapsed:.1f}s")
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "'ollama' timed out waiting to be Ready" in proc.stdout, proc.stdout[-3000:]
    assert ollama_pending(cluster), pods(cluster, NAMESPACE, "ollama")
    # A lower bound, not a benchmark: the configured timeout ended the wait, nothing earlier.
    assert elapsed >= TIMEOUT_MINUTES * 60, f"`up` gave up after {elapsed:.0f}s"
    # Everything else did finish: only the replica without a GPU is missing.
    webui = pods(cluster, NAMESPACE, "open-webui")
    assert len(webui) == 1 and ready(webui[0]) and webui[0]["spec"]["nodeName"] == CPU_NODE


def check_up_returns_once_ready(stack, cluster) -> None:
    """`up` is still waiting while the replica is Pending; a GPU frees up; `up` succeeds."""
    up = stack.start(
        "up", "--yes", "--skip-preview", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        # Well past everything but the StatefulSet (Services, Secrets, Open WebUI take ~1 s).
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert up.poll() is None, f"`up` returned while Ollama was Pending:\n{up.stdout.read()}"
            assert ollama_pending(cluster), pods(cluster, NAMESPACE, "ollama")
            time.sleep(2)
        cluster.kubectl("uncordon", GPU_NODE)
        uncordoned = time.monotonic()
        output, _ = up.communicate(timeout=120)
        print(f"[wait] up returned {time.monotonic() - uncordoned:.1f}s after the GPU freed up")
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()
    assert up.returncode == 0, output[-3000:]
    replicas = pods(cluster, NAMESPACE, "ollama")
    assert len(replicas) == 1 and ready(replicas[0]) and replicas[0]["spec"]["nodeName"] == GPU_NODE
    assert len(endpoint_ips(cluster, NAMESPACE, "ollama")) == 1
