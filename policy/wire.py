"""What a rule sees of a resource, and the helpers every rule shares.

Properties use the wire names (camelCase), as the engine hands them to a policy pack. pulumi_policy
gives a policy the inputs with secrets already unwrapped, so a rule sees plain values; whether a
field is kept secret shows in the resource's `additional_secret_outputs` (`Resource.
secret_outputs`). A value the engine cannot know during a preview raises pulumi_policy's
UnknownValueError when it is read; `plain()` reads every value once and puts `UNKNOWN` in its
place, so rules never guess about it and never stop on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pulumi_policy.proxy import UnknownValueError

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


class Unknown:
    """A value the engine could not know yet (a preview before the resource it comes from)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = Unknown()


def plain(value: Any) -> Any:
    """pulumi_policy's read-only proxies as plain dicts and lists, each unknown value as UNKNOWN."""
    if isinstance(value, Mapping):
        result = {}
        for key in value:
            try:
                result[key] = plain(value[key])
            except UnknownValueError:
                result[key] = UNKNOWN
        return result
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items_ = []
        for index in range(len(value)):
            try:
                items_.append(plain(value[index]))
            except UnknownValueError:
                items_.append(UNKNOWN)
        return items_
    return value


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
    # The resource's additional_secret_outputs: the fields the state keeps encrypted.
    secret_outputs: frozenset[str] = field(default_factory=frozenset)

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


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def get(props: Any, *path: str, default: Any = None) -> Any:
    value = props
    for key in path:
        if not isinstance(value, Mapping):
            return default
        value = value.get(key, default)
    return default if value is None or is_unknown(value) else value


def items(value: Any) -> list:
    return list(value) if isinstance(value, list) else []


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
    template = ("spec", "jobTemplate", "spec") if resource.kind == "CronJob" else ("spec",)
    return get(resource.props, *template, "template", "metadata", "labels", default={})


def containers(spec: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """Every container of a pod: init containers (sidecars among them) and the app containers."""
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
            if name.endswith("/gpu") and str(amount) not in ("0", ""):
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


# --------------------------------------------------------------------------- quantities

# Kubernetes resource quantities (k8s.io/apimachinery resource.Quantity): binary suffixes Ki..Ei,
# decimal ones n..E, or an exponent. The pack reads them itself rather than through the program's
# settings, so a mistake in one is not repeated in the other.
_SUFFIXES = {
    **{s: Decimal(1024) ** (i + 1) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))},
    **{s: Decimal(10) ** e for s, e in (("n", -9), ("u", -6), ("m", -3), ("", 0), ("k", 3))},
    **{s: Decimal(10) ** (3 * (i + 2)) for i, s in enumerate(("M", "G", "T", "P", "E"))},
}
_QUANTITY = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:([eE][+-]?[0-9]+)|([A-Za-z]*))")
GI = Decimal(1024) ** 3


def quantity(value: Any) -> Decimal | None:
    """The exact value of a quantity (`500m` -> 0.5, `2Gi` -> 2147483648), None if it is none."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    match = _QUANTITY.fullmatch(str(value).strip())
    if not match or (match.group(3) or "") not in _SUFFIXES:
        return None
    number, exponent, suffix = match.groups()
    if exponent:
        return Decimal(number + exponent)
    return Decimal(number) * _SUFFIXES[suffix or ""]


def amount_text(resource: str, value: Decimal) -> str:
    """For messages: bytes in Gi (`16.25Gi`), CPUs in cores (`2.5`), counts as integers."""
    shown = value / GI if resource in ("memory", "storage") else value
    text = f"{shown.quantize(Decimal('0.01')):f}".rstrip("0").rstrip(".")
    return f"{text}Gi" if resource in ("memory", "storage") else text
