#!/usr/bin/env python3
"""A Markdown review of one stack preview, fit to paste into a merge request.

    make review STACK=icc                       (runs scripts/up.sh icc review)
    .venv/bin/python scripts/review.py icc [--out FILE]
    .venv/bin/python scripts/review.py icc --from-json preview.json   (saved digest or events)

It runs `pulumi preview --json` with the policy pack and PULUMI_ENABLE_STREAMING_JSON_PREVIEW set,
so the CLI prints the engine's events as JSON lines instead of its digest: the steps with old and
new state, diagnostics, outputs, the change summary and the policy events (violations and the
per-policy pass/fail summaries, which the plain digest leaves out). It renders only that
structured output, never the human-readable preview text. `render()` is pure and also takes a
plain `pulumi preview --json` digest (then without policy results).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "policy")]

import pack  # noqa: E402  (policy/pack.py: the policies' levels)
import rules  # noqa: E402  (policy/rules.py: pod templates, images, secret markers)

OPS = ("create", "update", "replace", "delete", "same")
# Steps that make a resource go away (or come back empty) during `pulumi up`.
LOSING_OPS = {"delete", "replace", "create-replacement", "delete-replaced", "discard",
              "discard-replaced"}
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


def resource(step: Mapping[str, Any], which: str = "") -> rules.Resource:
    state = step.get(which) if which else state_of(step)
    state = state or {}
    return rules.Resource(state.get("type") or urn_type(step["urn"]), urn_name(step["urn"]),
                          state.get("inputs") or {}, step["urn"],
                          retain_on_delete=bool(state.get("retainOnDelete")))


# --------------------------------------------------------------------------- data


def claims_of(res: rules.Resource) -> list[str]:
    """What data a resource holds, in words; empty when it holds none."""
    if res.kind == "StatefulSet":
        return [f"claim template {rules.get(t, 'metadata', 'name') or '?'} "
                f"({rules.get(t, 'spec', 'resources', 'requests', 'storage') or '?'})"
                for t in rules.items(rules.get(res.props, "spec", "volumeClaimTemplates"))]
    if res.type == "kubernetes:core/v1:PersistentVolumeClaim":
        size = rules.get(res.props, "spec", "resources", "requests", "storage") or "?"
        return [f"claim ({size})"]
    if res.type == "kubernetes:core/v1:Namespace":
        return ["every claim in the namespace"]
    if res.type == "docker:index/volume:Volume":
        return [f"Docker volume {rules.get(res.props, 'name') or res.name}"]
    return []


def kept_because(res: rules.Resource) -> Optional[str]:
    if res.retain_on_delete:
        return "retainOnDelete: the object stays on the cluster/host"
    if res.kind == "StatefulSet":
        when = rules.get(res.props, "spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted")
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
        why = f" (replace because: {', '.join(step['replaceReasons'])})" \
            if step.get("replaceReasons") else ""
        kept = kept_because(res)
        verdict = f"kept: {kept}" if kept else "**the data is deleted**"
        lines.append(f"- **{step['op']}** `{short(step['urn'])}`{why}: holds "
                     f"{', '.join(held)}; {verdict}")
    return lines


def unretained(steps: list[Mapping[str, Any]]) -> list[str]:
    """Data resources this preview leaves without protection from `pulumi destroy`."""
    lines = []
    for step in steps:
        if not step.get("newState"):
            continue
        res = resource(step, "newState")
        if claims_of(res) and not kept_because(res):
            lines.append(f"- `{short(step['urn'])}` holds {', '.join(claims_of(res))} and is "
                         f"deleted by `pulumi destroy` (keepDataOnDestroy=false?)")
    return lines


# --------------------------------------------------------------------------- sections


def counts(preview: Mapping[str, Any]) -> dict[str, int]:
    """Per operation, from the steps; `same` (not listed as steps) from the engine's summary."""
    found = Counter(step["op"] for step in preview.get("steps") or [])
    result = {op: found.get(op, 0) for op in OPS if op != "same"}
    result["same"] = (preview.get("changeSummary") or {}).get("same", 0)
    return result


