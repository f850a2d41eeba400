"""The wire form of what a policy sees, and the helpers every rule shares.

Properties use the wire names (camelCase) and the wire form of a secret (a dict with the
signature key), exactly as the Pulumi engine hands them to a policy pack and as the recording
mocks in tests/harness.py see them. A value the engine cannot know during a preview arrives as an
"unknown" sentinel string; rules never guess about it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from settings.quantity import parse_quantity

# The wire form of a secret (pulumi/runtime/rpc.py _special_sig_key, _special_secret_sig).
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
# What the engine sends for a value unknown during preview (pulumi_policy/proxy.py).
UNKNOWN_VALUES = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "030794c1-ac77-496b-92df-f27374a8bd58",
        "e48ece36-62e2-4504-bad9-02848725956a",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
    }
)

V100_TAINT = "gpu-tesla-v100"
FLOATING_TAGS = frozenset(
    {"latest", "main", "master", "dev", "develop", "edge", "nightly", "stable", "cuda", "rocm"}
)
SECRET_NAME = re.compile(
    r"(^|[_.-])(KEY|API_?KEY|PASSWORD|PASSWD|PASS|TOKEN|SECRET|CREDENTIALS?)$", re.IGNORECASE
)
SECRET_ANNOTATION = re.compile(
    r"(password|passwd|token|secret|api[_-]?key|credential)", re.IGNORECASE
)
WORKLOAD_KINDS = frozenset(
    {
        "Pod",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "ReplicationController",
        "Job",
        "CronJob",
    }
)
# Namespaced Kubernetes resources Pulumi models outside a `metadata` block.
HELM_TYPES = (
    "kubernetes:helm.sh/v3:Release",
    "kubernetes:helm.sh/v4:Chart",
    "kubernetes:yaml/v2:ConfigGroup",
    "kubernetes:kustomize/v2:Directory",
)


@dataclass(frozen=True)
class Facts:
    """What the pack must know about the stack: the validated settings that rules depend on.

    Written by scripts/policy_config.py into the pack's config (`--policy-pack-config`); `known`
    is False when the pack runs without it, and the rules that need a fact then say so."""

    target: str | None = None
    namespace: str | None = None
    keep_data_on_destroy: bool = True
    quota: Mapping[str, Any] = field(default_factory=dict)
    known: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> Facts:
        if not config or "target" not in config:
            return cls()
        return cls(
            target=config["target"],
            namespace=config.get("namespace"),
            keep_data_on_destroy=bool(config.get("keepDataOnDestroy", True)),
            quota=config.get("quota") or {},
            known=True,
        )

    @property
    def kubernetes(self) -> bool | None:
        return None if self.target is None else self.target in ("icc", "minikube")


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    # The Kubernetes provider's default namespace (where an object without one lands).
    provider_namespace: str | None = None
    # retainOnDelete when the caller knows it (the analyzer protocol does not carry it).
    retain_on_delete: bool | None = None

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]

    @property
    def kubernetes(self) -> bool:
        return self.type.startswith("kubernetes:") and self.type not in HELM_TYPES

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


# --------------------------------------------------------------------------- value helpers


def is_secret(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get(SIG_KEY) == SECRET_SIG


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in UNKNOWN_VALUES


def reveal(value: Any) -> Any:
    """The value inside a secret marker (for structure, never for printing)."""
    while is_secret(value):
        value = value.get("value")
    return value


def get(props: Any, *path: str, default: Any = None) -> Any:
    value = reveal(props)
    for key in path:
        if not isinstance(value, Mapping):
            return default
        value = reveal(value.get(key, default))
    return default if value is None or is_unknown(value) else value


def items(value: Any) -> list:
    value = reveal(value)
    return [reveal(v) for v in value] if isinstance(value, list) else []


# --------------------------------------------------------------------------- pods


def pod_spec(resource: Resource) -> Mapping[str, Any] | None:
    """The pod template of a workload (or a Pod's own spec)."""
    if not resource.kubernetes or resource.kind not in WORKLOAD_KINDS:
        return None
    if resource.kind == "Pod":
        return get(resource.props, "spec")
    if resource.kind == "CronJob":
        return get(resource.props, "spec", "jobTemplate", "spec", "template", "spec")
    return get(resource.props, "spec", "template", "spec")


def pod_labels(resource: Resource) -> Mapping[str, str]:
    if resource.kind == "Pod":
        return get(resource.props, "metadata", "labels", default={})
    if resource.kind == "CronJob":
        return get(
            resource.props,
            "spec",
            "jobTemplate",
            "spec",
            "template",
            "metadata",
            "labels",
            default={},
        )
    return get(resource.props, "spec", "template", "metadata", "labels", default={})


def containers(spec: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if not spec:
        return []
    return [
        c
        for key in ("initContainers", "containers")
        for c in items(spec.get(key))
        if isinstance(c, Mapping)
    ]


def gpu_amounts(container: Mapping[str, Any]) -> dict[str, Any]:
    """GPU resources (nvidia.com/gpu, amd.com/gpu, ...) a container asks for."""
    found: dict[str, Any] = {}
    for side in ("requests", "limits"):
        for name, amount in get(container, "resources", side, default={}).items():
            if name.endswith("/gpu") and str(reveal(amount)) not in ("0", ""):
                found[name] = amount
    return found


def tolerates_v100(spec: Mapping[str, Any]) -> bool:
    for toleration in items(spec.get("tolerations")):
        key, effect = get(toleration, "key"), get(toleration, "effect") or ""
        operator = get(toleration, "operator") or "Equal"
        if key == V100_TAINT and effect in ("", "NoSchedule") and operator in ("Exists", "Equal"):
            return True
        if key is None and operator == "Exists" and effect in ("", "NoSchedule"):
            return True  # tolerates every taint
    return False


def quantity(value: Any) -> Decimal | None:
    try:
        return parse_quantity(reveal(value))
    except (ValueError, TypeError):
        return None
