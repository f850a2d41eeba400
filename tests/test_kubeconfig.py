"""Which kubeconfig and context a stack uses (components/kubeconfig.py): the provider's own rules
(the setting; else KUBECONFIG as one path; else ~/.kube/config), and every case that would
leave the provider with nothing named as a problem of its own kind."""

from pathlib import Path

import pytest
import yaml

from components import kubeconfig

MINIKUBE_EXTENSION = [
    {"name": "context_info", "extension": {"provider": "minikube.sigs.k8s.io", "version": "v1"}}
]


def config(current="minikube", **context_fields) -> dict:
    def entry(name, server, **fields):
        return {
            "cluster": {"name": name, "cluster": {"server": server}},
            "context": {"name": name, "context": {"cluster": name, "user": name, **fields}},
        }

    lab = entry("lab", "https://192.168.49.2:8443", extensions=MINIKUBE_EXTENSION)
    kind = entry("kind-kind", "https://127.0.0.1:40123")
    mini = entry("minikube", "https://192.168.49.3:8443")
    entries = (lab, kind, mini)
    return {
        "current-context": current,
        "clusters": [e["cluster"] for e in entries],
        "contexts": [e["context"] for e in entries],
        "users": [{"name": "kind-kind", "user": {"token": "x"}}],
    }


def test_the_setting_wins_and_a_kubeconfig_env_beside_it_is_named(tmp_path):
    path = tmp_path / "icc.yaml"
    path.write_text("{}")
    source = kubeconfig.choose(str(path), {"KUBECONFIG": "/elsewhere"}, tmp_path)
    assert source.path == path and source.ignored_env == "/elsewhere"
    inline = kubeconfig.choose("apiVersion: v1\nkind: Config\n", {}, tmp_path)
    assert inline.text and inline.shown == "the kubeconfig setting's contents"


def test_kubeconfig_env_is_used_as_one_path_and_shown(tmp_path):
    source = kubeconfig.choose(None, {"KUBECONFIG": "/tmp/icc.yaml"}, tmp_path)
    assert source.path == Path("/tmp/icc.yaml")
    assert source.shown == "/tmp/icc.yaml from KUBECONFIG"
    default = kubeconfig.choose(None, {"KUBECONFIG": ""}, tmp_path)
    assert default.path == tmp_path / ".kube" / "config" and default.shown == "~/.kube/config"


def test_a_kubeconfig_list_is_a_problem_the_provider_cannot_read():
    with pytest.raises(kubeconfig.KubeconfigProblem) as caught:
        kubeconfig.choose(None, {"KUBECONFIG": "/a:/b"}, Path("/home/x"))
    assert caught.value.kind == "list"


def test_a_missing_or_broken_kubeconfig_is_named(tmp_path):
    missing = kubeconfig.Source("/nonexistent/config from KUBECONFIG", Path("/nonexistent/x"))
    with pytest.raises(kubeconfig.KubeconfigProblem) as caught:
        kubeconfig.read(missing)
    assert caught.value.kind == "missing"
    broken = tmp_path / "config"
    broken.write_text("clusters:\n  - name: [unclosed\n")
    with pytest.raises(kubeconfig.KubeconfigProblem) as caught:
        kubeconfig.read(kubeconfig.Source("~/.kube/config", broken))
    assert caught.value.kind == "unreadable" and "not YAML (line" in caught.value.detail


def test_the_context_is_the_named_one_or_the_current_one():
    source = kubeconfig.Source("~/.kube/config")
    named = kubeconfig.context(config(), "kind-kind", source)
    assert (named.server, named.minikube, named.user) == (
        "https://127.0.0.1:40123",
        False,
        {"token": "x"},
    )
    current = kubeconfig.context(config(current="lab"), None, source)
    assert current.name == "lab" and current.minikube  # a minikube profile, marked by minikube
    assert kubeconfig.context(config(), None, source).minikube  # named minikube


@pytest.mark.parametrize(
    ("data", "wanted", "kind"),
    [
        (config(), "ghost", "unknown-context"),
        (config(current=""), None, "no-current-context"),
        ({"contexts": [{"name": "x", "context": {"cluster": "gone"}}]}, "x", "no-server"),
    ],
)
def test_an_unknown_context_lists_the_ones_there(data, wanted, kind):
    with pytest.raises(kubeconfig.KubeconfigProblem) as caught:
        kubeconfig.context(data, wanted, kubeconfig.Source("~/.kube/config"))
    assert caught.value.kind == kind
    if kind == "unknown-context":
        assert caught.value.contexts == ("kind-kind", "lab", "minikube")


def test_relative_certificate_paths_are_relative_to_the_kubeconfig(tmp_path):
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config()))
    source = kubeconfig.Source(str(path), path)
    assert kubeconfig.context(kubeconfig.read(source), "lab", source).base_dir == tmp_path