def summary_section(preview: Mapping[str, Any]) -> list[str]:
    numbers = counts(preview)
    lines = ["| " + " | ".join(OPS) + " |", "|" + "---|" * len(OPS),
             "| " + " | ".join(str(numbers[op]) for op in OPS) + " |"]
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
        return ["No policy pack ran in this preview (no policy events)."
                if not loaded else "The policy pack loaded but reported no results."]
    lines = ["Resource policies count the resources they checked, stack policies the stack once.",
             "", "| policy | level | passed | failed |", "|---|---|---|---|"]
    levels = {name: "advisory" if name in pack.ADVISORY else "mandatory"
              for name in pack.DESCRIPTIONS}
    levels.update({v["policyName"]: v.get("enforcementLevel", "") for v in violations})
    violated = {v["policyName"] for v in violations}
    for name in sorted(set(passed) | set(failed) | violated):
        mark = "❌" if failed[name] or name in violated else "✅"
        lines.append(f"| {mark} {name} | {levels.get(name, '')} | {passed[name]} | "
                     f"{failed[name]} |")
    lines += [""] if violations else []
    for v in violations:
        where = f" `{short(v['resourceUrn'])}`" if v.get("resourceUrn") else ""
        message = " ".join(v.get("message", "").split())
        lines.append(f"- **{v['policyName']}** ({v.get('enforcementLevel', '')}){where}: "
                     f"{message}")
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
        new = dict(rules.images_of(resource(step, "newState"))) if step.get("newState") else {}
        old = dict(rules.images_of(resource(step, "oldState"))) if step.get("oldState") else {}
        for where in sorted(set(new) | set(old)):
            before, after = old.get(where), new.get(where)
            changed = before and after and before != after
            shown = f"{before} → {after}" if changed else after or before
            pinned = "pinned" if after is None or rules.floating(after) is None else "**floating**"
            rows.append(f"| `{short(step['urn'])}` | {where} | `{shown}` | {pinned} |")
    if not rows:
        return ["No image changes in this preview."]
    return ["| resource | where | image | |", "|---|---|---|---|", *rows]


def show_value(value: Any) -> str:
    if isinstance(value, Mapping) and rules.SIG_KEY in value or value == "[secret]":
        return "[secret]"
    if rules.is_unknown(value):
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
        if isinstance(value, Mapping) and rules.SIG_KEY not in value:
            lines += [f"| {key}.{sub} | `{show_value(v)}` |" for sub, v in sorted(value.items())]
        else:
            lines.append(f"| {key} | `{show_value(value)}` |")
    return lines


def diagram_section(steps: list[Mapping[str, Any]], stack: str = "") -> list[str]:
    """Components (non-custom resources) under the stack, with their children's operations."""
    # `custom` is left out of streamed events when false (apitype.StepEventStateMetadata).
    components = [s for s in steps if not state_of(s).get("custom", False)
                  and urn_type(s["urn"]) != ROOT_TYPE]
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


