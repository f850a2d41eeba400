#!/usr/bin/env python3
"""Recover a stack from an interrupted `pulumi up` / `pulumi destroy`, then say what was done.

`make up`, `make preview` and `make destroy` run this first (scripts/up.sh). It is safe to run at
any time: with nothing interrupted it changes nothing and prints nothing.

An interrupted run (SIGKILL, a closed laptop, Ctrl-C twice) leaves two things behind:

1. The lock file of the file:// backend, `<backend>/.pulumi/locks/<org>/<project>/<stack>/<id>.json`
   holding `{"pid", "username", "hostname", "timestamp"}` (pulumi pkg/backend/diy/lock.go,
   lockContent). Pulumi never clears it by itself, and `pulumi cancel` deletes every lock of the
   stack, also one held by a running `pulumi up`. Here a lock is removed only when it was taken on
   this machine by a process that no longer runs; any other lock stops with its holder named.
2. Pending creates in the state: objects whose create call was sent but whose answer never got
   recorded. The next `up` would create them again and fail with "already exists";
   `pulumi refresh --clear-pending-creates` only forgets them (the same failure follows). Each
   pending create is looked up by the name the program gave it:
   - not there: the pending create is dropped (the next `up` creates it);
   - there, and carrying this project's labels (app.kubernetes.io/part-of=icc-ollama and
     managed-by=pulumi; objects rendered from a Helm chart instead: first written by a Pulumi
     provider; on Kubernetes in the namespace the stack deploys to): it is adopted. The
     pending entry moves into the state's resources with the object's id (Kubernetes
     `namespace/name`, Docker container/network id) and the inputs the program sent when it
     created it, then `pulumi refresh --target` reads its live outputs. Because the recorded
     inputs are exactly the program's, the next `up` sees no change (no patch, no replace);
   - there without those labels: somebody else's object. Nothing is changed; the run stops and
     names the object and the two ways out.
   Pending updates and deletes need no help: `pulumi up` redoes them (since Pulumi 3.29), and
   `pulumi stack import` (used here) clears them with a warning.

Why not `pulumi refresh --import-pending-creates <urn> <id>`: in the CLI 3.259.0 it marks the
operation "importing", and the refresh then keeps only pending *creates* from its base snapshot
(pulumi pkg/backend/journal.go, GenerateDeployment), so the object is dropped, not adopted. Why
not `pulumi import`: it needs each object's parent and provider spelled out, marks it protected
unless told otherwise, and reads the inputs back from the live object (defaults filled in), so the
next `up` may update what it adopted, or replace an object whose immutable fields then differ
(a StatefulSet's volumeClaimTemplates). Why not the provider option `upsertExistingObjects`
(pulumi-kubernetes >= 4.20): it adopts any object of that name, also one we did not create, with
no message, and it does not exist for Docker.

Usage: scripts/recover.py <stack> [up|destroy|preview] [--dry-run] [--config-file F]
Stdlib only; needs `pulumi` on PATH, and `kubectl` or `docker` only when a pending create has to
be looked up.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlparse

PART_OF = "icc-ollama"  # components/kube.py PART_OF: the labels every object of ours carries
OWNED_LABELS = {"app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": "pulumi"}
# Creating these twice is harmless (a pull, an existing volume is returned): never a conflict.
DOCKER_IDEMPOTENT = ("docker:index/remoteImage:RemoteImage", "docker:index/volume:Volume")
DOCKER_LOOKUP = {
    "docker:index/container:Container": "container",
    "docker:index/network:Network": "network",
}
# A lock younger than this whose pid runs is someone's live `pulumi up`; pid reuse is caught by
# the process start time (a process started after the lock was written cannot hold it).
CLOCK_SLACK = timedelta(seconds=2)


# --------------------------------------------------------------------------- the plan (pure)


@dataclass(frozen=True)
class Lock:
    path: str
    pid: int
    username: str
    hostname: str
    timestamp: datetime | None


@dataclass(frozen=True)
class Process:
    """What this machine knows about a pid: running or not, and since when."""

    running: bool
    started: datetime | None = None


@dataclass(frozen=True)
class PendingCreate:
    urn: str
    type: str
    name: str  # the object's own name (Kubernetes metadata.name, Docker name)
    namespace: str | None  # Kubernetes only; None for cluster-scoped kinds and Docker


@dataclass(frozen=True)
class Live:
    """An object found under a pending create's name; `managers` are the field managers that
    wrote it (Kubernetes managedFields, oldest first), empty for Docker."""

    id: str
    labels: dict
    managers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    kind: str  # remove-lock | adopt | drop | stop
    target: str  # lock path or URN
    say: str  # one line for the user
    id: str = ""  # adopt: the provider id


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return any(step.kind == "stop" for step in self.steps)

    def of(self, kind: str) -> list[Step]:
        return [step for step in self.steps if step.kind == kind]


def parse_lock(path: str, text: str) -> Lock:
    data = json.loads(text)
    return Lock(
        path=path,
        pid=int(data.get("pid", 0)),
        username=str(data.get("username", "")),
        hostname=str(data.get("hostname", "")),
        timestamp=parse_go_time(data.get("timestamp", "")),
    )


def parse_go_time(value: str) -> datetime | None:
    """Go's RFC 3339 with nanoseconds (`2026-11-23T16:01:02.123456789+01:00` or `...Z`)."""
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", value or "")
    if not match:
        return None
    fraction = (match.group(2) or ".0")[:7]
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.fromisoformat(match.group(1) + fraction + zone)


