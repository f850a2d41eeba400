"""Settings that would render, pass the schema and then hang or fail `pulumi up`, or that open the
service to the network without a word: each is refused with one line that names the key and
the fix, or needs a loudly named opt-in."""

import pytest

from harness import TEST_SECRETS
from settings import SettingsError, parse_settings

SECRET = frozenset(TEST_SECRETS)
ICC = {"target": "icc", "namespace": "wabc123-default"}
MINIKUBE = {"target": "minikube"}
DOCKER = {"target": "docker"}
ICC_INGRESS = '{"enabled": true, "host": "chat.example.org"'

REFUSED = [
    # (raw settings, key named, words of the fix)
    # Units: memory and storage need bytes; a bare number is bytes, "m" is thousandths.
    (
        {**MINIKUBE, "ollama": '{"resources": {"limits": {"memory": "512m"}}}'},
        "ollama.resources.limits.memory",
        "write 512Mi",
    ),
    (
        {**MINIKUBE, "ollama": '{"resources": {"limits": {"memory": "16"}}}'},
        "ollama.resources.limits.memory",
        "byte unit",
    ),
    ({**MINIKUBE, "ollama": '{"storage": {"size": "50"}}'}, "ollama.storage.size", "byte unit"),
    (
        {**MINIKUBE, "webui": '{"storage": {"size": "100Mi"}}'},
        "webui.storage.size",
        "at least 1024Mi",
    ),
    (
        {
            **MINIKUBE,
            "ollama": '{"resources": {"requests": {"memory": "512Mi"}, '
            '"limits": {"memory": "768Mi"}}}',
        },
        "ollama.resources.limits.memory",
        "at least 1Gi",
    ),
    (
        {**MINIKUBE, "ollama": '{"resources": {"requests": {"cpu": "0"}}}'},
        "ollama.resources.requests.cpu",
        "at least 10m",
    ),
    ({**ICC, "quota": '{"limits": {"memory": "64"}}'}, "quota.limits.memory", "byte unit"),
    # What a node can give: Minikube's one node as `minikube start` made it.
    ({**MINIKUBE, "ollama": '{"replicas": 8}'}, "ollama.replicas", "nodeCapacity.cpu"),
    (
        {
            **MINIKUBE,
            "ollama": '{"resources": {"requests": {"memory": "7Gi"}, "limits": {"memory": "8Gi"}}}',
        },
        "ollama.replicas",
        "nodeCapacity.memory",
    ),
    # Exposure without an opt-in.
    (
        {**DOCKER, "docker": '{"bindAddress": "0.0.0.0"}'},
        "docker.bindAddress",
        "docker.allowNetworkAccess true",
    ),
    (
        {**DOCKER, "docker": '{"bindAddress": "192.168.1.5", "allowNetworkAccess": true}'},
        "docker.ollamaPort",
        "docker.exposeOllamaApi true",
    ),
    (
        {
            **DOCKER,
            "docker": '{"bindAddress": "0.0.0.0", "allowNetworkAccess": true, "ollamaPort": 0}',
            "webui": '{"auth": false}',
        },
        "webui.auth",
        "turn auth on",
    ),
    (
        {**ICC, "ingress": ICC_INGRESS + ', "tls": {"enabled": false}}'},
        "ingress.tls.enabled",
        "ingress.allowPlainHttp true",
    ),
    (
        {**ICC, "ingress": ICC_INGRESS + "}", "webui": '{"auth": false}'},
        "webui.auth",
        "turn auth on",
    ),
    (
        {**MINIKUBE, "ingress": '{"enabled": true}', "webui": '{"auth": false}'},
        "webui.auth",
        "turn auth on",
    ),
    # Sign-up never makes admins: the old key that could is refused with its replacement.
    (
        {**ICC, "ingress": ICC_INGRESS + "}", "webui": '{"defaultUserRole": "admin"}'},
        "webui.defaultUserRole",
        "replaced by webui.signup",
    ),
    # The common slip: a dotted key set without --path.
    (
        {**MINIKUBE, "monitoring.enabled": "false"},
        "monitoring.enabled",
        "pulumi config rm 'monitoring.enabled'` and then `pulumi config set --path "
        "monitoring.enabled",
    ),
    # A bad model is named by its place in the list.
    (
        {**MINIKUBE, "ollama": '{"models": ["phi3", "bad model"]}'},
        "ollama.models[1]",
        "pulumi config set --path 'ollama.models[1]'",
    ),
    # Docker: clashing ports, impossible ports in URLs, any loopback URL.
    ({**DOCKER, "docker": '{"webuiPort": 11434}'}, "docker.ollamaPort", "its own port"),
    (
        {**DOCKER, "docker": '{"runOllama": false, "ollamaUrl": "http://gpu.example.org:99999"}'},
        "docker.ollamaUrl",
        "between 1 and 65535",
    ),
    (
        {**DOCKER, "docker": '{"runOllama": false, "ollamaUrl": "http://127.0.0.2:11434"}'},
        "docker.ollamaUrl",
        "host.docker.internal",
    ),
    # Accepted today, then refused by the API server.
    (
        {**ICC, "ollama": '{"nodeSelector": {"gpu type": "v100"}}'},
        "ollama.nodeSelector",
        "label key",
    ),
    (
        {**ICC, "ollama": '{"nodeSelector": {"gpu": "tesla v100"}}'},
        "ollama.nodeSelector.gpu",
        "label value",
    ),
    (
        {**ICC, "ollama": '{"gpu": {"resourceName": "gpu"}}'},
        "ollama.gpu.resourceName",
        "nvidia.com/gpu",
    ),
    (
        {**ICC, "ollama": '{"tolerations": [{"key": ""}]}'},
        "ollama.tolerations[0].key",
        "tolerates every taint",
    ),
    ({**MINIKUBE, "kubeconfig": "/nonexistent/icc-kubeconfig.yaml"}, "kubeconfig", "no such file"),
    # The words of the config file, not of Python.
    (
        {**MINIKUBE, "ollama": '{"tolerations": {"key": "x"}}'},
        "ollama.tolerations",
        "must be a list",
    ),
    ({**MINIKUBE, "ollama": "5"}, "ollama", "must be a block of settings"),
]


