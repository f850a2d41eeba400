"""An interrupted first `pulumi up` recovers with one run of scripts/recover.py + `pulumi up`.

Real CLI, real provider process and a real control plane (see test_engine.py). Each scenario
gets its own stack and its own ICC-style namespace (`wrec<n>-default`, made beforehand, with
pre-bound volumes for its two claims), so no scenario sees another's objects.

1. `pulumi up` runs with `--event-log` (the engine's event stream, one JSON object per line, as
   the Automation API reads it). When the step named by a kill point starts or ends, the whole
   process group (CLI, language host, provider) gets SIGKILL: what a closed laptop does.
   Where a step could finish before the kill lands, the test keeps it running: no GPU free
   (the GPU node cordoned) during the StatefulSet rollout, no token for one ServiceAccount.
2. What the kill left is recorded: the lock file, the pending operations, the claims' uids.
   At one point a pending object is then deleted, as if its create had never reached the API
   server, so the "drop" path (forget it, `up` makes it) runs too, not only adoption. That
   object is a ServiceAccount whose token the stand-in holds back (token_references.py), so its
   create is certainly still pending at the kill, however fast the rest of `up` runs.
3. `scripts/recover.py <stack>` (what `make up` runs before `pulumi up`), then one `pulumi up`:
   it must converge, `pulumi preview --expect-no-changes` must be clean, and every claim that
   existed at the kill is still the same object (same uid).

A second test stops the kube-apiserver process (SIGSTOP, 10 s, SIGCONT) while `up` creates
objects: `up` either rides it out or fails naming the cause, and the next recover + `up`
converges. Such a stop can make kube-scheduler lose its leader lease and exit; the test
restarts whatever exited, as systemd or a kubelet would on a real control plane.

The figures (kill points tried, pending operations found, adopted/dropped, converged with one
command) are printed for the closing note.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_engine import assert_live_objects, claim_uids, stack_settings

from e2e_support import (
    GPU_NODE,
    ROOT,
    LegacyTokenReferences,
    bound_volume,
    create_stack,
    project_copy,
    run,
)

pytestmark = pytest.mark.e2e

RECOVER = ROOT / "scripts" / "recover.py"
# The icc defaults: models, chats, and the chats' snapshots.
CLAIMS = (
    ("models-ollama-0", "20Gi"),
    ("data-open-webui-0", "5Gi"),
    ("backups-open-webui-0", "5Gi"),
)


@dataclass(frozen=True)
class KillPoint:
    """Kill when the engine reports `event` for the first step of `type_token` (and `name`), then
    optionally after `until(cluster, namespace)` holds, so the object is known to exist."""

    label: str
    event: str  # resourcePreEvent (step started) | resOutputsEvent (step done)
    type_token: str
    name: str | None = None
    until: Callable | None = None
    # Cordon the GPU node until the kill, as when no GPU is free on the ICC: Ollama stays Pending
    # (its claim is made all the same), so the StatefulSet's await is surely still running.
    no_gpu_free: bool = False
    # Keep the named ServiceAccount's create pending (no token reference until after the kill),
    # then delete it, as if its create had never reached the API server: recover must drop it
    # (not adopt it) and `up` must make it again.
    lose_it: bool = False


def has(kind: str, name: str) -> Callable:
    def check(cluster, namespace: str) -> bool:
        return (
            cluster.kubectl(
                "get", kind, name, "-n", namespace, "--ignore-not-found", "-o", "name"
            ).stdout.strip()
            != ""
        )

    return check


KILL_POINTS = [
    # The case: the Service objects exist, the engine is still awaiting them.
    KillPoint(
        "during the Services",
        "resourcePreEvent",
        "kubernetes:core/v1:Service",
        name="ollama-service",
        until=has("service", "ollama"),
    ),
    # The StatefulSet exists and its controller made the claim; the rollout await is running.
    KillPoint(
        "during the StatefulSet rollout",
        "resourcePreEvent",
        "kubernetes:apps/v1:StatefulSet",
        name="ollama",
        until=has("pvc", "models-ollama-0"),
        no_gpu_free=True,
    ),
    KillPoint(
        "while a ServiceAccount awaits its token",
        "resourcePreEvent",
        "kubernetes:core/v1:ServiceAccount",
        name="ollama-sa",
        until=has("serviceaccount", "ollama"),
        lose_it=True,
    ),
]


def volumes(namespace: str) -> list[dict]:
    """One pre-bound PV per claim of the namespace."""
    return [bound_volume(namespace, claim, "rook-ceph-block", size) for claim, size in CLAIMS]


@pytest.fixture(scope="module")
def namespaces(cluster):
    """Namespaces for the scenarios, with their volumes."""
    names = [f"wrec{i}-default" for i in range(len(KILL_POINTS) + 1)]
    cluster.apply(
        [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in names]
    )
    cluster.apply([pv for n in names for pv in volumes(n)])
    return names


@pytest.fixture(scope="module")
def tokens(cluster, namespaces):
    """The token stand-in for the scenarios' namespaces (see conftest)."""
    with LegacyTokenReferences(cluster, tuple(namespaces)) as stand_in:
        yield stand_in


