"""The stack's facts the rules need: target, namespace, keepDataOnDestroy and quota.

They come from what the pack is given, never from the program's settings code: the stack's name
is in every resource's URN (`urn:pulumi:<stack>::<project>::...`), and that stack's own
`Pulumi.<stack>.yaml` lies beside the project's `Pulumi.yaml`, which is found from the pack's
working directory upwards (Pulumi CLI 3.259.0 starts a pack folder in the folder itself, an
executable analyzer in the project), else beside the pack. The file is read with the pack's own
minimal defaults, so a bare `pulumi preview -s <stack> --policy-pack policy` runs every rule.
`--policy-pack-config` may still set a fact for one policy; it wins over the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

PACK_DIR = Path(__file__).resolve().parent
TARGETS = ("icc", "minikube", "docker")
FACT_KEYS = ("target", "namespace", "keepDataOnDestroy", "quota")
# The pack's own defaults where a stack file may leave a fact out (the program's are richer, but
# these are the only ones the rules depend on).
DEFAULT_NAMESPACE = {"minikube": "icc-ollama"}


@dataclass(frozen=True)
class Facts:
    """What the rules know about the stack. `problem` says why the target is unknown."""

    target: str | None = None
    namespace: str | None = None
    keep_data_on_destroy: bool = True
    quota: Mapping[str, Any] = field(default_factory=dict)
    problem: str | None = None

    @property
    def known(self) -> bool:
        return self.target is not None

    @property
    def kubernetes(self) -> bool | None:
        return None if self.target is None else self.target in ("icc", "minikube")


class FactsError(ValueError):
    """A stack file the pack cannot use, in one line that names the file (and line)."""


def from_values(values: Mapping[str, Any], where: str) -> Facts:
    """Facts from config values (keys without the project prefix), checked one by one."""
    target = values.get("target")
    if target is None:
        raise FactsError(f"{where} sets no target (`pulumi config set target icc|minikube|docker`)")
    if target not in TARGETS:
        raise FactsError(f"{where}: target is {target!r}, not one of {', '.join(TARGETS)}")
    namespace = values.get("namespace", DEFAULT_NAMESPACE.get(target))
    if target == "icc" and not namespace:
        raise FactsError(f"{where} sets no namespace (`pulumi config set namespace <yours>`)")
    keep = values.get("keepDataOnDestroy", True)
    if isinstance(keep, str) and keep.lower() in ("true", "false"):
        keep = keep.lower() == "true"
    quota = values.get("quota") or {}
    if isinstance(quota, str):
        try:
            quota = json.loads(quota)
        except json.JSONDecodeError as error:
            raise FactsError(f"{where}: quota is not a JSON object ({error})") from None
    if not isinstance(keep, bool) or not isinstance(quota, Mapping):
        raise FactsError(f"{where}: keepDataOnDestroy must be true or false, quota an object")
    if namespace is not None and not isinstance(namespace, str):
        raise FactsError(f"{where}: namespace must be a string")
    return Facts(target, namespace, keep, quota)


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        reason = getattr(error, "problem", None) or "not valid YAML"
        raise FactsError(f"{path}{line}: {reason}") from None


def project_file(start: Path) -> Path | None:
    """Pulumi.yaml (or .yml) in `start` or above it, as the CLI finds it; else beside the pack."""
    for folder in (start, *start.parents, PACK_DIR.parent):
        for name in ("Pulumi.yaml", "Pulumi.yml"):
            if (folder / name).is_file():
                return folder / name
    return None


def stack_values(project: Path, stack: str) -> tuple[dict[str, Any], str]:
    """The project's config values for `stack`: Pulumi.yaml's project-level values, overridden
    by Pulumi.<stack>.yaml; secure values are left out (no fact is a secret)."""
    spec = read_yaml(project) or {}
    name = spec.get("name", "")
    folder = project.parent / (spec.get("stackConfigDir") or "")
    stack_file = folder / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        raise FactsError(f"no {stack_file} (the stack's own config file, beside {project.name})")
    values: dict[str, Any] = {}
    for key, entry in (spec.get("config") or {}).items():
        if isinstance(entry, Mapping) and ("value" in entry or "default" in entry):
            values[key] = entry.get("value", entry.get("default"))
    values.update((read_yaml(stack_file) or {}).get("config") or {})
    prefix = f"{name}:"
    found = {
        key.removeprefix(prefix): value
        for key, value in values.items()
        if (key.startswith(prefix) or ":" not in key)
        and not (isinstance(value, Mapping) and "secure" in value)
    }
    return found, str(stack_file)


@cache
def stack_facts(stack: str, cwd: str) -> Facts:
    """The facts of one stack, read once per analyzer process (the files do not change during a
    preview). A problem becomes `Facts.problem`, for the stack-facts policy to report."""
    project = project_file(Path(cwd))
    if project is None:
        return Facts(problem=f"no Pulumi.yaml in {cwd} or above it, nor beside the pack")
    try:
        values, where = stack_values(project, stack)
        return from_values(values, where)
    except FactsError as error:
        return Facts(problem=str(error))


def stack_of(urn: str) -> str:
    """The stack's name in a URN: `urn:pulumi:<stack>::<project>::<type>::<name>`."""
    head = urn.split("::", 1)[0]
    return head.removeprefix("urn:pulumi:") if head.startswith("urn:pulumi:") else ""


def with_override(facts: Facts, config: Mapping[str, Any] | None) -> Facts:
    """`--policy-pack-config` values for one policy over the file's facts."""
    given = {key: value for key, value in (config or {}).items() if key in FACT_KEYS}
    if not given or not (facts.known or "target" in given):
        return facts
    base = {
        "target": facts.target,
        "namespace": facts.namespace,
        "keepDataOnDestroy": facts.keep_data_on_destroy,
        "quota": facts.quota,
    }
    try:
        values = {key: value for key, value in base.items() if value is not None}
        return from_values({**values, **given}, "--policy-pack-config")
    except FactsError as error:
        return Facts(problem=str(error))
