"""The policy pack and `make review` with the real Pulumi CLI 3.259.0 (scripts/e2e-tools.sh).

How the pack is launched here: the CLI runs a `runtime: python` pack through the Python language
host's RunPlugin. The host of this tier is the stand-in from sdk/v3 v3.79.0 (the 3.259.0 host is not
served by the Go module proxy), and it reads the pack's path from RunPluginRequest.program, a field
the 3.259.0 engine no longer fills (it sends `info` instead). `test_pack_folder_needs_a_newer_language_host`
pins that exact failure. The CLI only falls back to the old `pulumi-analyzer-policy-python` plugin
when no Python language host exists at all, which cannot be arranged while the same host must run
the program. So every other test launches the unchanged pack as a binary analyzer (3.259.0 runs an
executable given to --policy-pack directly, pkg/resource/plugin/analyzer_plugin.go
NewPolicyAnalyzer): a two-line launcher, written into the test's temp folder, that starts
`python -u -m pulumi.policy <engine> policy/` exactly as the back-compat plugin does. The engine,
the analyzer protocol, the pack's config and the enforcement are the real ones.

The docker stack is not previewed here: this tier builds no Docker provider plugin. The pack is
checked against it under mocks (tests/test_policy.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from e2e_support import ICC_NAMESPACE, ROOT, create_stack, project_copy, run
from test_engine import stack_settings

pytestmark = pytest.mark.e2e

PACK = ROOT / "policy"
sys.path.insert(0, str(ROOT / "scripts"))
import review  # noqa: E402


@pytest.fixture(scope="module")
def launcher(e2e_tmp: Path) -> Path:
    """The pack as an executable analyzer (see the module docstring)."""
    path = e2e_tmp / "icc-ollama-policy-analyzer"
    path.write_text(f"#!/bin/sh\nexec '{ROOT / '.venv' / 'bin' / 'python'}' -u -m pulumi.policy "
                    f"\"$1\" '{PACK}'\n")
    path.chmod(0o755)
    return path


def new_stack(name: str, target: str, cluster, engine_env, e2e_tmp: Path, **overrides):
    state = Path(engine_env["E2E_STATE_DIR"])
    workdir = project_copy(e2e_tmp / f"project-{name}", state)
    settings = {**stack_settings(target, cluster), **overrides}
    return create_stack(name, workdir, engine_env, cluster.bin_dir, settings)


def pack_config(stack, out: Path) -> Path:
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "policy_config.py"), stack.name,
                          "--project-dir", str(stack.workdir), "--out", str(out)],
                         env=stack.env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return Path(run.stdout.strip())


def preview(stack, pack: Path, config: Path, stream: bool = True):
    """`pulumi preview --json` with the pack: engine events (streamed) or the plain digest."""
    env = {**stack.env, "PULUMI_ENABLE_STREAMING_JSON_PREVIEW": "true" if stream else ""}
    proc = run([str(stack.bin_dir / "pulumi"), "preview", "--json", "--non-interactive",
                "--stack", stack.name, "--policy-pack", str(pack), "--policy-pack-config",
                str(config)], env=env, cwd=stack.workdir, check=False)
    return proc, review.parse_output(proc.stdout) if proc.stdout.strip() else []


def policy_summaries(events) -> tuple[set[str], set[str]]:
    passed, failed = set(), set()
    for event in events:
        summary = event.get("policyAnalyzeSummaryEvent") or event.get("policyAnalyzeStackSummaryEvent")
        if summary:
            passed.update(summary.get("passed") or [])
            failed.update(summary.get("failed") or [])
    return passed, failed


@pytest.mark.parametrize("target", ["icc", "minikube"])
def test_preview_passes_the_pack(target, cluster, engine_env, e2e_tmp, launcher):
    stack = new_stack(f"e2e-policy-{target}", target, cluster, engine_env, e2e_tmp)
    config = pack_config(stack, e2e_tmp / f"policy-{target}.json")
    proc, events = preview(stack, launcher, config)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    violations = [e["policyEvent"] for e in events if e.get("policyEvent")]
    assert violations == []
    passed, failed = policy_summaries(events)
    # Every policy ran somewhere and passed (resource policies per resource, stack ones once).
    import pack as pack_module  # policy/pack.py, on sys.path through review.py's import of rules

    assert failed == set()
    assert passed == {p.name for p in pack_module.policies()}
    assert review.digest_from_events(events)["changeSummary"].get("create", 0) > 5


def test_violating_setting_fails_with_the_policy_message(cluster, engine_env, e2e_tmp, launcher):
    # The GPU stays on, the V100 toleration is dropped: the program accepts it, the pack does not.
    stack = new_stack("e2e-policy-icc-bad", "icc", cluster, engine_env, e2e_tmp,
                      ollama={"models": ["llama3.2:1b"], "tolerations": []})
    config = pack_config(stack, e2e_tmp / "policy-bad.json")
    proc, events = preview(stack, launcher, config)
    assert proc.returncode != 0
    violations = [e["policyEvent"] for e in events if e.get("policyEvent")]
    assert [(v["policyName"], v["enforcementLevel"]) for v in violations] == [
        ("gpu-tolerates-v100", "mandatory")], violations
    assert "does not tolerate the V100 taint gpu-tesla-v100:NoSchedule" in violations[0]["message"]
    assert violations[0]["resourceUrn"].endswith("kubernetes:apps/v1:StatefulSet::ollama")
    # Without --json the same words reach the person at the terminal.
    text = stack.pulumi("preview", "--policy-pack", str(launcher), "--policy-pack-config",
                        str(config), check=False).stdout
    assert "gpu-tolerates-v100" in text and "does not tolerate the V100 taint" in text, text


def test_review_numbers_match_the_preview(cluster, engine_env, e2e_tmp, launcher):
    stack = new_stack("e2e-review-icc", "icc", cluster, engine_env, e2e_tmp)
    config = pack_config(stack, e2e_tmp / "policy-review.json")
    proc, digest = preview(stack, launcher, config, stream=False)  # the plain digest
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = e2e_tmp / "review-icc.md"
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "review.py"), stack.name,
                          "--project-dir", str(stack.workdir), "--policy-pack", str(launcher),
                          "--out", str(out)], env=stack.env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert str(out) in run.stdout
    report = out.read_text()
    summary = report.split("## Summary")[1].split("##")[0]
    header, _, values = [line for line in summary.splitlines() if line.startswith("|")]
    shown = dict(zip(header.strip("|").split(" | "), map(int, values.strip("| ").split(" | "))))
    engine = digest["changeSummary"]
    assert {op: n for op, n in shown.items() if n} == {op: n for op, n in engine.items() if n}
    assert "differ" not in summary
    assert "| ✅ gpu-tolerates-v100 |" in report and "❌" not in report
    assert f"`{ICC_NAMESPACE}`" in report or "known after" in report
    sample = os.environ.get("E2E_REVIEW_SAMPLE")
    if sample:  # docs/review-sample-icc.md is made this way (see README)
        shutil.copy(out, sample)


def test_pack_folder_needs_a_newer_language_host(cluster, engine_env, e2e_tmp):
    """`--policy-pack policy` (what `make preview` passes) with this tier's v3.79.0 stand-in host:
    its RunPlugin runs `python <request.program>`, and 3.259.0 leaves `program` empty, so Python
    is started with an empty script path in the project folder and the pack never answers."""
    stack = new_stack("e2e-policy-folder", "icc", cluster, engine_env, e2e_tmp)
    config = pack_config(stack, e2e_tmp / "policy-folder.json")
    proc = stack.pulumi("preview", "--policy-pack", str(PACK), "--policy-pack-config",
                        str(config), check=False)
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert f'policy pack "{PACK}" failed to start: could not read plugin [{PACK}]' in text, text
