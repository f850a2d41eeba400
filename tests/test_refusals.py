"""Settings that would render, pass the schema and then hang or fail `pulumi up`, or that open the
service to the network without a word: each is refused with one line that names the key and
the fix, or needs a loudly named opt-in."""

import re

import pytest

from harness import TEST_SECRETS, run_stack
from settings import SettingsError, parse_settings
from settings.monitoring import EXPORTER_IMAGE
from settings.ollama import OLLAMA_IMAGE
from settings.webui import WEBUI_IMAGE

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


DIGEST = "sha256:" + "0123456789abcdef" * 4
# Refusals in the one-line form settings/load.py makes: key, what was given, why, and the
# `pulumi config set` command that fixes it. (raw settings, key, the reason's words)
EXACT = [
    # Model names Ollama's own parser (model.ParseName + Name.IsValid, v0.32.15) refuses, or
    # that are URLs (Ollama would pull over that scheme from any host; refused here).
    (
        {**MINIKUBE, "ollama": '{"models": ["https://evil.example.com/model"]}'},
        "ollama.models[0]",
        "is a URL; Ollama pulls by name, not by URL",
    ),
    (
        {**MINIKUBE, "ollama": '{"models": ["https://registry.example.com/library/x:1b"]}'},
        "ollama.models[0]",
        "is a URL",
    ),
    (
        {**MINIKUBE, "ollama": '{"models": ["library/../../x:1b"]}'},
        "ollama.models[0]",
        "the namespace part '..' may hold only letters, digits, '_' and '-'",
    ),
    (
        {**MINIKUBE, "ollama": '{"models": ["llama3.2:1b", "ns.with.dots/model"]}'},
        "ollama.models[1]",
        "the namespace part 'ns.with.dots'",
    ),
    (
        {**MINIKUBE, "ollama": '{"models": ["a/b/c/d:1b"]}'},
        "ollama.models[0]",
        "the host part 'a/b' may hold only",
    ),
    ({**MINIKUBE, "ollama": '{"models": ["llama3.2:"]}'}, "ollama.models[0]", "its tag is empty"),
    (
        {**MINIKUBE, "ollama": '{"models": ["llama3@sha256:abc"]}'},
        "ollama.models[0]",
        "the model part 'llama3@sha256'",
    ),
    ({**MINIKUBE, "ollama": '{"models": ["m\u00f6del:1b"]}'}, "ollama.models[0]", "model part"),
    # Sizes beyond any disk or node: the real reason, not "needs a byte unit".
    (
        {**MINIKUBE, "ollama": '{"storage": {"size": "999999Pi"}}'},
        "ollama.storage.size",
        "is 1023998976Ti, more than any volume holds (at most 1024Ti here)",
    ),
    (
        {**ICC, "ollama": '{"resources": {"limits": {"memory": "999999Pi"}}}'},
        "ollama.resources.limits.memory",
        "more than any node has (at most 16Ti here)",
    ),
    ({**MINIKUBE, "webui": '{"storage": {"size": "-5Gi"}}'}, "webui.storage.size", "at least"),
    ({**MINIKUBE, "ollama": '{"storage": {"size": "1e12"}}'}, "ollama.storage.size", "byte unit"),
    # Admin e-mails Open WebUI would not take (validate_email_format, 0.11.0 and 0.12.4) or its
    # sign-in form could never send (`<input type="email">`: ASCII only).
    (
        {**MINIKUBE, "webui": '{"adminEmail": "\u00e4dmin@haw-hamburg.de"}'},
        "webui.adminEmail",
        "sign-in form accepts only ASCII addresses, so this admin could never sign in",
    ),
    (
        {**MINIKUBE, "webui": '{"adminEmail": "admin@m\u00fcller.de"}'},
        "webui.adminEmail",
        "write the domain as browsers send it: admin@xn--mller-kva.de",
    ),
    (
        {**MINIKUBE, "webui": '{"adminEmail": "admin@intranet"}'},
        "webui.adminEmail",
        "Open WebUI wants name@localhost or a domain with a dot",
    ),
    (
        {**MINIKUBE, "webui": '{"adminEmail": "ad min@x.de"}'},
        "webui.adminEmail",
        "must have no spaces",
    ),
    (
        {**MINIKUBE, "webui": '{"adminEmail": "a@@x.de"}'},
        "webui.adminEmail",
        "is not an address Open WebUI's sign-in form accepts",
    ),
    # Each image refusal shows that image's own pinned default as the example.
    (
        {**MINIKUBE, "webui": '{"image": "ghcr.io/open-webui/open-webui"}'},
        "webui.image",
        f"names no tag (that means :latest); pin a version such as {WEBUI_IMAGE}",
    ),
    (
        {**MINIKUBE, "webui": '{"image": "ghcr.io/open-webui/open-webui:main"}'},
        "webui.image",
        f"tag 'main' floats; pin a version such as {WEBUI_IMAGE}",
    ),
    (
        {**MINIKUBE, "ollama": '{"image": "ollama/ollama:rocm"}'},
        "ollama.image",
        f"tag 'rocm' floats; pin a version such as {OLLAMA_IMAGE}",
    ),
    (
        {**MINIKUBE, "monitoring": '{"exporter": {"image": "python"}}'},
        "monitoring.exporter.image",
        f"pin a version such as {EXPORTER_IMAGE}",
    ),
    (
        {**MINIKUBE, "ollama": '{"image": "Ollama/Ollama:0.32.15"}'},
        "ollama.image",
        f"is not an image reference such as {OLLAMA_IMAGE}",
    ),
    (
        {**MINIKUBE, "ollama": '{"image": "ollama/ollama:0.32.15@sha256:abc"}'},
        "ollama.image",
        "the digest must be sha256: and 64 lower-case hex digits",
    ),
    (
        {**MINIKUBE, "webui": '{"image": "ghcr.io/open-webui/open-webui@md5:' + "a" * 32 + '"}'},
        "webui.image",
        f"e.g. {WEBUI_IMAGE}@sha256:<64 hex>",
    ),
]


