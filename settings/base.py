"""Shared field types and the frozen model base of the settings package.

Every section model derives from `Model`: frozen, unknown keys refused, camelCase keys as in
`pulumi config`. A rule that spans fields raises `KeyedError`, which pins the message to the key
the user must change (the loader turns it into one line).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    SecretStr,
    model_validator,
)
from pydantic.alias_generators import to_camel

from settings.quantity import format_amount, parse_quantity

_CPU = re.compile(r"^[0-9]+(\.[0-9]+)?m?$")
# A quantity with a byte suffix, as Kubernetes writes them (k8s.io/apimachinery resource.Quantity).
_BYTES = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?(k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)$")
MI = 2**20
GI = 2**30
TI = 2**40
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
# Well-known defaults (the seed's Grafana used admin/admin); refused even if long enough.
WEAK_PASSWORDS = {"admin", "password", "changeme", "prom-operator", "grafana"}


class KeyedError(ValueError):
    """A rule that spans fields, pinned to the key the user must change."""

    def __init__(self, key: str, given: Any, fix: str, relative: bool = False):
        super().__init__(fix)
        # relative: `key` is below the model that raised it (its location is added on report).
        self.key, self.given, self.fix, self.relative = key, given, fix, relative


class Model(BaseModel):
    """Frozen, unknown keys rejected, camelCase keys as in `pulumi config`."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )


def number_as_text(value: Any) -> Any:
    # YAML turns `cpu: 2` into a number; Kubernetes quantities are strings.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def empty_is_none(value: Any) -> Any:
    # `pulumi config set --path ingress.tls.clusterIssuer ""` turns a target default off.
    return None if value == "" else value


def _check_cpu(value: str) -> str:
    if not _CPU.match(value):
        raise ValueError("must be CPUs such as 2, 0.5 or 500m (millicores)")
    if parse_quantity(value) < parse_quantity("10m"):
        raise ValueError("must be at least 10m (a hundredth of a CPU)")
    return value


def _bytes_checker(minimum: int, maximum: int, example: str, holder: str):
    """Memory or storage: a byte unit, at least `minimum`, at most `maximum` (more than any
    `holder` has: a typo such as 999999Pi, said as what it is, not as a unit problem)."""

    def check(value: str) -> str:
        if re.fullmatch(r"[0-9]+(\.[0-9]+)?m", value):
            raise ValueError(f"'m' means thousandths of a byte here; write {value[:-1]}Mi")
        if not _BYTES.match(value):
            raise ValueError(
                f"needs a byte unit such as {example} (Mi, Gi; a bare number means bytes)"
            )
        amount = parse_quantity(value)
        if amount < minimum:
            raise ValueError(f"must be at least {minimum // MI}Mi, e.g. {example}")
        if amount > maximum:
            raise ValueError(
                f"is {format_amount('storage', amount)}, more than any {holder} "
                f"(at most {maximum // TI}Ti here); e.g. {example}"
            )
        return value

    return check


def _check_dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError("must be a DNS label: lower-case letters, digits and '-', at most 63")
    return value


def _check_dns_subdomain(value: str) -> str:
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise ValueError(
            "must be a Kubernetes object name: lower-case letters, digits, '-' and '.'"
        )
    return value


# CPUs as Kubernetes writes them; memory and storage always with a byte unit and a floor that
# can hold the program (a unit-less "16" is 16 bytes: it renders, then the pod never starts).
Cpu = Annotated[str, BeforeValidator(number_as_text), AfterValidator(_check_cpu)]
Memory = Annotated[
    str,
    BeforeValidator(number_as_text),
    AfterValidator(_bytes_checker(64 * MI, 16 * TI, "512Mi or 2Gi", "node has")),
]
StorageSize = Annotated[
    str,
    BeforeValidator(number_as_text),
    AfterValidator(_bytes_checker(GI, 1024 * TI, "20Gi", "volume holds")),
]
DnsLabel = Annotated[str, AfterValidator(_check_dns_label)]
DnsSubdomain = Annotated[str, AfterValidator(_check_dns_subdomain)]
OptionalDnsSubdomain = Annotated[DnsSubdomain | None, BeforeValidator(empty_is_none)]


_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_QUALIFIED = re.compile(rf"^(?:([a-z0-9]([-a-z0-9.]{{0,251}}[a-z0-9])?)/)?({_LABEL_NAME})$")


def check_label_key(value: str) -> str:
    match = _QUALIFIED.match(value)
    if not match or (match.group(1) and len(match.group(1)) > 253):
        raise ValueError(
            "must be a Kubernetes label key such as gpu or "
            "nvidia.com/gpu.product (letters, digits, '-', '_', '.', at most 63, "
            "with an optional DNS prefix and '/')"
        )
    return value


def _check_label_value(value: str) -> str:
    if value and not re.fullmatch(_LABEL_NAME, value):
        raise ValueError(
            "must be a Kubernetes label value: at most 63 letters, digits, "
            "'-', '_' or '.', starting and ending with a letter or digit"
        )
    return value


def _check_extended_resource(value: str) -> str:
    match = _QUALIFIED.match(value)
    if not match or not match.group(1) or match.group(1).endswith("kubernetes.io"):
        raise ValueError(
            "must be an extended resource name with a vendor domain, such as "
            "nvidia.com/gpu or amd.com/gpu"
        )
    return value


LabelKey = Annotated[str, AfterValidator(check_label_key)]
LabelValue = Annotated[str, AfterValidator(_check_label_value)]
ExtendedResource = Annotated[str, AfterValidator(_check_extended_resource)]


class ResourceAmounts(Model):
    cpu: Cpu
    memory: Memory


class Resources(Model):
    requests: ResourceAmounts
    limits: ResourceAmounts

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        # The API server refuses such a pod only at `pulumi up`, after other objects were made.
        for resource in ("cpu", "memory"):
            request = getattr(self.requests, resource)
            limit = getattr(self.limits, resource)
            if parse_quantity(request) > parse_quantity(limit):
                raise KeyedError(
                    f"requests.{resource}",
                    request,
                    f"more than limits.{resource} ({limit}), which Kubernetes "
                    f"refuses; lower requests.{resource} or raise limits.{resource}",
                    relative=True,
                )
        return self

    def requirements(self, extra_limits: dict[str, str] | None = None) -> dict:
        """The container's `resources` block; the quota check sums exactly these."""
        limits = {"cpu": self.limits.cpu, "memory": self.limits.memory}
        requests = {"cpu": self.requests.cpu, "memory": self.requests.memory}
        for name, amount in (extra_limits or {}).items():
            # Extended resources (GPUs) must have requests equal to limits.
            limits[name] = requests[name] = amount
        return {"requests": requests, "limits": limits}


class Storage(Model):
    size: StorageSize
    storage_class: DnsLabel | None = None


def check_password(key: str, password: SecretStr | None, why: str) -> None:
    """A password the user chose: at least 12 characters, no well-known default. Unset is fine:
    the program then makes one (components/secrets.py)."""
    fix = (
        f"set a stronger one with `pulumi config set --secret {key} <value>` (e.g. from "
        f"`openssl rand -base64 24`), or unset it with `pulumi config rm {key}` to let the "
        f"program make one"
    )
    if password is None:
        return
    text = password.get_secret_value()
    if len(text) < 12 or text.lower() in WEAK_PASSWORDS:
        raise KeyedError(
            key,
            "(secret)",
            f"{why}: use at least 12 characters and no default such as admin; {fix}",
        )