@pytest.mark.parametrize("raw, key, words", REFUSED, ids=[c[1] for c in REFUSED])
def test_refused_with_the_key_and_the_fix(raw, key, words):
    with pytest.raises(SettingsError) as caught:
        parse_settings({**TEST_SECRETS, **raw}, SECRET)
    message = str(caught.value)
    assert f"icc-ollama:{key} " in message or f"icc-ollama:{key}:" in message, message
    assert words in message, message
    assert "Input should be" not in message and "instance of" not in message, message
    assert len(message.strip().split("\n")) <= 2, message  # one problem, one line


ACCEPTED = [
    # The opt-ins make the same settings valid.
    {
        **DOCKER,
        "docker": '{"bindAddress": "0.0.0.0", "allowNetworkAccess": true, "exposeOllamaApi": true}',
    },
    {
        **DOCKER,
        "docker": '{"bindAddress": "192.168.1.5", "allowNetworkAccess": true, "ollamaPort": 0}',
    },
    {**ICC, "ingress": ICC_INGRESS + ', "tls": {"enabled": false}, "allowPlainHttp": true}'},
    {**MINIKUBE, "nodeCapacity": '{"cpu": "16", "memory": "32Gi"}', "ollama": '{"replicas": 8}'},
    # Strings stay strings: a password may start with "[", a kubeconfig may be JSON.
    {**MINIKUBE, "grafanaAdminPassword": "[not-json-but-a-password"},
    {**MINIKUBE, "kubeconfig": '{"apiVersion": "v1", "kind": "Config", "clusters": []}'},
    # Any byte unit and CPU spelling Kubernetes knows.
    {
        **MINIKUBE,
        "ollama": '{"resources": {"requests": {"cpu": 0.5, "memory": "1.5Gi"}, '
        '"limits": {"cpu": "1500m", "memory": "2G"}}}',
    },
]


@pytest.mark.parametrize("raw", ACCEPTED)
def test_accepted_with_the_opt_in_or_the_right_form(raw):
    parse_settings({**TEST_SECRETS, **raw}, SECRET)


def test_a_password_starting_with_a_bracket_is_kept_as_given():
    settings = parse_settings(
        {**TEST_SECRETS, **MINIKUBE, "grafanaAdminPassword": "[not-json-but-a-password"}, SECRET
    )
    assert settings.grafana_admin_password.get_secret_value() == "[not-json-but-a-password"


def test_a_refusal_under_the_cli_is_one_pulumi_command_and_registers_nothing():
    """The program's own RunError: the fix is the `pulumi config` command a user types (no
    wrapper), and nothing is registered before the settings are valid."""
    import pulumi

    from harness import ProgramRun, run_program, stack_config

    config = {
        **stack_config("icc"),
        "namespace": "wabc123-default",
        "ollama": {"models": ["phi3", "bad model"]},
    }
    run = ProgramRun()
    with pytest.raises(pulumi.RunError) as caught:
        run_program(config, stack="icc", run=run)
    message = str(caught.value)
    assert "`pulumi config set --path 'ollama.models[1]' <value>`" in message, message
    assert "make" not in message, message
    assert run.resources == []


def test_an_unknown_top_level_key_from_the_cli_is_refused():
    """Keys reach the program as the language host hands them over (PULUMI_CONFIG): one the
    model does not know, e.g. a typo, is refused rather than ignored."""
    import pulumi

    from harness import run_program, stack_config

    with pytest.raises(pulumi.RunError, match="icc-ollama:olama: unknown setting; remove it"):
        run_program({**stack_config("minikube"), "olama": {"replicas": 1}}, stack="minikube")