@pytest.mark.parametrize(
    "raw, key, reason", EXACT, ids=[f"{c[1]}-{i}" for i, c in enumerate(EXACT)]
)
def test_refused_in_one_line_with_key_given_reason_and_fix(raw, key, reason):
    with pytest.raises(SettingsError) as caught:
        parse_settings({**TEST_SECRETS, **raw}, SECRET)
    lines = str(caught.value).split("\n")
    assert len(lines) == 2, lines  # the heading and one problem
    pattern = (
        rf"  icc-ollama:{re.escape(key)} \(given: .+\): (.+); fix with `pulumi config set (.+)`"
    )
    match = re.fullmatch(pattern, lines[1])
    assert match, lines[1]
    assert reason in match.group(1), lines[1]
    assert key in match.group(2), lines[1]
    assert "make " not in lines[1]


# Storage beyond what the target holds: the claims of every replica, Open WebUI and Prometheus
# together, against the node's disk (minikube), the quota (where set) or the ceiling.
STORAGE = [
    (
        {**ICC, "ollama": '{"storage": {"size": "999Ti"}}'},
        "icc-ollama:ollama.storage.size (given: 999Ti): worst case 1 Ollama pod × 999Ti + "
        "1 Open WebUI pod × 10Gi = 999.01Ti of claims, more than 1Ti, the most accepted while "
        "quota.storage is unset; lower ollama.storage.size or ollama.replicas, or set "
        "quota.storage to your namespace's storage quota (`kubectl describe resourcequota`) "
        "if it really holds more; fix with `pulumi config set --path ollama.storage.size <value>`",
    ),
    (
        {**MINIKUBE, "ollama": '{"storage": {"size": "10Ti"}}'},
        "icc-ollama:ollama.storage.size (given: 10Ti): worst case 2 Ollama pods × 10Ti + "
        "1 Open WebUI pod × 4Gi = 20Ti of claims, more than nodeCapacity.storage = 40Gi; "
        "lower ollama.storage.size or ollama.replicas, or raise nodeCapacity.storage if your "
        "node is bigger (`minikube start --cpus --memory --disk-size`); fix with "
        "`pulumi config set --path ollama.storage.size <value>`",
    ),
    (
        {
            **MINIKUBE,
            "monitoring": '{"prometheus": {"storageSize": "30Gi"}}',
        },
        "icc-ollama:monitoring.prometheus.storageSize (given: 30Gi): worst case 2 Ollama pods "
        "× 10Gi + 1 Open WebUI pod × 4Gi + 1 Prometheus pod × 30Gi = 54Gi of claims, more "
        "than nodeCapacity.storage = 40Gi",
    ),
    (
        {**ICC, "quota": '{"storage": "30Gi"}', "webui": '{"storage": {"size": "20Gi"}}'},
        "icc-ollama:webui.storage.size (given: 20Gi): worst case 1 Ollama pod × 20Gi + "
        "1 Open WebUI pod × 25Gi = 45Gi of claims, more than quota.storage = 30Gi",
    ),
    (
        {**MINIKUBE, "ollama": '{"autoscaling": {"enabled": true, "maxReplicas": 4}}'},
        "icc-ollama:ollama.storage.size (given: 10Gi): worst case 4 Ollama pods × 10Gi + "
        "1 Open WebUI pod × 4Gi = 44Gi of claims, more than nodeCapacity.storage = 40Gi; "
        "lower ollama.storage.size or ollama.autoscaling.maxReplicas",
    ),
]


