"""scripts/review.py: the Markdown report of one preview, rendered from the engine's structured
output (`pulumi preview --json` digest + `--event-log` events), and the `make preview` hook."""

from __future__ import annotations

import json
import sys

import pytest

from harness import ROOT, SECRET_MARK, SECRET_SIG

sys.path.insert(0, str(ROOT / "scripts"))
import review  # noqa: E402
import review_report  # noqa: E402
import review_steps  # noqa: E402

STACK = "urn:pulumi:icc::icc-ollama::pulumi:pulumi:Stack::icc-ollama-icc"
OLLAMA = "urn:pulumi:icc::icc-ollama::icc:ollama:OllamaServer::ollama"
WEBUI = "urn:pulumi:icc::icc-ollama::icc:webui:OpenWebUI::open-webui"


def sts_urn(parent_type: str, name: str) -> str:
    return f"urn:pulumi:icc::icc-ollama::{parent_type}$kubernetes:apps/v1:StatefulSet::{name}"


def statefulset(image: str, retention: str = "Retain") -> dict:
    return {
        "spec": {
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": retention,
                "whenScaled": "Retain",
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "models"},
                    "spec": {"resources": {"requests": {"storage": "20Gi"}}},
                }
            ],
            "template": {"spec": {"containers": [{"name": "ollama", "image": image}]}},
        }
    }


def state(
    urn: str, typ: str, inputs: dict, parent: str = STACK, custom: bool = True, **extra
) -> dict:
    return {"urn": urn, "type": typ, "custom": custom, "parent": parent, "inputs": inputs, **extra}


def digest() -> dict:
    """Shaped like pkg/display/json.go PreviewDigest: an update of Ollama's image, a replaced
    Open WebUI StatefulSet whose claims are deleted, a created component, one error."""
    ollama_sts = sts_urn("icc:ollama:OllamaServer", "ollama")
    webui_sts = sts_urn("icc:webui:OpenWebUI", "open-webui")
    sts = "kubernetes:apps/v1:StatefulSet"
    return {
        "steps": [
            {
                "op": "same",
                "urn": STACK,
                "newState": state(
                    STACK,
                    "pulumi:pulumi:Stack",
                    {},
                    "",
                    False,
                    outputs={
                        "namespace": "wabc123-default",
                        "nextSteps": {"login": "open http://x"},
                        "pipe": "a | b",
                        "secretThing": {SECRET_MARK: SECRET_SIG, "plaintext": "[secret]"},
                    },
                ),
            },
            {
                "op": "create",
                "urn": OLLAMA,
                "newState": state(OLLAMA, "icc:ollama:OllamaServer", {}, custom=False),
            },
            {
                "op": "update",
                "urn": ollama_sts,
                "diffReasons": ["spec"],
                "oldState": state(ollama_sts, sts, statefulset("ollama/ollama:0.32.14"), OLLAMA),
                "newState": state(ollama_sts, sts, statefulset("ollama/ollama:0.32.15"), OLLAMA),
            },
            {
                "op": "replace",
                "urn": webui_sts,
                "replaceReasons": ["spec.volumeClaimTemplates"],
                "oldState": state(webui_sts, sts, statefulset("x/y:latest", "Delete"), WEBUI),
                "newState": state(webui_sts, sts, statefulset("x/y:latest", "Delete"), WEBUI),
            },
        ],
        "diagnostics": [
            {"urn": webui_sts, "message": "error: something refused\n", "severity": "error"},
            {"message": "just info", "severity": "info"},
        ],
        "changeSummary": {"create": 1, "update": 1, "replace": 1, "same": 9},
    }


EVENTS = [
    {"sequence": 1, "policyLoadEvent": {}},
    {
        "sequence": 2,
        "policyAnalyzeSummaryEvent": {
            "resourceUrn": sts_urn("icc:webui:OpenWebUI", "open-webui"),
            "policyPackName": "p",
            "passed": ["gpu-tolerates-v100"],
            "failed": ["images-pinned", "data-retained"],
        },
    },
    {
        "sequence": 3,
        "policyEvent": {
            "resourceUrn": sts_urn("icc:webui:OpenWebUI", "open-webui"),
            "policyName": "images-pinned",
            "message": (
                "Every image is pinned.\nStatefulSet open-webui: uses the floating tag :latest"
            ),
            "enforcementLevel": "mandatory",
            "policyPackName": "p",
        },
    },
    {
        "sequence": 4,
        "policyAnalyzeStackSummaryEvent": {"policyPackName": "p", "passed": ["quota-fits"]},
    },
]


