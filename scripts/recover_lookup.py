"""How scripts/recover.py finds a pending create's object: kubectl for Kubernetes, docker
inspect for Docker (who made it, whether it carries this project's labels, whether a container
ever started), each through the connection its provider used, as recorded in the state; and
`docker rm` for a container whose create stopped before it started."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from recover_plan import (
    DOCKER_LOOKUP,
    SSA_MANAGER_PREFIX,
    Live,
    PendingCreate,
    describe,
    needs_lookup,
    provider_inputs,
)

Lookup = Callable[[PendingCreate], "Live | None"]


def look_up(pending: list[PendingCreate], state: dict, scratch: Path) -> dict[str, Live | None]:
    """The live object under each pending create's name (kubectl or docker, only if needed).
    `state` is exported with `--show-secrets`, for a kubeconfig held as a secret."""
    lookups: dict[str, Lookup] = {}
    found = {}
    for p in filter(needs_lookup, pending):
        if p.provider not in lookups:
            inputs = provider_inputs(state, p.provider)
            lookups[p.provider] = (
                kubectl_lookup(inputs, scratch / str(len(lookups)))
                if p.type.startswith("kubernetes:")
                else docker_lookup(inputs.get("host"))
            )
        found[p.urn] = lookups[p.provider](p)
    return found


def kubectl_lookup(provider: dict, scratch: Path) -> Lookup:
    """kubectl with the provider's kubeconfig (a path or the contents) and context."""
    base = ["kubectl"]
    kubeconfig, context = plain(provider.get("kubeconfig")), plain(provider.get("context"))
    if kubeconfig and "\n" in kubeconfig:  # the contents, not a path
        scratch.mkdir(mode=0o700)
        path = scratch / "kubeconfig"
        path.touch(mode=0o600)
        path.write_text(kubeconfig)
        base += ["--kubeconfig", str(path)]
    elif kubeconfig:
        base += ["--kubeconfig", os.path.expanduser(kubeconfig)]
    if context:
        base += ["--context", context]

    def lookup(pending: PendingCreate) -> Live | None:
        args = base + ["get", kubectl_kind(pending.type), pending.name, "-o", "json"]
        args += ["--ignore-not-found", "--show-managed-fields"]
        if pending.namespace:
            args += ["-n", pending.namespace]
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"recover: cannot look up {describe(pending)}: {proc.stderr.strip()}")
        if not proc.stdout.strip():
            return None
        metadata = json.loads(proc.stdout)["metadata"]
        object_id = f"{pending.namespace}/{pending.name}" if pending.namespace else pending.name
        entries = metadata.get("managedFields") or []
        managers = tuple(entry.get("manager", "") for entry in entries)
        ours = {m for m in managers if m.startswith(SSA_MANAGER_PREFIX)}
        return Live(
            id=object_id,
            labels=metadata.get("labels") or {},
            managers=managers,
            field_manager=ours.pop() if len(ours) == 1 else "",
        )

    return lookup


def plain(value) -> str | None:
    """A provider input as a string; an exported secret without --show-secrets is unusable."""
    if isinstance(value, dict) and "plaintext" in value:
        value = json.loads(value["plaintext"])
    return value if isinstance(value, str) else None


def kubectl_kind(type_token: str) -> str:
    """`kubernetes:apps/v1:StatefulSet` -> `statefulset.v1.apps`; core kinds need no group."""
    _, group_version, kind = type_token.split(":")
    group, version = group_version.split("/")
    return kind.lower() if group == "core" else f"{kind.lower()}.{version}.{group}"


def docker_env(host: str | None) -> dict[str, str]:
    return {**os.environ, **({"DOCKER_HOST": host} if host else {})}


def docker_lookup(host: str | None) -> Lookup:
    def lookup(pending: PendingCreate) -> Live | None:
        kind = DOCKER_LOOKUP.get(pending.type)
        if kind is None:
            return None
        proc = subprocess.run(
            ["docker", kind, "inspect", pending.name],
            env=docker_env(host),
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            if "no such" in (proc.stderr + proc.stdout).lower() or "not found" in proc.stderr:
                return None
            raise SystemExit(f"recover: cannot look up {describe(pending)}: {proc.stderr.strip()}")
        found = json.loads(proc.stdout)[0]
        labels = found.get("Labels") or (found.get("Config") or {}).get("Labels") or {}
        status = (found.get("State") or {}).get("Status", "")
        return Live(id=found["Id"], labels=labels, status=status)

    return lookup


def remove_container(host: str | None, container_id: str) -> None:
    """`docker rm` (not forced: it refuses a container that started meanwhile)."""
    proc = subprocess.run(
        ["docker", "container", "rm", container_id],
        env=docker_env(host),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"recover: cannot remove container {container_id}: {proc.stderr.strip()}")