def lock_step(lock: Lock, this_host: str, process: Process) -> Step:
    holder = (
        f"{lock.username}@{lock.hostname} (pid {lock.pid}, since "
        f"{lock.timestamp.isoformat(timespec='seconds') if lock.timestamp else '?'})"
    )
    if lock.hostname != this_host:
        return Step(
            "stop",
            lock.path,
            f"the stack is locked by {holder}, another machine: this script cannot see "
            f"whether that run is still going. If it is not, clear the lock with "
            f"`pulumi cancel` and run this again.",
        )
    reused = (
        process.running
        and process.started is not None
        and lock.timestamp is not None
        and process.started > lock.timestamp + CLOCK_SLACK
    )
    if process.running and not reused:
        return Step(
            "stop",
            lock.path,
            f"the stack is locked by a running Pulumi process, {holder}: wait for it to "
            f"finish (or stop it), then run this again.",
        )
    return Step(
        "remove-lock",
        lock.path,
        f"removed the stale lock of an interrupted run by {holder}: that process is gone",
    )


def pending_creates(state: dict) -> list[PendingCreate]:
    """The pending creates of a `pulumi stack export` document, with the names they create."""
    found = []
    deployment = state.get("deployment") or {}
    providers = {
        r["urn"]: r
        for r in deployment.get("resources") or []
        if r.get("type", "").startswith("pulumi:providers:")
    }
    for op in deployment.get("pending_operations") or []:
        resource = op.get("resource") or {}
        if op.get("type") != "creating" or not resource.get("custom", False):
            continue
        inputs = resource.get("inputs") or {}
        name, namespace = object_name(resource.get("type", ""), inputs)
        if namespace is None and is_namespaced(resource.get("type", "")):
            provider = providers.get(resource.get("provider", "").rsplit("::", 1)[0], {})
            namespace = (provider.get("inputs") or {}).get("namespace") or "default"
        found.append(PendingCreate(resource["urn"], resource.get("type", ""), name, namespace))
    return found


def object_name(type_token: str, inputs: dict) -> tuple[str, str | None]:
    if type_token.startswith("kubernetes:"):
        metadata = inputs.get("metadata") or {}
        return str(metadata.get("name", "")), metadata.get("namespace")
    return str(inputs.get("name", "")), None


CLUSTER_SCOPED = {
    "Namespace",
    "PersistentVolume",
    "StorageClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PriorityClass",
    "IngressClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
}


def is_namespaced(type_token: str) -> bool:
    kind = type_token.rsplit(":", 1)[-1]
    return type_token.startswith("kubernetes:") and kind not in CLUSTER_SCOPED


def owned(live: Live) -> bool:
    """Made by this project: its labels, or, for objects rendered from a Helm chart (their
    labels say managed-by: Helm), written first by a Pulumi Kubernetes provider (field manager
    `pulumi-kubernetes-*` with server-side apply, `pulumi-resource-kubernetes` before)."""
    if all(live.labels.get(key) == value for key, value in OWNED_LABELS.items()):
        return True
    from_chart = live.labels.get("app.kubernetes.io/managed-by") == "Helm"
    return from_chart and bool(live.managers) and live.managers[0].startswith("pulumi")


