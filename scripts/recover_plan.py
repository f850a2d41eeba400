"""The recovery plan, pure: lock facts and the exported state in, steps and the new state out
(scripts/recover.py gathers the facts and runs the steps). Stdlib only, like the script
(components/kube_facts.py is stdlib only too).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from components.kube_facts import CLUSTER_SCOPED, OWNED_LABELS

CONTAINER, NETWORK = "docker:index/container:Container", "docker:index/network:Network"
# Creating these twice is harmless (a pull, an existing volume is returned): never a conflict.
DOCKER_IDEMPOTENT = ("docker:index/remoteImage:RemoteImage", "docker:index/volume:Volume")
DOCKER_LOOKUP = {CONTAINER: "container", NETWORK: "network"}
# A lock younger than this whose pid runs is someone's live `pulumi up`; pid reuse is caught by
# the process start time (a process started after the lock was written cannot hold it).
CLOCK_SLACK = timedelta(seconds=2)
# pulumi-kubernetes in server-side apply mode names its field manager `pulumi-kubernetes-<random>`
# when it creates an object (by server-side apply up to 4.28; by a plain create from 4.29.0, which
# brought `upsertExistingObjects`) and keeps the name in the state (`__fieldManager`). A Read
# without it draws a new name, and fields the first one owns would never be removed by an update.
SSA_MANAGER_PREFIX = "pulumi-kubernetes-"
# The falsy schema defaults of terraform-provider-docker v4.5.0's docker_container (upstream of
# pulumi-docker 5.x) as Pulumi names them. pulumi-terraform-bridge 3.13x leaves falsy defaults out
# of the inputs its Check returns (bridge issue 2618); the create's plan fills them in, so the
# state a finished create records has them. The container's Read never sets attach, logs, wait or
# an upload's executable: recorded without them, the next diff adds them, and attach is ForceNew.
CONTAINER_FALSY_DEFAULTS = {
    "attach": False,
    "logs": False,
    "wait": False,
    "rm": False,
    "readOnly": False,
    "tty": False,
    "stdinOpen": False,
    "memoryReservation": 0,
}
CONTAINER_NESTED_FALSY_DEFAULTS: dict[str, dict[str, object]] = {
    "uploads": {"executable": False},
    "deviceRequests": {"count": 0},
    "healthcheck": {
        "interval": "0s",
        "timeout": "0s",
        "startPeriod": "0s",
        "startInterval": "0s",
        "retries": 0,
    },
}
BRIDGE_DEFAULTS_KEY = "__defaults"  # the bridge's list of defaulted inputs; never in outputs


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
    provider: str = ""  # the provider's URN
    deploys_to: str | None = None  # Kubernetes: the provider's namespace, if it has one
    starts: bool = True  # Docker containers: the create ends by starting it (input `start`)


@dataclass(frozen=True)
class Live:
    """An object found under a pending create's name. Kubernetes: the field managers that wrote
    it (managedFields, in the order listed) and the one `pulumi-kubernetes-*` among them, if
    exactly one; Docker: the container's state (`created` = never started)."""

    id: str
    labels: dict
    managers: tuple[str, ...] = ()
    field_manager: str = ""
    status: str = ""


@dataclass(frozen=True)
class Step:
    kind: str  # remove-lock | adopt | remove | drop | stop
    target: str  # lock path or URN
    say: str  # one line for the user
    id: str = ""  # adopt, remove: the provider id
    field_manager: str = ""  # adopt, Kubernetes: the field manager that created it


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
    for op in deployment.get("pending_operations") or []:
        resource = op.get("resource") or {}
        if op.get("type") != "creating" or not resource.get("custom", False):
            continue
        type_token, inputs = resource.get("type", ""), resource.get("inputs") or {}
        provider = resource.get("provider", "").rsplit("::", 1)[0]
        deploys_to = provider_inputs(state, provider).get("namespace")
        deploys_to = deploys_to if isinstance(deploys_to, str) else None
        name, namespace = object_name(type_token, inputs)
        if namespace is None and is_namespaced(type_token):
            namespace = deploys_to or "default"
        starts = inputs.get("start", True) is not False
        found.append(
            PendingCreate(
                resource["urn"], type_token, name, namespace, provider, deploys_to, starts
            )
        )
    return found


def provider_inputs(state: dict, provider_urn: str) -> dict:
    for resource in (state.get("deployment") or {}).get("resources") or []:
        if resource.get("urn") == provider_urn:
            return resource.get("inputs") or {}
    return {}


def object_name(type_token: str, inputs: dict) -> tuple[str, str | None]:
    if type_token.startswith("kubernetes:"):
        metadata = inputs.get("metadata") or {}
        return str(metadata.get("name", "")), metadata.get("namespace")
    return str(inputs.get("name", "")), None


def is_namespaced(type_token: str) -> bool:
    kind = type_token.rsplit(":", 1)[-1]
    return type_token.startswith("kubernetes:") and kind not in CLUSTER_SCOPED


def needs_lookup(pending: PendingCreate) -> bool:
    provider = pending.type.startswith("pulumi:providers:")
    return bool(pending.name) and not provider and pending.type not in DOCKER_IDEMPOTENT


