"""The policy pack and `make review` with the real Pulumi CLI 3.259.0 (scripts/e2e-tools.sh).

Previews only, so no control plane: the real CLI, the tier's Python language host and the
Kubernetes provider (which previews without reaching a cluster) run the unchanged program.

How the pack is launched: the CLI runs a `runtime: python` pack folder through the language
host's RunPlugin. This tier's host is the stand-in from sdk/v3 v3.79.0 (the proxy does not serve
the 3.259.0 host); it runs `python <RunPluginRequest.program>`, a field the 3.259.0 engine no
longer fills (it sends `info` instead), so Python runs `''`: the project folder's own
__main__.py, which exits, and the engine reports that the pack "failed to start".
`test_pack_folder_needs_a_newer_language_host` pins exactly that. The old
`pulumi-analyzer-policy-python` plugin is only used when no Python language host is found
(pkg/resource/plugin/analyzer_plugin.go NewPolicyAnalyzer), which cannot be arranged while the
same host must run the program. So the other tests give --policy-pack an executable instead,
which 3.259.0 runs directly as an analyzer plugin (same function): a two-line launcher in the
test's temp folder that starts `python -u -m pulumi.policy <engine> policy/`, the command the
back-compat plugin runs. The engine, the analyzer protocol and the enforcement are the real ones,
and the pack is given nothing but `--policy-pack`: it finds the stack's facts itself, from the
stack name in the URNs and the stack's own Pulumi.<stack>.yaml (policy/facts.py); the engine
starts an executable analyzer in the project folder, where it finds Pulumi.yaml.

The docker stack is not previewed here: this tier builds no Docker provider plugin. The pack is
checked against it under mocks (tests/test_policy.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from e2e_support import (
    ICC_NAMESPACE,
    REQUIRED_TOOLS,
    ROOT,
    claim_volumes,
    create_stack,
    install_plugins,
    missing_tools,
    policy_launcher,
    project_copy,
    pulumi_env,
    run,
    stack_settings,
    tools_bin,
)

pytestmark = pytest.mark.e2e

PACK = ROOT / "policy"
sys.path.insert(0, str(ROOT / "scripts"))
import review  # noqa: E402
import review_report  # noqa: E402
import review_steps  # noqa: E402
from test_review import summary_row  # noqa: E402  (tests/: the report's Summary table)

# Previews only: the engine, the language host and the Kubernetes provider, no control plane. The
# provider previews without reaching a cluster (no kubeconfig here), as on a laptop offline.
ENGINE_TOOLS = REQUIRED_TOOLS[:4]


@pytest.fixture(scope="module")
def policy_env(tmp_path_factory) -> dict[str, str]:
    bin_dir = tools_bin()
    missing = missing_tools(bin_dir, ENGINE_TOOLS)
    if missing:
        pytest.skip(
            f"real-engine tools not built in {bin_dir} (missing: {', '.join(missing)}); "
            f"run scripts/e2e-tools.sh"
        )
    tmp = tmp_path_factory.mktemp("policy")
    home, state = tmp / "pulumi-home", tmp / "state"
    home.mkdir()
    state.mkdir()
    env = pulumi_env(bin_dir, home, state)
    env["HOME"] = str(tmp)  # no ~/.kube/config: the provider previews offline
    install_plugins(bin_dir, env)
    env.update({"E2E_STATE_DIR": str(state), "E2E_BIN": str(bin_dir), "E2E_TMP": str(tmp)})
    return env


@pytest.fixture(scope="module")
def launcher(policy_env) -> Path:
    """The pack as an executable analyzer (see the module docstring)."""
    return policy_launcher(Path(policy_env["E2E_TMP"]), ROOT)


def new_stack(name: str, target: str, env: dict[str, str], **overrides):
    tmp = Path(env["E2E_TMP"])
    workdir = project_copy(tmp / f"project-{name}", Path(env["E2E_STATE_DIR"]))
    settings = {
        "target": target,
        "ollama": {"models": ["llama3.2:1b"]},
        # Previews without a cluster: the monitoring charts (stand-ins offline) are deployed
        # through the provider's Chart v4 in test_engine.py, with a cluster.
        "monitoring": {"enabled": False},
    }
    if target == "icc":
        settings.update({"namespace": ICC_NAMESPACE, "createNamespace": False})
    settings.update(overrides)
    return create_stack(name, workdir, env, Path(env["E2E_BIN"]), settings)


def preview(stack, pack: Path, stream: bool = True):
    """`pulumi preview --json` with the pack (one flag): engine events (streamed) or the plain
    digest."""
    env = {**stack.env, "PULUMI_ENABLE_STREAMING_JSON_PREVIEW": "true" if stream else ""}
    proc = run(
        [
            str(stack.bin_dir / "pulumi"),
            "preview",
            "--json",
            "--non-interactive",
            "--stack",
            stack.name,
            "--policy-pack",
            str(pack),
        ],
        env=env,
        cwd=stack.workdir,
        check=False,
    )
    return proc, review.parse_output(proc.stdout) if proc.stdout.strip() else []


def policy_summaries(events) -> tuple[set[str], set[str]]:
    passed, failed = set(), set()
    for event in events:
        summary = event.get("policyAnalyzeSummaryEvent") or event.get(
            "policyAnalyzeStackSummaryEvent"
        )
        if summary:
            passed.update(summary.get("passed") or [])
            failed.update(summary.get("failed") or [])
    return passed, failed


def run_review(stack, launcher: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "review.py"),
            stack.name,
            "--project-dir",
            str(stack.workdir),
            "--policy-pack",
            str(launcher),
            "--out",
            str(out),
        ],
        env=stack.env,
        capture_output=True,
        text=True,
    )


def keep_recording(events: list, name: str) -> None:
    """E2E_RECORD=tests/data keeps the streamed events (debug lines dropped) for the unit tests."""
    folder = os.environ.get("E2E_RECORD")
    if folder:
        kept = [e for e in events if (e.get("diagnosticEvent") or {}).get("severity") != "debug"]
        (Path(folder) / name).write_text("".join(json.dumps(e) + "\n" for e in kept))


def keep_sample(report: Path, name: str) -> None:
    """E2E_REVIEW_SAMPLES=docs keeps the report there (how docs/review-sample-*.md are made)."""
    folder = os.environ.get("E2E_REVIEW_SAMPLES")
    if folder:
        shutil.copy(report, Path(folder) / name)


@pytest.mark.parametrize("target", ["icc", "minikube"])
def test_preview_passes_the_pack(target, policy_env, launcher):
    stack = new_stack(f"e2e-policy-{target}", target, policy_env)
    proc, events = preview(stack, launcher)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    keep_recording(events, f"preview-{target}.jsonl")
    violations = [e["policyEvent"] for e in events if e.get("policyEvent")]
    assert violations == []
    passed, failed = policy_summaries(events)
    # Every policy ran somewhere and passed (resource policies per resource, stack ones once);
    # stack-facts among them: the pack read the stack's facts from its Pulumi.<stack>.yaml.
    assert failed == set()
    assert passed == {p.name for p in review_report.pack.policies()}
    assert review_steps.digest_from_events(events)["changeSummary"].get("create", 0) > 5


def test_violating_setting_fails_with_the_policy_message(policy_env, launcher):
    # The GPU stays on, the V100 toleration is dropped: the program accepts it, the pack does not.
    stack = new_stack(
        "e2e-policy-icc-bad",
        "icc",
        policy_env,
        ollama={"models": ["llama3.2:1b"], "tolerations": []},
    )
    proc, events = preview(stack, launcher)
    assert proc.returncode != 0
    keep_recording(events, "preview-icc-violation.jsonl")
    violations = [e["policyEvent"] for e in events if e.get("policyEvent")]
    assert [(v["policyName"], v["enforcementLevel"]) for v in violations] == [
        ("gpu-tolerates-v100", "mandatory")
    ], violations
    assert "does not tolerate the V100 taint gpu-tesla-v100:NoSchedule" in violations[0]["message"]
    assert violations[0]["resourceUrn"].endswith("kubernetes:apps/v1:StatefulSet::ollama")
    # Without --json the same words reach the person at the terminal.
    text = stack.pulumi("preview", "--policy-pack", str(launcher), check=False).stdout
    assert "gpu-tolerates-v100" in text and "does not tolerate the V100 taint" in text, text
    # The review puts it at the top and exits with the preview's code.
    out = stack.workdir / "review.md"
    proc = run_review(stack, launcher, out)
    assert proc.returncode != 0 and str(out) in proc.stdout
    top = out.read_text().split("## Summary")[0]
    assert "**Mandatory policy violations: `pulumi up` would stop.**" in top
    # Failed on the one StatefulSet, passed on every other resource (their number varies).
    row = r"\| ❌ gpu-tolerates-v100 \| mandatory \| [1-9][0-9]* \| 1 \|"
    assert re.search(row, out.read_text()), out.read_text()
    keep_sample(out, "review-sample-icc-violation.md")


QUOTA_MODEL_LINE = "return [ollama_pods(release), webui_pods(release), *monitoring_pods(release)]"


def test_the_pack_counts_what_the_program_misses_with_facts_from_the_stack_file(
    policy_env, launcher
):
    """Bare `--policy-pack`: quota-fits takes the quota from the stack's own file and counts the
    rendered pods itself. In this copy the program's quota model is broken (it forgets Open
    WebUI's pod), so the program accepts a budget the release exceeds; the pack stops it."""
    stack = new_stack(
        "e2e-policy-icc-quota", "icc", policy_env, quota={"requests": {"memory": "8.5Gi"}}
    )
    model = stack.workdir / "settings" / "pods.py"
    assert QUOTA_MODEL_LINE in model.read_text(), "settings/pods.py changed: update this test"
    model.write_text(model.read_text().replace(QUOTA_MODEL_LINE, "return [ollama_pods(release)]"))
    proc, events = preview(stack, launcher)
    assert proc.returncode != 0
    violations = [e["policyEvent"] for e in events if e.get("policyEvent")]
    assert [(v["policyName"], v["enforcementLevel"]) for v in violations] == [
        ("quota-fits", "mandatory")
    ], violations
    message = violations[0]["message"]
    assert "quota.requests.memory is 8.5Gi" in message and "StatefulSet open-webui" in message


