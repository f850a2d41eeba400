"""The Markdown of a review: one section per question a reviewer asks, and `render()`."""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "policy"), str(ROOT / "scripts")]

import pack  # noqa: E402  (policy/pack.py: the policies' levels)
import pod_rules  # noqa: E402  (policy/pod_rules.py: images and their pins)
from review_steps import (  # noqa: E402
    OPS,
    ROOT_TYPE,
    SIG_KEY,
    UNKNOWN,
    data_at_risk,
    digest_from_events,
    parent_of,
    resource,
    short,
    state_of,
    unretained,
    urn_type,
)

# --------------------------------------------------------------------------- sections


def counts(preview: Mapping[str, Any]) -> dict[str, int]:
    """Per operation, from the steps; `same` (not listed as steps) from the engine's summary."""
    found = Counter(step["op"] for step in preview.get("steps") or [])
    result = {op: found.get(op, 0) for op in OPS if op != "same"}
    result["same"] = (preview.get("changeSummary") or {}).get("same", 0)
    return result


def summary_section(preview: Mapping[str, Any]) -> list[str]:
    numbers = counts(preview)
    lines = [
        "| " + " | ".join(OPS) + " |",
        "|" + "---|" * len(OPS),
        "| " + " | ".join(str(numbers[op]) for op in OPS) + " |",
    ]
    engine = {op: n for op, n in (preview.get("changeSummary") or {}).items() if n}
    mine = {op: n for op, n in numbers.items() if n}
    if engine != mine:
        lines.append(f"\n> Steps and the engine's change summary differ: {engine}")
    return lines


def policy_section(events: list[Mapping[str, Any]]) -> list[str]:
    loaded = [e["policyLoadEvent"] for e in events if e.get("policyLoadEvent") is not None]
    violations = [e["policyEvent"] for e in events if e.get("policyEvent")]
    passed: Counter = Counter()
    failed: Counter = Counter()
    for e in events:
        summary = e.get("policyAnalyzeSummaryEvent") or e.get("policyAnalyzeStackSummaryEvent")
        if summary:
            passed.update(summary.get("passed") or [])
            failed.update(summary.get("failed") or [])
    if not (violations or passed or failed):
        return [
            "No policy pack ran in this preview (no policy events)."
            if not loaded
            else "The policy pack loaded but reported no results."
        ]
    lines = [
        "Resource policies count the resources they checked, stack policies the stack once.",
        "",
        "| policy | level | passed | failed |",
        "|---|---|---|---|",
    ]
    levels = {p.name: getattr(p.enforcement_level, "value", "") for p in pack.policies()}
    levels.update({v["policyName"]: v.get("enforcementLevel", "") for v in violations})
    violated = {v["policyName"] for v in violations}
    for name in sorted(set(passed) | set(failed) | violated):
        mark = "❌" if failed[name] or name in violated else "✅"
        lines.append(
            f"| {mark} {name} | {levels.get(name, '')} | {passed[name]} | {failed[name]} |"
        )
    lines += [""] if violations else []
    for v in violations:
        where = f" `{short(v['resourceUrn'])}`" if v.get("resourceUrn") else ""
        message = " ".join(v.get("message", "").split())
        lines.append(f"- **{v['policyName']}** ({v.get('enforcementLevel', '')}){where}: {message}")
    return lines


def change_text(step: Mapping[str, Any]) -> str:
    reasons = step.get("replaceReasons") or step.get("diffReasons") or []
    return f" ({', '.join(reasons)})" if reasons and step["op"] != "create" else ""


def components_section(steps: list[Mapping[str, Any]]) -> list[str]:
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for step in steps:
        if urn_type(step["urn"]) != ROOT_TYPE and step["op"] != "same":
            groups[parent_of(step)].append(step)
    lines = []
    for parent in sorted(groups, key=lambda p: (urn_type(p) != ROOT_TYPE, p)):
        title = "Top level" if urn_type(parent) in (ROOT_TYPE, "") else f"`{short(parent)}`"
        lines += [f"**{title}**", ""]
        for step in sorted(groups[parent], key=lambda s: (s["op"], s["urn"])):
            lines.append(f"- {step['op']} `{short(step['urn'])}`{change_text(step)}")
        lines.append("")
    return lines or ["Nothing changes."]


def images_section(steps: list[Mapping[str, Any]]) -> list[str]:
    rows = []
    for step in steps:
        new = dict(pod_rules.images_of(resource(step, "newState"))) if step.get("newState") else {}
        old = dict(pod_rules.images_of(resource(step, "oldState"))) if step.get("oldState") else {}
        for where in sorted(set(new) | set(old)):
            before, after = old.get(where), new.get(where)
            changed = before and after and before != after
            shown = f"{before} → {after}" if changed else after or before
            pinned = (
                "pinned" if after is None or pod_rules.floating(after) is None else "**floating**"
            )
            rows.append(f"| `{short(step['urn'])}` | {where} | `{shown}` | {pinned} |")
    if not rows:
        return ["No image changes in this preview."]
    return ["| resource | where | image | |", "|---|---|---|---|", *rows]


