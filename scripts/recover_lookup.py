"""How scripts/recover.py finds a pending create's object: kubectl for Kubernetes, docker
inspect for Docker (who made it, and whether it carries this project's labels)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from recover_plan import DOCKER_IDEMPOTENT, DOCKER_LOOKUP, Live, PendingCreate, describe

if TYPE_CHECKING:
    from recover import Pulumi


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