def test_review_numbers_match_the_preview(policy_env, launcher):
    stack = new_stack("e2e-review-icc", "icc", policy_env)
    proc, digest = preview(stack, launcher, stream=False)  # the plain digest
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = stack.workdir / "review.md"
    proc = run_review(stack, launcher, out)
    assert proc.returncode == 0, proc.stderr
    assert str(out) in proc.stdout
    report = out.read_text()
    engine = digest["changeSummary"]
    assert summary_row(report) == {op: n for op, n in engine.items() if n}
    assert "differ" not in report.split("## Summary")[1].split("##")[0]
    assert "| ✅ gpu-tolerates-v100 |" in report and "❌" not in report
    assert f"`{ICC_NAMESPACE}`" in report or "known after" in report
    keep_sample(out, "review-sample-icc.md")


def test_pack_folder_needs_a_newer_language_host(policy_env):
    """`--policy-pack policy` (what `make preview` passes) with this tier's v3.79.0 stand-in host:
    its RunPlugin runs `python <request.program>`, and 3.259.0 leaves `program` empty, so Python
    is started with an empty script path in the project folder and the pack never answers."""
    stack = new_stack("e2e-policy-folder", "icc", policy_env)
    proc = stack.pulumi("preview", "--policy-pack", str(PACK), check=False)
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert f'policy pack "{PACK}" failed to start: could not read plugin [{PACK}]' in text, text
    # What started instead: `python ''` in the project folder ran the project's own __main__.py.
    assert f'File "{stack.workdir}/__main__.py"' in text, text