def show_value(value: Any) -> str:
    if isinstance(value, Mapping) and SIG_KEY in value or value == "[secret]":
        return "[secret]"
    if value == UNKNOWN:
        return "(known after up)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = text.replace("|", "\\|")  # a table cell
    return text if len(text) <= 160 else text[:157] + "..."


def outputs_section(steps: list[Mapping[str, Any]]) -> list[str]:
    stack = next((s for s in steps if urn_type(s["urn"]) == ROOT_TYPE), None)
    outputs = ((stack or {}).get("newState") or {}).get("outputs") or {}
    if not outputs:
        return ["The preview shows no stack outputs (they are known after `pulumi up`)."]
    lines = ["| output | value |", "|---|---|"]
    for key in sorted(outputs):
        value = outputs[key]
        if isinstance(value, Mapping) and SIG_KEY not in value:
            lines += [f"| {key}.{sub} | `{show_value(v)}` |" for sub, v in sorted(value.items())]
        else:
            lines.append(f"| {key} | `{show_value(value)}` |")
    return lines


def diagram_section(steps: list[Mapping[str, Any]], stack: str = "") -> list[str]:
    """Components (non-custom resources) under the stack, with their children's operations."""
    # `custom` is left out of streamed events when false (apitype.StepEventStateMetadata).
    components = [
        s for s in steps if not state_of(s).get("custom", False) and urn_type(s["urn"]) != ROOT_TYPE
    ]
    ops: dict[str, Counter] = defaultdict(Counter)
    for step in steps:
        if step["op"] != "same":
            ops[parent_of(step)][step["op"]] += 1
    name = f"stack {stack}".strip()
    lines = ["```mermaid", "flowchart LR", f'  stack(["{name}"])']
    ids = {c["urn"]: f"c{i}" for i, c in enumerate(sorted(components, key=lambda s: s["urn"]))}
    for comp in sorted(components, key=lambda s: s["urn"]):
        inside = ", ".join(f"{n} {op}" for op, n in sorted(ops[comp["urn"]].items()))
        label = f"{short(comp['urn'])}<br/>{comp['op']}; inside: {inside or 'no change'}"
        lines.append(f'  {ids[comp["urn"]]}["{label}"]')
        parent = parent_of(comp)
        lines.append(f"  {ids.get(parent, 'stack')} --> {ids[comp['urn']]}")
    lines.append("```")
    return lines


def diagnostics_section(preview: Mapping[str, Any]) -> list[str]:
    lines = []
    for d in preview.get("diagnostics") or []:
        if d.get("severity") in ("error", "warning"):
            text = " ".join(d.get("message", "").split())
            where = f" `{short(d['urn'])}`" if d.get("urn") else ""
            lines.append(f"- {d['severity']}{where}: {text[:400]}")
    return lines or ["None."]


def render(
    preview: Mapping[str, Any] | list, events: Iterable[Mapping[str, Any]] = (), stack: str = ""
) -> str:
    """The report, from the streamed engine events of `pulumi preview --json` (a list), or from
    a plain digest (a dict) plus, optionally, engine events with the policy results."""
    if isinstance(preview, list):
        digest, events = digest_from_events(preview), preview
    else:
        digest = preview
    steps = list(digest.get("steps") or [])
    events = list(events)
    title = f"# Preview review{f': stack `{stack}`' if stack else ''}"
    risk = data_at_risk(steps)
    loose = unretained(steps)
    policy = policy_section(events)
    failed = any(e.get("policyEvent", {}).get("enforcementLevel") == "mandatory" for e in events)
    parts = [title, ""]
    parts += (
        ["## ⚠ Data at risk", "", *risk, ""]
        if risk
        else ["No replacement or deletion touches data (claims, volumes, namespaces).", ""]
    )
    if loose:
        parts += ["## ⚠ Data not kept on destroy", "", *loose, ""]
    if failed:
        parts += ["**Mandatory policy violations: `pulumi up` would stop.**", ""]
    parts += ["## Summary", "", *summary_section(digest), ""]
    parts += ["## Policy results", "", *policy, ""]
    parts += ["## Changes by component", "", *components_section(steps)]
    parts += ["## Images", "", *images_section(steps), ""]
    parts += ["## Outputs", "", *outputs_section(steps), ""]
    parts += ["## Components", "", *diagram_section(steps, stack), ""]
    parts += ["## Diagnostics (errors and warnings)", "", *diagnostics_section(digest), ""]
    return "\n".join(parts).rstrip("\n") + "\n"