def free_gpu(cluster, namespace: str) -> None:
    """Each scenario's Ollama pod holds one of the fake node's four GPUs: give it back."""
    cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def new_stack(label: str, namespace: str, cluster, engine_env, e2e_tmp):
    state = Path(engine_env["E2E_STATE_DIR"])
    workdir = project_copy(e2e_tmp / f"project-{label}", state)
    settings = {**stack_settings("icc", cluster), "namespace": namespace}
    env = {**engine_env, "PULUMI_DEBUG_COMMANDS": "true"}  # enables --event-log
    return create_stack(label, workdir, env, cluster.bin_dir, settings)


def start_up(stack, event_log: Path) -> subprocess.Popen:
    """`pulumi up` in its own process group (CLI, language host, provider), output to up.log."""
    with open(stack.workdir / "up.log", "w") as log:
        return stack.start(
            "up",
            "--yes",
            "--skip-preview",
            "--event-log",
            str(event_log),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def up_output(stack) -> str:
    return (stack.workdir / "up.log").read_text()


def events(event_log: Path) -> list[dict]:
    if not event_log.exists():
        return []
    found = []
    for line in event_log.read_text().splitlines():
        try:
            found.append(json.loads(line))
        except json.JSONDecodeError:
            break  # the line being written
    return found


def matches(event: dict, point: KillPoint) -> bool:
    metadata = (event.get(point.event) or {}).get("metadata") or {}
    if metadata.get("type") != point.type_token or metadata.get("op") != "create":
        return False
    return point.name is None or metadata.get("urn", "").endswith(f"::{point.name}")


def wait_for_event(
    proc: subprocess.Popen, stack, event_log: Path, point: KillPoint, timeout: float = 300
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(matches(e, point) for e in events(event_log)):
            return
        if proc.poll() is not None:
            raise AssertionError(
                f"`up` ended (rc {proc.returncode}) before {point.label}:\n"
                f"{up_output(stack)[-4000:]}"
            )
        time.sleep(0.05)
    raise AssertionError(f"no {point.event} for {point.type_token} within {timeout}s")


def session_members(session: int) -> list[int]:
    """Pids whose session is `session` (/proc/<pid>/stat field 6)."""
    members = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if entry.name.isdigit() and int(fields[3]) == session:
            members.append(int(entry.name))
    return members


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL to everything `up` started: the CLI puts each provider plugin into a process group
    of its own, so killing the CLI's group would leave the providers running."""
    for pid in session_members(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=30)


def lock_files(engine_env, stack) -> list[Path]:
    folder = (
        Path(engine_env["E2E_STATE_DIR"])
        / ".pulumi"
        / "locks"
        / "organization"
        / "icc-ollama"
        / stack.name
    )
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def pending_operations(stack) -> list[dict]:
    state = json.loads(stack.pulumi("stack", "export").stdout)
    return state["deployment"].get("pending_operations") or []


def pending(stack) -> list[tuple[str, str]]:
    return [
        (op["type"], op["resource"]["urn"].rsplit("::", 1)[-1]) for op in pending_operations(stack)
    ]


def lose_pending_object(stack, cluster, namespace: str, logical_name: str) -> str:
    """Deletes the object of the pending create of `logical_name` from the cluster."""
    for op in pending_operations(stack):
        if op["type"] == "creating" and op["resource"]["urn"].endswith(f"::{logical_name}"):
            kind = op["resource"]["type"].rsplit(":", 1)[-1]
            name = op["resource"]["inputs"]["metadata"]["name"]
            cluster.kubectl("delete", kind.lower(), name, "-n", namespace, "--wait=true")
            return f'{kind} "{name}"'
    raise AssertionError(f"no pending create of {logical_name}: {pending(stack)}")


def recover(stack) -> subprocess.CompletedProcess:
    """What `make up` runs before `pulumi up` (scripts/up.sh)."""
    return run([sys.executable, str(RECOVER), stack.name], env=stack.env, cwd=stack.workdir)


def converge(stack, cluster, namespace: str, claims_before: dict[str, str]) -> None:
    stack.timed("up-after-recover", "up", "--yes", "--skip-preview")
    stack.timed("preview-no-changes", "preview", "--expect-no-changes")
    assert_live_objects(cluster, "icc", namespace)
    after = claim_uids(cluster, namespace)
    assert {name: after.get(name) for name in claims_before} == claims_before, (
        "a claim that existed at the kill was replaced"
    )


FIGURES: list[str] = []


@pytest.mark.parametrize(
    "index", range(len(KILL_POINTS)), ids=[p.label.replace(" ", "-") for p in KILL_POINTS]
)
def test_killed_first_up_recovers_with_one_command(
    index, cluster, engine_env, e2e_tmp, namespaces, tokens
):
    point, namespace = KILL_POINTS[index], namespaces[index]
    stack = new_stack(f"rec-kill{index}", namespace, cluster, engine_env, e2e_tmp)
    if point.lose_it:
        tokens.hold(namespace)
    if point.no_gpu_free:
        cluster.kubectl("cordon", GPU_NODE)
    try:
        kill_recover_converge(point, stack, cluster, engine_env, namespace, tokens)
    finally:
        if point.no_gpu_free:
            cluster.kubectl("uncordon", GPU_NODE, check=False)
        tokens.release(namespace)  # when the test stopped before it did
        free_gpu(cluster, namespace)


def kill_recover_converge(
    point: KillPoint, stack, cluster, engine_env, namespace: str, tokens
) -> None:
    event_log = stack.workdir / "events.jsonl"

    proc = start_up(stack, event_log)
    try:
        wait_for_event(proc, stack, event_log, point)
        if point.until is not None:
            cluster.wait_for(
                f"{point.label}: object in the cluster",
                lambda: point.until(cluster, namespace),
                timeout=120,
                interval=0.2,
            )
    finally:
        if proc.poll() is None:
            kill_group(proc)
        if point.no_gpu_free:
            cluster.kubectl("uncordon", GPU_NODE)
    assert proc.returncode == -signal.SIGKILL, f"`up` ended by itself before {point.label}"

    # What the interrupted run left: the starting point.
    assert lock_files(engine_env, stack), "SIGKILL leaves the stack lock behind"
    left = pending(stack)
    claims_at_kill = claim_uids(cluster, namespace)
    blocked = stack.pulumi("up", "--yes", "--skip-preview", check=False)
    assert blocked.returncode != 0 and "locked" in blocked.stdout + blocked.stderr
    lost = None
    if point.lose_it:
        assert point.name is not None
        lost = lose_pending_object(stack, cluster, namespace, point.name)
        tokens.release(namespace)  # so that `up` can make it again

    recovered = recover(stack)
    print(recovered.stdout)
    assert "removed the stale lock" in recovered.stdout
    if lost:
        assert f"{lost} in namespace {namespace}: its create never finished" in recovered.stdout
    assert not lock_files(engine_env, stack)
    assert pending(stack) == [], "recover leaves no pending operation behind"
    converge(stack, cluster, namespace, claims_at_kill)

    adopted = recovered.stdout.count("taken into the state")
    dropped = recovered.stdout.count("`up` creates it")
    FIGURES.append(
        f"{point.label}: pending at kill {left}; adopted {adopted}, dropped {dropped}"
        f"{f' (deleted {lost} after the kill)' if lost else ''};"
        f" claims kept {sorted(claims_at_kill)}; converged with one recover + up"
    )
    print(
        f"\n[recovery] {FIGURES[-1]}; seconds: "
        + ", ".join(f"{k}={v:.1f}" for k, v in stack.timings.items())
    )


class ControlPlane:
    """The kwokctl cluster's host processes, by the pid files kwokctl keeps in its workdir."""

    RESTARTABLE = ("kube-controller-manager", "kube-scheduler", "kwok-controller")

    def __init__(self, cluster):
        self.folder = cluster.workdir / "clusters" / cluster.name
        self.argv = {name: self._cmdline(self.pid(name)) for name in self.RESTARTABLE}
        self.restarted: list[str] = []

    def pid(self, component: str) -> int:
        return int((self.folder / "pids" / f"{component}.pid").read_text().strip())

    @staticmethod
    def _cmdline(pid: int) -> list[str]:
        return [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]

    def supervise(self) -> None:
        """Restart a component that exited, as systemd or a kubelet would: after a 10 s stop of
        the API server, kube-scheduler exits with "Leaderelection lost" (lease renewal fails)."""
        for name, argv in self.argv.items():
            if Path(f"/proc/{self.pid(name)}").exists():
                continue
            with open(self.folder / "logs" / f"{name}.log", "a") as log:
                started = subprocess.Popen(
                    argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            # kwokctl stops the cluster by these pid files: the new process must be in there.
            (self.folder / "pids" / f"{name}.pid").write_text(str(started.pid))
            self.restarted.append(name)


def test_apiserver_stopped_during_up_then_next_up_converges(
    cluster, engine_env, e2e_tmp, namespaces, tokens
):
    namespace = namespaces[-1]
    stack = new_stack("rec-apiserver", namespace, cluster, engine_env, e2e_tmp)
    try:
        stop_apiserver_during_up(stack, cluster, namespace)
    finally:
        free_gpu(cluster, namespace)


def stop_apiserver_during_up(stack, cluster, namespace: str) -> None:
    event_log = stack.workdir / "events.jsonl"
    control_plane = ControlPlane(cluster)
    pid = control_plane.pid("kube-apiserver")

    proc = start_up(stack, event_log)
    try:
        first_service = KillPoint(
            "the first Service", "resourcePreEvent", "kubernetes:core/v1:Service"
        )
        wait_for_event(proc, stack, event_log, first_service)
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(10)
        finally:
            os.kill(pid, signal.SIGCONT)
        deadline = time.monotonic() + 900
        while proc.poll() is None and time.monotonic() < deadline:
            control_plane.supervise()
            time.sleep(1)
    finally:
        if proc.poll() is None:
            kill_group(proc)
    output = up_output(stack)
    if proc.returncode != 0:
        # A failure must say what went wrong (the API server), not only that something failed.
        assert any(
            word in output
            for word in ("timeout", "timed out", "connection", "EOF", "deadline", "refused")
        ), output[-4000:]
    control_plane.supervise()
    recovered = recover(stack)
    converge(stack, cluster, namespace, claim_uids(cluster, namespace))
    FIGURES.append(
        f"apiserver stopped 10 s during up: first up rc {proc.returncode}; "
        f"restarted after it: {control_plane.restarted or 'nothing'}; recover: "
        f"{recovered.stdout.strip() or 'nothing to do'}; next up converged"
    )
    print(f"\n[recovery] {FIGURES[-1]}\n[recovery] all: " + " | ".join(FIGURES))
