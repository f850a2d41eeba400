"""The recovery plan, pure: lock facts and the exported state in, steps out (scripts/recover.py
runs them). Stdlib only, like the script (components/kube_facts.py is stdlib only too).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from components.kube_facts import CLUSTER_SCOPED, OWNED_LABELS

# Creating these twice is harmless (a pull, an existing volume is returned): never a conflict.
DOCKER_IDEMPOTENT = ("docker:index/remoteImage:RemoteImage", "docker:index/volume:Volume")
DOCKER_LOOKUP = {
    "docker:index/container:Container": "container",
    "docker:index/network:Network": "network",
}
# A lock younger than this whose pid runs is someone's live `pulumi up`; pid reuse is caught by
# the process start time (a process started after the lock was written cannot hold it).
CLOCK_SLACK = timedelta(seconds=2)


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
