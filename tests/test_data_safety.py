"""Nothing is lost: data claims outlive destroy, and no setting change replaces one silently.

Models and chat history live in claims made from the StatefulSets' `volumeClaimTemplates`. A
claim's identity is (namespace, StatefulSet name, template name, ordinal): while that identity and
the template stay the same, Kubernetes re-attaches the same claim after any update or replacement.
Only the settings in FORCES_NEW_CLAIMS change it; the README documents each of them.
"""

import pytest

from harness import run_stack
from settings.targets import deep_merge as _deep_merge

BASE = {"namespace": "wabc123-default"}
# Settings that do change where data lives, and so are documented in the README.
FORCES_NEW_CLAIMS = {
    "namespace": {"namespace": "wxyz999-default"},
    "ollama.storage.size": {"ollama": {"storage": {"size": "50Gi"}}},
    "ollama.storage.storageClass": {"ollama": {"storage": {"storageClass": "fast-ssd"}}},
    "webui.storage.size": {"webui": {"storage": {"size": "9Gi"}}},
    "webui.backup.storage.size": {"webui": {"backup": {"storage": {"size": "9Gi"}}}},
}
SAFE_CHANGES = {
    "ollama.replicas": {"ollama": {"replicas": 3, "gpu": {"count": 1}}},
    "ollama.models": {"ollama": {"models": ["qwen2.5:0.5b"]}},
    "ollama.image": {"ollama": {"image": "ollama/ollama:0.33.0"}},
    "ollama.gpu.count": {"ollama": {"gpu": {"count": 2}}},
    "ollama.resources": {
        "ollama": {
            "resources": {
                "limits": {"cpu": "8", "memory": "30Gi"},
                "requests": {"cpu": "2", "memory": "10Gi"},
            }
        }
    },
    "ollama.keepAlive": {"ollama": {"keepAlive": "-1"}},
    "ollama.tolerations": {"ollama": {"tolerations": [{"key": "gpu-tesla-v100s"}]}},
    "webui.image": {"webui": {"image": "ghcr.io/open-webui/open-webui:v0.12.5"}},
    "webui.signup": {
        "webui": {
            "signup": "open",
            "modelAccess": "granted",
            "adminEmail": "chat-admin@haw-hamburg.de",
        }
    },
    "webui.openai": {"webui": {"openai": {"enabled": False}}},
    "webui.backup.schedule": {"webui": {"backup": {"schedule": "0 * * * *", "retention": 3}}},
    "networkPolicies.enabled": {"networkPolicies": {"enabled": False}},
    "monitoring.enabled": {"monitoring": {"enabled": True, "prometheus": {"storageSize": "5Gi"}}},
}


def claim_identities(run) -> dict:
    identities = {}
    for obj in run.kubernetes_objects():
        if obj["kind"] == "StatefulSet":
            for template in obj["spec"]["volumeClaimTemplates"]:
                key = (
                    obj["metadata"]["namespace"],
                    obj["metadata"]["name"],
                    template["metadata"]["name"],
                )
                identities[key] = template["spec"]
    return identities


@pytest.fixture
def baseline(monkeypatch):
    return claim_identities(run_stack("icc", monkeypatch, **BASE))


@pytest.mark.parametrize("setting", sorted(SAFE_CHANGES))
def test_changing_a_setting_keeps_every_data_claim(setting, baseline, monkeypatch):
    changed = run_stack("icc", monkeypatch, **_deep_merge(BASE, SAFE_CHANGES[setting]))
    assert claim_identities(changed) == baseline


@pytest.mark.parametrize("setting", sorted(FORCES_NEW_CLAIMS))
def test_settings_that_move_data_are_known_and_documented(setting, baseline, monkeypatch):
    changed = run_stack("icc", monkeypatch, **_deep_merge(BASE, FORCES_NEW_CLAIMS[setting]))
    assert claim_identities(changed) != baseline


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_claims_are_retained_when_their_statefulset_goes(stack, request):
    run = request.getfixturevalue(stack)
    for obj in run.kubernetes_objects():
        if obj["kind"] == "StatefulSet":
            assert obj["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"


def test_pulumi_never_owns_a_claim_it_could_delete_or_replace(icc, minikube):
    for run in (icc, minikube):
        assert run.of_type("kubernetes:core/v1:PersistentVolumeClaim") == []


def test_a_created_namespace_is_retained_on_destroy(minikube):
    assert minikube.options_of("kubernetes:core/v1:Namespace", "namespace").retain_on_delete


def test_turning_backups_off_or_on_keeps_the_data_claim(baseline, monkeypatch):
    """The backup claim template comes and goes with webui.backup.enabled (a StatefulSet
    replacement, see the README); the data claim's identity never changes, and a dropped backup
    claim is kept by the retention policy like any other."""
    off = run_stack(
        "icc", monkeypatch, **_deep_merge(BASE, {"webui": {"backup": {"enabled": False}}})
    )
    data = ("wabc123-default", "open-webui", "data")
    backups = ("wabc123-default", "open-webui", "backups")
    assert claim_identities(off)[data] == baseline[data]
    assert backups in baseline and backups not in claim_identities(off)