def pending_step(pending: PendingCreate, live: Live | None, namespace: str | None) -> Step:
    """What to do with one pending create, given what exists under its name."""
    what = describe(pending)
    if pending.type.startswith("pulumi:providers:"):
        return Step("drop", pending.urn, f"{pending.urn}: a provider; `up` makes it again")
    if not pending.name:
        return Step(
            "stop",
            pending.urn,
            f"{pending.urn} was being created when the run stopped, and its name is not "
            f"in the state: check by hand, then `pulumi refresh --clear-pending-creates`.",
        )
    if live is None or pending.type in DOCKER_IDEMPOTENT:
        return Step("drop", pending.urn, f"{what}: its create never finished; `up` creates it")
    in_our_namespace = namespace is None or pending.namespace in (None, namespace)
    if owned(live) and in_our_namespace:
        return Step(
            "adopt",
            pending.urn,
            f"{what}: created by the interrupted run; taken into the state as {live.id}",
            id=live.id,
        )
    return Step(
        "stop",
        pending.urn,
        f"{what} already exists but was not made by this project (it lacks the labels "
        f"{', '.join(f'{k}={v}' for k, v in OWNED_LABELS.items())}). Either remove it "
        f"({removal_hint(pending)}) or deploy to another "
        f"{'namespace (config key namespace)' if pending.namespace else 'name'}; "
        f"nothing was changed.",
    )


def describe(pending: PendingCreate) -> str:
    kind = pending.type.rsplit(":", 1)[-1]
    where = f" in namespace {pending.namespace}" if pending.namespace else ""
    return f'{kind} "{pending.name}"{where}'


def removal_hint(pending: PendingCreate) -> str:
    kind = pending.type.rsplit(":", 1)[-1].lower()
    if pending.type.startswith("kubernetes:"):
        scope = f" -n {pending.namespace}" if pending.namespace else ""
        return f"kubectl delete {kind} {pending.name}{scope}"
    return f"docker {kind} rm {pending.name}"


def plan(
    locks: list[tuple[Lock, Process]],
    this_host: str,
    pending: list[PendingCreate],
    live: dict[str, Live | None],
    namespace: str | None,
) -> Plan:
    steps = [lock_step(lock, this_host, process) for lock, process in locks]
    steps += [pending_step(p, live.get(p.urn), namespace) for p in pending]
    return Plan(steps)


def apply_to_state(state: dict, steps: list[Step]) -> dict:
    """The exported state with adopted creates moved into `resources` and dropped ones gone.

    Appending keeps the resource list in dependency order: a resource whose create was still
    pending cannot be the parent or dependency of any recorded resource (dependents wait).
    """
    decided = {step.target: step for step in steps if step.kind in ("adopt", "drop")}
    new_state = json.loads(json.dumps(state))
    deployment = new_state["deployment"]
    kept, adopted = [], []
    for op in deployment.get("pending_operations") or []:
        step = decided.get((op.get("resource") or {}).get("urn", ""))
        if op.get("type") != "creating" or step is None:
            kept.append(op)
        elif step.kind == "adopt":
            adopted.append({**op["resource"], "id": step.id})
    deployment["resources"] = list(deployment.get("resources") or []) + adopted
    deployment["pending_operations"] = kept
    return new_state


# --------------------------------------------------------------------------- this machine


def process_facts(pid: int) -> Process:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return Process(running=False)
    except PermissionError:
        pass  # another user's process: it exists
    return Process(running=True, started=process_start(pid))


def process_start(pid: int) -> datetime | None:
    """Linux: /proc/<pid>/stat field 22 (clock ticks after boot) plus the boot time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), tz=timezone.utc)


def lock_files(backend_url: str, project: str, stack: str) -> list[Path]:
    """Lock files of a file:// backend (project mode and the legacy layout); none for others."""
    parsed = urlparse(backend_url)
    if parsed.scheme != "file":
        return []
    root = Path(os.path.expanduser(parsed.netloc + parsed.path)) / ".pulumi" / "locks"
    folders = [root / "organization" / project / stack, root / stack]
    return sorted(p for folder in folders if folder.is_dir() for p in folder.glob("*.json"))