def digest_from_events(events: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The streamed engine events in the shape of the plain digest (pkg/display/json.go)."""
    steps: dict[str, dict[str, Any]] = {}
    diagnostics, summary = [], {}
    for event in events:
        if event.get("resourcePreEvent"):
            meta = event["resourcePreEvent"]["metadata"]
            if not meta.get("logical"):
                # A replacement's create-replacement/delete-replaced halves: the digest and the
                # change summary count only the logical `replace` (engine/update.go, Logical()).
                continue
            steps[meta["urn"]] = {"op": meta["op"], "urn": meta["urn"],
                                  "oldState": meta.get("old"), "newState": meta.get("new"),
                                  "diffReasons": meta.get("diffs") or [],
                                  "replaceReasons": meta.get("keys") or []}
        elif event.get("resOutputsEvent"):
            meta = event["resOutputsEvent"]["metadata"]
            if meta["urn"] in steps and meta.get("new"):
                steps[meta["urn"]]["newState"] = meta["new"]
        elif event.get("diagnosticEvent"):
            diag = event["diagnosticEvent"]
            if diag.get("severity") != "debug" and not diag.get("ephemeral"):
                diagnostics.append({"urn": diag.get("urn", ""), "severity": diag["severity"],
                                    "message": diag["message"]})
        elif event.get("summaryEvent"):
            summary = event["summaryEvent"].get("resourceChanges") or {}
    return {"steps": list(steps.values()), "diagnostics": diagnostics, "changeSummary": summary}


def render(preview: Mapping[str, Any] | list, events: Iterable[Mapping[str, Any]] = (),
           stack: str = "") -> str:
    """The report, from the streamed engine events of `pulumi preview --json` (a list), or from
    a plain digest (a dict) plus, optionally, engine events with the policy results."""
    if isinstance(preview, list):
        preview, events = digest_from_events(preview), preview
    steps = list(preview.get("steps") or [])
    events = list(events)
    title = f"# Preview review{f': stack `{stack}`' if stack else ''}"
    risk = data_at_risk(steps)
    loose = unretained(steps)
    policy = policy_section(events)
    failed = any(e.get("policyEvent", {}).get("enforcementLevel") == "mandatory" for e in events)
    parts = [title, ""]
    parts += ["## ⚠ Data at risk", "", *risk, ""] if risk else \
        ["No replacement or deletion touches data (claims, volumes, namespaces).", ""]
    if loose:
        parts += ["## ⚠ Data not kept on destroy", "", *loose, ""]
    if failed:
        parts += ["**Mandatory policy violations: `pulumi up` would stop.**", ""]
    parts += ["## Summary", "", *summary_section(preview), ""]
    parts += ["## Policy results", "", *policy, ""]
    parts += ["## Changes by component", "", *components_section(steps)]
    parts += ["## Images", "", *images_section(steps), ""]
    parts += ["## Outputs", "", *outputs_section(steps), ""]
    parts += ["## Components", "", *diagram_section(steps, stack), ""]
    parts += ["## Diagnostics (errors and warnings)", "", *diagnostics_section(preview), ""]
    return "\n".join(parts).rstrip("\n") + "\n"


# --------------------------------------------------------------------------- running a preview


def parse_output(text: str) -> dict | list:
    """A plain digest (one JSON document) or streamed engine events (one JSON object a line)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def pack_config(stack: str, project_dir: Path) -> str:
    """The pack's facts for this stack (scripts/policy_config.py), as a file path."""
    config = subprocess.run([sys.executable, str(ROOT / "scripts" / "policy_config.py"), stack,
                             "--project-dir", str(project_dir)], capture_output=True, text=True)
    if config.returncode != 0:
        sys.exit(config.stderr.strip())
    return config.stdout.strip()


def run_preview(stack: str, extra: list[str], project_dir: Path = ROOT,
                pack: Path = ROOT / "policy",
                pack_facts: Optional[str] = None) -> tuple[list, int]:
    """`pulumi preview --json` as engine events, with the pack: (events, exit code)."""
    facts = pack_facts or pack_config(stack, project_dir)
    env = {**os.environ, "PULUMI_ENABLE_STREAMING_JSON_PREVIEW": "true"}
    proc = subprocess.run(
        ["pulumi", "preview", "--stack", stack, "--json", "--non-interactive",
         "--policy-pack", str(pack), "--policy-pack-config", facts, *extra],
        cwd=project_dir, env=env, capture_output=True, text=True)
    try:
        events = parse_output(proc.stdout)
    except json.JSONDecodeError:
        events = None
    if not isinstance(events, list) or not events:
        sys.exit(f"pulumi preview --json gave no engine events (exit {proc.returncode}):\n"
                 f"{(proc.stderr or proc.stdout).strip()[-3000:]}")
    return events, proc.returncode


def default_out(stack: str) -> Path:
    home = Path(os.environ.get("ICC_OLLAMA_HOME", Path.home() / ".icc-ollama"))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return home / "reviews" / f"review-{stack}-{stamp}.md"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--from-json", type=Path,
                        help="render a saved `pulumi preview --json` (digest or streamed events)")
    parser.add_argument("--project-dir", type=Path, default=ROOT)
    parser.add_argument("--policy-pack", type=Path, default=ROOT / "policy",
                        help="the pack folder (or an executable analyzer)")
    parser.add_argument("--policy-pack-config",
                        help="the pack's facts (default: made by scripts/policy_config.py)")
    args, extra = parser.parse_known_args(argv)
    if args.from_json:
        preview, code = parse_output(args.from_json.read_text()), 0
    else:
        preview, code = run_preview(args.stack, extra, args.project_dir, args.policy_pack,
                                    args.policy_pack_config)
    out = args.out or default_out(args.stack)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(preview, stack=args.stack))
    print(f"Review of stack {args.stack} written to {out}")
    if code != 0:
        print(f"(the preview itself failed with exit code {code}; see the report)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