@pytest.mark.parametrize("raw, words", STORAGE, ids=[str(i) for i in range(len(STORAGE))])
def test_storage_larger_than_the_target_holds_is_refused(raw, words):
    with pytest.raises(SettingsError) as caught:
        parse_settings({**TEST_SECRETS, **raw}, SECRET)
    assert words in str(caught.value), str(caught.value)


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
    {
        **MINIKUBE,
        "nodeCapacity": '{"cpu": "16", "memory": "32Gi", "storage": "100Gi"}',
        "ollama": '{"replicas": 8}',
    },
    # Strings stay strings: a password may start with "[", a kubeconfig may be JSON.
    {**MINIKUBE, "grafanaAdminPassword": "[not-json-but-a-password"},
    {**MINIKUBE, "kubeconfig": '{"apiVersion": "v1", "kind": "Config", "clusters": []}'},
    # Images pinned by digest, with or without the tag beside it.
    {**MINIKUBE, "ollama": '{"image": "ollama/ollama:0.32.15@' + DIGEST + '"}'},
    {**MINIKUBE, "webui": '{"image": "ghcr.io/open-webui/open-webui@' + DIGEST + '"}'},
    {**MINIKUBE, "ollama": '{"image": "registry.example.org:5000/mirror/ollama:0.32.15"}'},
    # Model names Ollama accepts: another registry's host, namespaces, quantization tags.
    {
        **MINIKUBE,
        "ollama": '{"models": ["hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", '
        '"registry.example.org:5000/team/model:1b", "library/qwen2.5:0.5b", "phi3"]}',
    },
    # A namespace that states a larger storage quota lifts the ceiling; e-mails Open WebUI takes.
    {**ICC, "quota": '{"storage": "4Ti"}', "ollama": '{"storage": {"size": "2Ti"}}'},
    {**MINIKUBE, "webui": '{"adminEmail": "o\'hara+chat@haw-hamburg.de"}'},
    {**MINIKUBE, "webui": '{"adminEmail": "admin@xn--mller-kva.de"}'},
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


def test_digest_pinned_images_reach_the_pods_unchanged():
    ollama = f"ollama/ollama:0.32.15@{DIGEST}"
    webui = f"ghcr.io/open-webui/open-webui@{DIGEST}"
    run = run_stack("minikube", ollama={"image": ollama}, webui={"image": webui})
    images = {
        container["name"]: container["image"]
        for obj in run.kubernetes_objects()
        if obj["kind"] == "StatefulSet"
        for container in obj["spec"]["template"]["spec"]["containers"]
    }
    assert images["ollama"] == images["model-loader"] == ollama
    assert images["open-webui"] == webui


def test_the_docker_target_pulls_digest_pinned_images_as_given():
    # pulumi-docker's RemoteImage takes "name:tag@sha256:..." and "name@sha256:..." as its name.
    ollama = f"ollama/ollama:0.32.15@{DIGEST}"
    webui = f"ghcr.io/open-webui/open-webui@{DIGEST}"
    run = run_stack("docker", ollama={"image": ollama}, webui={"image": webui})
    pulled = {r.inputs["name"] for r in run.of_type("docker:index/remoteImage:RemoteImage")}
    assert pulled == {ollama, webui}


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