def backend_url(project_file: Path) -> str:
    """PULUMI_BACKEND_URL wins over Pulumi.yaml's backend.url (pulumi pkg/workspace/creds.go)."""
    if os.environ.get("PULUMI_BACKEND_URL"):
        return os.environ["PULUMI_BACKEND_URL"]
    match = re.search(r"^backend:\s*\n\s+url:\s*(\S+)", project_file.read_text(), re.MULTILINE)
    return match.group(1).strip("'\"") if match else ""


def project_name(project_file: Path) -> str:
    match = re.search(r"^name:\s*(\S+)", project_file.read_text(), re.MULTILINE)
    return match.group(1).strip("'\"") if match else ""


class Pulumi:
    def __init__(self, stack: str, cwd: Path, config_file: str | None = None):
        self.stack, self.cwd = stack, cwd
        self.config_args = ["--config-file", config_file] if config_file else []

    def run(self, *args: str, input: str | None = None, check: bool = True) -> str:
        proc = subprocess.run(
            ["pulumi", *args, "--stack", self.stack, "--non-interactive"],
            cwd=self.cwd,
            input=input,
            capture_output=True,
            text=True,
        )
        if check and proc.returncode != 0:
            raise SystemExit(
                f"recover: `pulumi {' '.join(args)}` failed:\n{proc.stderr.strip()}"
                f"\n{proc.stdout.strip()[-2000:]}"
            )
        return proc.stdout

    def config(self, key: str) -> str | None:
        proc = subprocess.run(
            ["pulumi", "config", "get", key, "--stack", self.stack, *self.config_args],
            cwd=self.cwd,
            capture_output=True,
            text=True,
        )
        return proc.stdout.rstrip("\n") if proc.returncode == 0 else None


def kubectl_lookup(pulumi: Pulumi, scratch: Path) -> Callable[[PendingCreate], Live | None]:
    """Looks objects up with kubectl against the stack's own kubeconfig and context."""
    base = ["kubectl"]
    kubeconfig, context = pulumi.config("kubeconfig"), pulumi.config("kubeContext")
    if kubeconfig and "\n" in kubeconfig:  # the contents, not a path
        path = scratch / "kubeconfig"
        path.touch(mode=0o600)
        path.write_text(kubeconfig)
        base += ["--kubeconfig", str(path)]
    elif kubeconfig:
        base += ["--kubeconfig", os.path.expanduser(kubeconfig)]
    if context:
        base += ["--context", context]

    def lookup(pending: PendingCreate) -> Live | None:
        args = base + [
            "get",
            kubectl_kind(pending.type),
            pending.name,
            "-o",
            "json",
            "--ignore-not-found",
            "--show-managed-fields",
        ]
        if pending.namespace:
            args += ["-n", pending.namespace]
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"recover: cannot look up {describe(pending)}: {proc.stderr.strip()}")
        if not proc.stdout.strip():
            return None
        metadata = json.loads(proc.stdout)["metadata"]
        object_id = f"{pending.namespace}/{pending.name}" if pending.namespace else pending.name
        managers = tuple(entry.get("manager", "") for entry in metadata.get("managedFields") or [])
        return Live(id=object_id, labels=metadata.get("labels") or {}, managers=managers)

    return lookup


def kubectl_kind(type_token: str) -> str:
    """`kubernetes:apps/v1:StatefulSet` -> `statefulset.v1.apps`; core kinds need no group."""
    _, group_version, kind = type_token.split(":")
    group, version = group_version.split("/")
    return kind.lower() if group == "core" else f"{kind.lower()}.{version}.{group}"


def docker_lookup(host: str | None) -> Callable[[PendingCreate], Live | None]:
    env = {**os.environ, **({"DOCKER_HOST": host} if host else {})}

    def lookup(pending: PendingCreate) -> Live | None:
        kind = DOCKER_LOOKUP.get(pending.type)
        if kind is None:
            return None
        proc = subprocess.run(
            ["docker", kind, "inspect", pending.name], env=env, capture_output=True, text=True
        )
        if proc.returncode != 0:
            if "no such" in (proc.stderr + proc.stdout).lower() or "not found" in proc.stderr:
                return None
            raise SystemExit(f"recover: cannot look up {describe(pending)}: {proc.stderr.strip()}")
        found = json.loads(proc.stdout)[0]
        labels = found.get("Labels") or (found.get("Config") or {}).get("Labels") or {}
        return Live(id=found["Id"], labels=labels)

    return lookup


