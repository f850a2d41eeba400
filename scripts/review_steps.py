"""The steps of a preview as the engine reports them: URNs, states, data at risk, the digest.

Shared by scripts/review_report.py (the Markdown) and scripts/review.py (running the preview).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "policy"), str(ROOT / "scripts")]

import wire  # noqa: E402  (policy/wire.py: what the pack's rules see of a resource)

# How `pulumi preview --json` writes a secret and a value unknown until `up`: Pulumi's published
# JSON form of property values ("Pulumi Property Value" schema of the deployment format, the
# same in CLI 3.259.0), not an SDK's internals.
SIG_KEY = "4dabf18193072939515e22adb298388d"  # the key that marks a special object
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # its value for a secret
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the unknown value

OPS = ("create", "update", "replace", "delete", "same")
# Steps that make a resource go away (or come back empty) during `pulumi up`.
LOSING_OPS = {
    "delete",
    "replace",
    "create-replacement",
    "delete-replaced",
    "discard",
    "discard-replaced",
}
ROOT_TYPE = "pulumi:pulumi:Stack"


# --------------------------------------------------------------------------- URNs and states


def urn_type(urn: str) -> str:
    return urn.split("::")[2].split("$")[-1] if urn.count("::") >= 3 else ""


def urn_name(urn: str) -> str:
    return "::".join(urn.split("::")[3:])


def short(urn: str) -> str:
    """`OllamaServer ollama` for a URN (the type's last part and the name)."""
    if not urn:
        return "the stack"
    if urn_type(urn).startswith("pulumi:providers:"):
        return f"provider {urn_name(urn)}"
    return f"{urn_type(urn).rsplit(':', 1)[-1]} {urn_name(urn)}"


def state_of(step: Mapping[str, Any]) -> Mapping[str, Any]:
    return step.get("newState") or step.get("oldState") or {}


def parent_of(step: Mapping[str, Any]) -> str:
    return state_of(step).get("parent", "")


def is_secret(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get(SIG_KEY) == SECRET_SIG


def as_plain(value: Any) -> Any:
    """A state's JSON values as the pack's rules take them: a secret as `[secret]` (the CLI
    shows none), an unknown value as the pack's own marker."""
    if is_secret(value):
        return "[secret]"
    if value == UNKNOWN:
        return wire.UNKNOWN
    if isinstance(value, Mapping):
        return {key: as_plain(v) for key, v in value.items()}
    if isinstance(value, list):
        return [as_plain(v) for v in value]
    return value


def resource(step: Mapping[str, Any], which: str = "") -> wire.Resource:
    state = step.get(which) if which else state_of(step)
    state = state or {}
    return wire.Resource(
        state.get("type") or urn_type(step["urn"]),
        urn_name(step["urn"]),
        as_plain(state.get("inputs") or {}),
        step["urn"],
        retain_on_delete=bool(state.get("retainOnDelete")),
    )


# --------------------------------------------------------------------------- data


def claims_of(res: wire.Resource) -> list[str]:
    """What data a resource holds, in words; empty when it holds none."""
    if res.kind == "StatefulSet":
        return [
            f"claim template {wire.get(t, 'metadata', 'name') or '?'} "
            f"({wire.get(t, 'spec', 'resources', 'requests', 'storage') or '?'})"
            for t in wire.items(wire.get(res.props, "spec", "volumeClaimTemplates"))
        ]
    if res.type == "kubernetes:core/v1:PersistentVolumeClaim":
        size = wire.get(res.props, "spec", "resources", "requests", "storage") or "?"
        return [f"claim ({size})"]
    if res.type == "kubernetes:core/v1:Namespace":
        return ["every claim in the namespace"]
    if res.type == "docker:index/volume:Volume":
        return [f"Docker volume {wire.get(res.props, 'name') or res.name}"]
    return []


def kept_because(res: wire.Resource) -> str | None:
    if res.retain_on_delete:
        return "retainOnDelete: the object stays on the cluster/host"
    if res.kind == "StatefulSet":
        when = wire.get(res.props, "spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted")
        if when != "Delete":
            return "claims kept (persistentVolumeClaimRetentionPolicy.whenDeleted: Retain)"
    return None


def data_at_risk(steps: list[Mapping[str, Any]]) -> list[str]:
    lines = []
    for step in steps:
        if step["op"] not in LOSING_OPS:
            continue
        res = resource(step, "oldState") if step.get("oldState") else resource(step)
        held = claims_of(res)
        if not held:
            continue
        why = (
            f" (replace because: {', '.join(step['replaceReasons'])})"
            if step.get("replaceReasons")
            else ""
        )
        kept = kept_because(res)
        verdict = f"kept: {kept}" if kept else "**the data is deleted**"
        lines.append(
            f"- **{step['op']}** `{short(step['urn'])}`{why}: holds {', '.join(held)}; {verdict}"
        )
    return lines


def unretained(steps: list[Mapping[str, Any]]) -> list[str]:
    """Data resources this preview leaves without protection from `pulumi destroy`."""
    lines = []
    for step in steps:
        if not step.get("newState"):
            continue
        res = resource(step, "newState")
        if claims_of(res) and not kept_because(res):
            lines.append(
                f"- `{short(step['urn'])}` holds {', '.join(claims_of(res))} and is "
                f"deleted by `pulumi destroy` (keepDataOnDestroy=false?)"
            )
    return lines


def digest_from_events(events: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The streamed engine events in the shape of the plain digest (pkg/display/json.go)."""
    steps: dict[str, dict[str, Any]] = {}
    diagnostics: list[Any] = []
    summary: dict[str, Any] = {}
    for event in events:
        if event.get("resourcePreEvent"):
            meta = event["resourcePreEvent"]["metadata"]
            if not meta.get("logical"):
                # A replacement's create-replacement/delete-replaced halves: the digest and the
                # change summary count only the logical `replace` (engine/update.go, Logical()).
                continue
            steps[meta["urn"]] = {
                "op": meta["op"],
                "urn": meta["urn"],
                "oldState": meta.get("old"),
                "newState": meta.get("new"),
                "diffReasons": meta.get("diffs") or [],
                "replaceReasons": meta.get("keys") or [],
            }
        elif event.get("resOutputsEvent"):
            meta = event["resOutputsEvent"]["metadata"]
            if meta["urn"] in steps and meta.get("new"):
                steps[meta["urn"]]["newState"] = meta["new"]
        elif event.get("diagnosticEvent"):
            diag = event["diagnosticEvent"]
            if diag.get("severity") != "debug" and not diag.get("ephemeral"):
                diagnostics.append(
                    {
                        "urn": diag.get("urn", ""),
                        "severity": diag["severity"],
                        "message": diag["message"],
                    }
                )
        elif event.get("summaryEvent"):
            summary = event["summaryEvent"].get("resourceChanges") or {}
    return {"steps": list(steps.values()), "diagnostics": diagnostics, "changeSummary": summary}