def owned(live: Live) -> bool:
    """Made by this project: its labels, or, for objects rendered from a Helm chart (their
    labels say managed-by: Helm), written first by a Pulumi Kubernetes provider (field manager
    `pulumi-kubernetes-*` with server-side apply, `pulumi-kubernetes` or
    `pulumi-resource-kubernetes` with client-side apply)."""
    if all(live.labels.get(key) == value for key, value in OWNED_LABELS.items()):
        return True
    from_chart = live.labels.get("app.kubernetes.io/managed-by") == "Helm"
    return from_chart and bool(live.managers) and live.managers[0].startswith("pulumi")


def pending_step(pending: PendingCreate, live: Live | None) -> Step:
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
    home = pending.deploys_to
    in_our_namespace = home is None or pending.namespace in (None, home)
    if not (owned(live) and in_our_namespace):
        return Step(
            "stop",
            pending.urn,
            f"{what} already exists but was not made by this project (it lacks the labels "
            f"{', '.join(f'{k}={v}' for k, v in OWNED_LABELS.items())}). Either remove it "
            f"({removal_hint(pending)}) or deploy to another "
            f"{'namespace (config key namespace)' if pending.namespace else 'name'}; "
            f"nothing was changed.",
        )
    if pending.type == CONTAINER and live.status == "created" and pending.starts:
        # The provider creates, uploads files, then starts: stopped before the start, the
        # container may lack its uploads, and nothing of it has run yet.
        return Step(
            "remove",
            pending.urn,
            f"{what}: the interrupted run created it but never started it (its files may be "
            f"missing); removed it, `up` creates it",
            id=live.id,
        )
    return Step(
        "adopt",
        pending.urn,
        f"{what}: created by the interrupted run; taken into the state as {live.id}",
        id=live.id,
        field_manager=live.field_manager,
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
) -> Plan:
    steps = [lock_step(lock, this_host, process) for lock, process in locks]
    steps += [pending_step(p, live.get(p.urn)) for p in pending]
    return Plan(steps)


# --------------------------------------------------------------------------- the new state


def apply_to_state(state: dict, steps: list[Step]) -> dict:
    """The exported state with adopted creates moved into `resources` and the others gone.

    Appending keeps the resource list in dependency order: a resource whose create was still
    pending cannot be the parent or dependency of any recorded resource (dependents wait).
    """
    decided = {step.target: step for step in steps if step.kind in ("adopt", "remove", "drop")}
    new_state = json.loads(json.dumps(state))
    deployment = new_state["deployment"]
    kept, adopted = [], []
    for op in deployment.get("pending_operations") or []:
        step = decided.get((op.get("resource") or {}).get("urn", ""))
        if op.get("type") != "creating" or step is None:
            kept.append(op)
        elif step.kind == "adopt":
            adopted.append(adopted_resource(op["resource"], step))
    deployment["resources"] = list(deployment.get("resources") or []) + adopted
    deployment["pending_operations"] = kept
    return new_state


def adopted_resource(resource: dict, step: Step) -> dict:
    """The state entry of an adopted create: the inputs the program sent, the object's id, and
    outputs from which the provider's Read (the targeted refresh that follows) rebuilds what a
    finished create would have recorded.

    - Kubernetes: the Read takes everything from the cluster; only the field manager that made
      the object has to be carried over (server-side apply mode).
    - Docker (bridged Terraform provider): a Read with no outputs is an import (the Terraform
      importer, inputs rebuilt from what it reads back); with outputs it is a refresh, which
      keeps every attribute the Terraform Read does not set (envs, labels, volumes, uploads,
      networks, attach, ...). So the outputs are what the create's plan records: the inputs,
      plus the falsy defaults that the bridge's Check leaves out.
    """
    inputs = resource.get("inputs") or {}
    if resource.get("type", "").startswith("kubernetes:"):
        outputs = {"__fieldManager": step.field_manager} if step.field_manager else {}
    else:
        outputs = without_defaults_key(inputs)
        if resource.get("type") == CONTAINER:
            outputs = with_container_defaults(outputs)
    return {**resource, "id": step.id, "outputs": outputs}


def without_defaults_key(value):
    if isinstance(value, dict):
        return {k: without_defaults_key(v) for k, v in value.items() if k != BRIDGE_DEFAULTS_KEY}
    if isinstance(value, list):
        return [without_defaults_key(v) for v in value]
    return value


def with_container_defaults(outputs: dict) -> dict:
    filled = {**CONTAINER_FALSY_DEFAULTS, **outputs}
    for key, defaults in CONTAINER_NESTED_FALSY_DEFAULTS.items():
        value = filled.get(key)
        if isinstance(value, dict) and not is_secret(value):
            filled[key] = {**defaults, **value}
        elif isinstance(value, list):
            filled[key] = [
                {**defaults, **item} if isinstance(item, dict) and not is_secret(item) else item
                for item in value
            ]
    return filled


def is_secret(value: dict) -> bool:
    """A secret in an exported state: `{"4dabf18193072939515e22adb298388d": "1b47...", ...}`."""
    return "4dabf18193072939515e22adb298388d" in value