def test_data_loss_is_flagged_first():
    report = review_report.render(digest(), EVENTS, "icc")
    first = report.split("## Summary")[0]
    assert "## ⚠ Data at risk" in first
    assert (
        "**replace** `StatefulSet open-webui` (replace because: spec.volumeClaimTemplates)"
    ) in first
    assert "**the data is deleted**" in first
    assert "Mandatory policy violations" in first
    assert "StatefulSet ollama" not in first  # an update replaces nothing


def test_kept_claims_are_said_to_be_kept():
    preview = digest()
    preview["steps"][3]["oldState"] = state(
        "x", "kubernetes:apps/v1:StatefulSet", statefulset("a/b:1.0", "Retain")
    )
    report = review_report.render(preview, [], "icc")
    assert "kept: claims kept (persistentVolumeClaimRetentionPolicy.whenDeleted: Retain)" in report


def test_docker_volume_without_retain_on_delete_is_flagged():
    urn = "urn:pulumi:docker::icc-ollama::docker:index/volume:Volume::models"
    preview = {
        "steps": [
            {
                "op": "create",
                "urn": urn,
                "newState": state(urn, "docker:index/volume:Volume", {"name": "ollama-models"}),
            }
        ],
        "changeSummary": {"create": 1},
    }
    assert "## ⚠ Data not kept on destroy" in review_report.render(preview)
    preview["steps"][0]["newState"]["retainOnDelete"] = True
    assert "Data not kept" not in review_report.render(preview)


def test_summary_counts_come_from_the_steps_and_match_the_engine():
    assert review_report.counts(digest()) == {
        "create": 1,
        "update": 1,
        "replace": 1,
        "delete": 0,
        "same": 9,
    }
    report = review_report.render(digest(), EVENTS)
    assert (
        "| create | update | replace | delete | same |\n|---|---|---|---|---|\n"
        "| 1 | 1 | 1 | 0 | 9 |"
    ) in report
    assert "differ" not in report
    broken = digest()
    broken["changeSummary"]["create"] = 2
    assert "Steps and the engine's change summary differ" in review_report.render(broken)


def test_policy_results_table_and_messages():
    section = review_report.render(digest(), EVENTS).split("## Policy results")[1].split("##")[0]
    assert "| ❌ images-pinned | mandatory | 0 | 1 |" in section
    assert "| ✅ gpu-tolerates-v100 | mandatory | 1 | 0 |" in section
    assert "| ✅ quota-fits | mandatory | 1 | 0 |" in section
    assert (
        "- **images-pinned** (mandatory) `StatefulSet open-webui`: Every image is pinned. "
        "StatefulSet open-webui: uses the floating tag :latest"
    ) in section
    assert "No policy pack ran" in review_report.render(digest(), [])


def test_changes_are_grouped_by_component():
    section = (
        review_report.render(digest()).split("## Changes by component")[1].split("## Images")[0]
    )
    assert "**Top level**\n\n- create `OllamaServer ollama`" in section
    assert "**`OllamaServer ollama`**\n\n- update `StatefulSet ollama` (spec)" in section
    assert (
        "**`OpenWebUI open-webui`**\n\n- replace `StatefulSet open-webui` "
        "(spec.volumeClaimTemplates)"
    ) in section


def test_images_show_versions_and_floating_tags():
    section = review_report.render(digest()).split("## Images")[1].split("## Outputs")[0]
    assert "`ollama/ollama:0.32.14 → ollama/ollama:0.32.15` | pinned" in section
    assert "`x/y:latest` | **floating**" in section


def test_outputs_hide_secrets_and_flatten_one_level():
    section = review_report.render(digest()).split("## Outputs")[1].split("## Components")[0]
    assert "| namespace | `wabc123-default` |" in section
    assert "| nextSteps.login | `open http://x` |" in section
    assert "| pipe | `a \\| b` |" in section
    assert "| secretThing | `[secret]` |" in section


def test_mermaid_diagram_lists_components_with_their_changes():
    section = review_report.render(digest()).split("## Components")[1].split("## Diagnostics")[0]
    assert section.strip().startswith("```mermaid\nflowchart LR")
    assert '["OllamaServer ollama<br/>create; inside: 1 update"]' in section
    assert "stack --> c0" in section
    # Streamed events leave `custom` out when it is false: still a component.
    streamed = digest()
    del streamed["steps"][1]["newState"]["custom"]
    assert '["OllamaServer ollama<br/>create; inside: 1 update"]' in review_report.render(streamed)


def test_only_errors_and_warnings_are_listed():
    section = review_report.render(digest()).split("## Diagnostics")[1]
    assert "- error `StatefulSet open-webui`: error: something refused" in section
    assert "just info" not in section