REVIEW_NAMESPACE = "icc-review-e2e"  # a namespace of its own: test_engine's stacks keep theirs


def test_review_flags_a_replaced_statefulset_first(cluster, engine_env, e2e_tmp, launcher):
    """After a real `up`, a new claim size replaces the Ollama StatefulSet: the report's first
    section names it, with the claims it holds and why they are kept."""
    cluster.apply(claim_volumes("minikube", REVIEW_NAMESPACE))  # one replica: models-ollama-0
    settings = {
        **stack_settings("minikube", cluster),
        "namespace": REVIEW_NAMESPACE,
        "ollama": {"models": ["llama3.2:1b"], "replicas": 1},
    }
    workdir = project_copy(e2e_tmp / "project-review-data", Path(engine_env["E2E_STATE_DIR"]))
    stack = create_stack("e2e-review-data", workdir, engine_env, cluster.bin_dir, settings)
    stack.pulumi("up", "--yes", "--skip-preview")
    try:
        stack.config("ollama.storage.size", "12Gi", path=True)
        out = stack.workdir / "review.md"
        proc = run_review(stack, launcher, out)
        report = out.read_text() if out.exists() else ""
        if proc.returncode != 0:
            # Provider v4.25 (this tier) cannot preview a StatefulSet replacement: its dry run
            # is a server-side apply onto the old object, which the API server refuses
            # (pulumi/pulumi-kubernetes#4328, fixed in 4.29; users get 4.32.0). The review must
            # still put the replacement first and list that error, and nothing else may fail.
            errors = [line for line in report.splitlines() if line.startswith("- error ")]
            assert len(errors) >= 1, proc.stderr + report
            assert "updates to statefulset spec for fields other than" in errors[0], report
            assert all("StatefulSet" in line for line in errors), errors
        top = report.split("## Summary")[0]
        assert "## ⚠ Data at risk" in top, report
        assert "**replace** `StatefulSet ollama`" in top, top
        assert "holds claim template models (12Gi)" not in top  # the old state is shown
        assert "holds claim template models (10Gi)" in top, top
        assert (
            "kept: claims kept (persistentVolumeClaimRetentionPolicy.whenDeleted: Retain)" in top
        ), top
        assert summary_row(report).get("replace") == 1
        if proc.returncode == 0:  # a sample for the docs only from a preview that went through
            keep_sample(out, "review-sample-minikube-replace.md")
    finally:
        stack.pulumi("destroy", "--yes", "--skip-preview", check=False)
