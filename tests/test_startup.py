"""What the program loads before it registers anything: each target only its own provider SDK.

Each case runs in a fresh interpreter, since this test process has loaded both SDKs already.
Startup time itself is measured by `make bench` (program evaluation), never asserted here.
"""

import json
import subprocess
import sys

import pytest

from harness import ROOT

PROVIDER_SDKS = ("pulumi_docker", "pulumi_kubernetes")

RUN_STACK = """
import json, sys
sys.path[:0] = [{root!r}, {tests!r}]
import harness
class Patch:
    def setattr(self, obj, name, value):
        setattr(obj, name, value)
harness.run_stack({stack!r}, Patch(), **{overrides!r})
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {sdks!r})))
"""

IMPORT_ONLY = """
import json, sys
sys.path.insert(0, {root!r})
import pulumi
for name in {modules!r}:
    __import__("components." + name)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {sdks!r})))
"""


def loaded_sdks(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )
    return {module.split(".")[0] for module in json.loads(out.stdout.splitlines()[-1])}


@pytest.mark.slow
@pytest.mark.parametrize(
    "stack, overrides, wanted",
    [
        ("icc", {"namespace": "wabc123-default"}, {"pulumi_kubernetes"}),
        ("minikube", {}, {"pulumi_kubernetes"}),
        ("docker", {}, {"pulumi_docker"}),
    ],
)
def test_each_target_loads_only_its_provider_sdk(stack, overrides, wanted):
    code = RUN_STACK.format(
        root=str(ROOT),
        tests=str(ROOT / "tests"),
        stack=stack,
        overrides=overrides,
        sdks=PROVIDER_SDKS,
    )
    assert loaded_sdks(code) == wanted


@pytest.mark.slow
@pytest.mark.parametrize(
    "modules, wanted",
    [
        # What the Docker target shares with the Kubernetes components: labels, environments,
        # next steps. The Kubernetes components themselves import pulumi_kubernetes.
        (["kube", "kube_facts", "next_steps", "ollama_env", "webui_env"], set()),
        (["docker_stack"], {"pulumi_docker"}),
    ],
)
def test_the_docker_target_s_modules_load_no_kubernetes_sdk(modules, wanted):
    code = IMPORT_ONLY.format(root=str(ROOT), modules=modules, sdks=PROVIDER_SDKS)
    assert loaded_sdks(code) == wanted