def as_events(preview: dict, policy_events: list) -> list:
    """The same preview as the CLI streams it (PULUMI_ENABLE_STREAMING_JSON_PREVIEW)."""
    events = [{"sequence": 0, "preludeEvent": {"config": {}}}]
    for step in preview["steps"]:
        meta = {
            "op": step["op"],
            "urn": step["urn"],
            "type": review_steps.urn_type(step["urn"]),
            "old": step.get("oldState"),
            "new": step.get("newState"),
            "logical": True,
            "keys": step.get("replaceReasons"),
            "diffs": step.get("diffReasons"),
        }
        events.append({"resourcePreEvent": {"metadata": meta, "planning": True}})
        if step["op"] == "replace":  # the engine's two non-logical halves of a replacement
            for half in ("create-replacement", "delete-replaced"):
                events.append(
                    {
                        "resourcePreEvent": {
                            "metadata": {**meta, "op": half, "logical": False},
                            "planning": True,
                        }
                    }
                )
        events.append({"resOutputsEvent": {"metadata": meta, "planning": True}})
    events += [
        {"diagnosticEvent": {"prefix": "", **d, "color": "never"}} for d in preview["diagnostics"]
    ]
    events.append({"diagnosticEvent": {"message": "registering", "severity": "debug"}})
    events += policy_events
    events.append({"summaryEvent": {"resourceChanges": preview["changeSummary"]}})
    return events


def test_streamed_events_render_like_the_digest_with_its_policy_events():
    assert review_report.render(as_events(digest(), EVENTS), stack="icc") == review_report.render(
        digest(), EVENTS, "icc"
    )


def test_main_renders_saved_output_and_prints_the_path(tmp_path, capsys):
    saved = tmp_path / "p.jsonl"
    saved.write_text("\n".join(json.dumps(e) for e in as_events(digest(), EVENTS)) + "\n")
    out = tmp_path / "r.md"
    assert review.main(["icc", "--from-json", str(saved), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    assert out.read_text() == review_report.render(digest(), EVENTS, "icc")
    saved.write_text(json.dumps(digest()))  # a plain digest: no policy results
    assert review.main(["icc", "--from-json", str(saved), "--out", str(out)]) == 0
    assert "No policy pack ran" in out.read_text()


# --------------------------------------------------------------------------- recorded previews

DATA = ROOT / "tests" / "data"  # streamed events of real previews (tests/e2e, E2E_RECORD)


def recorded(name: str) -> list:
    return review.parse_output((DATA / name).read_text())


def summary_row(report: str) -> dict[str, int]:
    """The report's Summary table as {operation: count}, operations with a count only (the
    engine's changeSummary lists zeros too; tests/e2e/test_policy_engine.py uses this)."""
    summary = report.split("## Summary")[1].split("##")[0]
    header, _, values = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in summary.splitlines()
        if line.startswith("|")
    ]
    return {op: int(n) for op, n in zip(header, values, strict=True) if int(n)}


@pytest.mark.parametrize("name", ["preview-icc.jsonl", "preview-minikube.jsonl"])
def test_recorded_clean_previews(name):
    events = recorded(name)
    report = review_report.render(events, stack="icc")
    engine = next(e["summaryEvent"] for e in events if e.get("summaryEvent"))["resourceChanges"]
    assert summary_row(report) == {op: n for op, n in engine.items() if n}
    assert "❌" not in report and "Data at risk" not in report and "Data not kept" not in report
    policies = report.split("## Policy results")[1].split("##")[0]
    assert policies.count("✅") == len(review_report.pack.DESCRIPTIONS)
    assert "`ollama/ollama:0.32.15` | pinned" in report
    assert "flowchart LR" in report and "OllamaServer ollama<br/>create; inside:" in report


def test_recorded_minikube_namespace_is_kept_on_destroy():
    namespace = [
        e["resourcePreEvent"]["metadata"]
        for e in recorded("preview-minikube.jsonl")
        if e.get("resourcePreEvent", {}).get("metadata", {}).get("type")
        == "kubernetes:core/v1:Namespace"
    ]
    assert namespace and namespace[0]["new"]["retainOnDelete"] is True
    # Without it, the review names the namespace as data lost on destroy.
    events = recorded("preview-minikube.jsonl")
    for event in events:
        meta = (event.get("resourcePreEvent") or event.get("resOutputsEvent") or {}).get("metadata")
        if meta and meta["type"] == "kubernetes:core/v1:Namespace":
            meta["new"]["retainOnDelete"] = False
    assert "`Namespace namespace` holds every claim in the namespace" in review_report.render(
        events
    )


def test_recorded_violation_is_at_the_top():
    report = review_report.render(recorded("preview-icc-violation.jsonl"))
    top = report.split("## Summary")[0]
    assert "Mandatory policy violations" in top
    assert "| ❌ gpu-tolerates-v100 | mandatory | 18 | 1 |" in report
    assert "- **gpu-tolerates-v100** (mandatory) `StatefulSet ollama`:" in report
