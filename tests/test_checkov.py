"""checkov's Kubernetes checks over the rendered icc and minikube stacks: at most MAX_FINDINGS
each, and every finding that remains is one the code explains where the object is built.

checkov runs from its own venv (`make checkov-venv`, made by `make test-slow` and `make checkov`);
the path comes from $CHECKOV. Without it this test fails: it is not skipped.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHECKOV = os.environ.get("CHECKOV", str(ROOT / ".venv-checkov" / "bin" / "checkov"))
MAX_FINDINGS = 6
# workload -> the modules that build it (kube.py: the builders every workload shares).
BUILT_IN = {
    "ollama": ("components/ollama.py", "components/kube.py"),
    "open-webui": ("components/webui.py", "components/kube.py"),
    "ollama-exporter": ("components/monitoring.py", "components/kube.py"),
}


def checkov_findings(objects: list[dict], tmp_path: Path) -> list[tuple[str, str]]:
    """(check id, kind.namespace.name) for every failed check."""
    assert Path(CHECKOV).exists(), f"no checkov at {CHECKOV}: run `make checkov-venv`"
    (tmp_path / "stack.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
    result = subprocess.run(
        [CHECKOV, "-d", str(tmp_path), "--framework", "kubernetes", "-o", "json"]
        + ["--quiet", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
    assert report["summary"]["resource_count"] >= len(objects) - 1, report["summary"]
    return [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]


@pytest.mark.slow
@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_checkov_findings_are_few_and_explained(stack, request, tmp_path):
    findings = checkov_findings(request.getfixturevalue(stack).kubernetes_objects(), tmp_path)
    print(f"{stack}: {len(findings)} checkov findings: {sorted(findings)}")
    assert len(findings) <= MAX_FINDINGS, sorted(findings)
    for check_id, resource in findings:
        workload = resource.rsplit(".", 1)[-1]
        modules = BUILT_IN.get(workload, ())
        assert any(check_id in (ROOT / module).read_text() for module in modules), (
            f"{check_id} on {resource} is not explained in {modules or 'a known module'}"
        )


@pytest.mark.slow
def test_checkov_sees_a_finding_it_should(tmp_path):
    """The check above can fail: a root container without probes is reported."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bad", "namespace": "x"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]},
    }
    found = {check_id for check_id, _ in checkov_findings([pod], tmp_path)}
    assert {"CKV_K8S_40", "CKV_K8S_8", "CKV_K8S_9"} <= found, found