def look_up(
    pending: list[PendingCreate], state: dict, pulumi: Pulumi, scratch: Path
) -> dict[str, Live | None]:
    """The live object under each pending create's name (kubectl or docker, only if needed)."""
    wanted = [
        p
        for p in pending
        if p.name and p.type not in DOCKER_IDEMPOTENT and not p.type.startswith("pulumi:providers:")
    ]
    if not wanted:
        return {}
    kubernetes = (
        kubectl_lookup(pulumi, scratch)
        if any(p.type.startswith("kubernetes:") for p in wanted)
        else None
    )
    docker = docker_lookup(provider_input(state, "pulumi:providers:docker", "host"))
    return {
        p.urn: (kubernetes if kubernetes and p.type.startswith("kubernetes:") else docker)(p)
        for p in wanted
    }


def provider_input(state: dict, provider_type: str, key: str) -> str | None:
    for resource in (state.get("deployment") or {}).get("resources") or []:
        if resource.get("type") == provider_type:
            value = (resource.get("inputs") or {}).get(key)
            return value if isinstance(value, str) else None
    return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stack")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument(
        "action",
        nargs="?",
        default="up",
        choices=("up", "destroy", "preview", "review"),
        help="what runs next; a preview (which also takes the lock) gets a stale "
        "lock cleared, but the state is left alone: it only says what `up` "
        "will adopt",
    )
    parser.add_argument("--config-file", help="the stack config, when not Pulumi.<stack>.yaml")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parents[1]
    cwd = Path.cwd() if (Path.cwd() / "Pulumi.yaml").exists() else root
    pulumi = Pulumi(args.stack, cwd, args.config_file)

    project_file = cwd / "Pulumi.yaml"
    locks = []
    for path in lock_files(backend_url(project_file), project_name(project_file), args.stack):
        try:
            lock = parse_lock(str(path), path.read_text())
        except (OSError, ValueError):
            continue  # removed meanwhile, or half written by a run starting right now
        locks.append((lock, process_facts(lock.pid)))
    lock_plan = plan(locks, socket.gethostname(), [], {}, None)
    if lock_plan.blocked:
        return report(lock_plan)
    if not args.dry_run:
        for step in lock_plan.of("remove-lock"):
            Path(step.target).unlink(missing_ok=True)
            # gocloud's fileblob keeps the blob's attributes beside it (`<lock>.json.attrs`).
            Path(step.target + ".attrs").unlink(missing_ok=True)

    state = json.loads(pulumi.run("stack", "export"))
    pending = pending_creates(state)
    with tempfile.TemporaryDirectory(prefix="icc-recover-") as scratch:
        live = look_up(pending, state, pulumi, Path(scratch))
    namespace = provider_input(state, "pulumi:providers:kubernetes", "namespace")
    pending_plan = plan([], "", pending, live, namespace)
    if args.dry_run or args.action in ("preview", "review") or pending_plan.blocked:
        later = "--dry-run, would have" if args.dry_run else "`up` will do this"
        return report(lock_plan, dry_run=args.dry_run) or report(pending_plan, later=later)
    full = Plan(lock_plan.steps + pending_plan.steps)
    changes = full.of("adopt") + full.of("drop")
    if changes:
        pulumi.run("stack", "import", input=json.dumps(apply_to_state(state, changes)))
        targets = [arg for step in full.of("adopt") for arg in ("--target", step.target)]
        if targets:
            # Outputs of the adopted objects (uid, status, defaults) come from the cluster.
            pulumi.run("refresh", "--yes", "--skip-preview", *targets)
    return report(full)


def report(result: Plan, dry_run: bool = False, later: str = "") -> int:
    """Prints what was done (or, with `later`, what is still to do); 1 when something stops."""
    prefix = (
        f"recover ({later})" if later else "recover --dry-run, would have" if dry_run else "recover"
    )
    for step in result.steps:
        if step.kind != "stop":
            print(f"{prefix}: {step.say}")
    for step in result.of("stop"):
        print(f"recover: STOP: {step.say}", file=sys.stderr)
    return 1 if result.blocked else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
