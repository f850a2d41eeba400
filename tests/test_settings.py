"""The settings model: defaults per target, and one clear message for every kind of bad input."""

import pulumi
import pytest
from pydantic import ValidationError

from harness import TEST_SECRET_KEY, TEST_SECRETS, ProgramRun, run_program, stack_config
from settings import SettingsError, parse_settings

SECRET = frozenset(TEST_SECRETS)


def settings_for(target: str, **extra):
    raw = {"target": target, **TEST_SECRETS, **extra}
    if target == "icc":
        raw.setdefault("namespace", "wabc123-default")
    return parse_settings(raw, SECRET)


def test_icc_defaults_use_one_v100_and_ceph_claims():
    settings = settings_for("icc")
    assert settings.ollama.gpu.enabled and settings.ollama.gpu.count == 1
    assert settings.ollama.gpu.resource_name == "nvidia.com/gpu"
    assert [t.model_dump() for t in settings.ollama.tolerations] == [
        {"key": "gpu-tesla-v100", "operator": "Exists", "value": None, "effect": "NoSchedule"}
    ]
    assert settings.ollama.storage.storage_class == "rook-ceph-block"
    assert settings.webui.storage.storage_class == "rook-ceph-block"
    assert not settings.create_namespace
    assert settings.webui.auth


def test_minikube_defaults_are_two_cpu_replicas_in_an_owned_namespace():
    settings = settings_for("minikube")
    assert settings.ollama.replicas == 2
    assert not settings.ollama.gpu.enabled
    assert settings.ollama.tolerations == ()
    assert settings.ollama.storage.storage_class is None  # minikube's default class
    assert settings.create_namespace and settings.namespace == "icc-ollama"


def test_images_are_pinned_by_default():
    for target in ("icc", "minikube"):
        settings = settings_for(target)
        for image in (settings.ollama.image, settings.webui.image):
            assert ":" in image and not image.endswith((":latest", ":main"))


def test_nested_settings_override_single_defaults_only():
    settings = settings_for("icc", ollama='{"gpu": {"count": 2}, "models": ["phi3"]}')
    assert settings.ollama.gpu.count == 2 and settings.ollama.gpu.enabled  # default kept
    assert settings.ollama.models == ("phi3",)
    assert settings.ollama.storage.storage_class == "rook-ceph-block"


def test_numbers_from_yaml_become_quantities():
    settings = settings_for(
        "minikube",
        ollama='{"resources": {"limits": {"cpu": 3, "memory": "6Gi"},'
        ' "requests": {"cpu": 0.5, "memory": "1Gi"}}}',
    )
    assert settings.ollama.resources.limits.cpu == "3"
    assert settings.ollama.resources.requests.cpu == "0.5"


def test_settings_are_frozen():
    settings = settings_for("minikube")
    with pytest.raises(ValidationError):
        settings.ollama.replicas = 5


INVALID = [
    # (raw settings, key the message must name, words the message must contain)
    ({"target": "mars"}, "icc-ollama:target", "must be one of icc, minikube, docker"),
    ({}, "icc-ollama:target", "must be one of"),
    ({"target": "icc"}, "icc-ollama:namespace", "required"),
    ({"target": "icc", "namespace": "default"}, "icc-ollama:namespace", "w<id>-default"),
    (
        {"target": "icc", "namespace": "wabc123-default", "createNamespace": "true"},
        "icc-ollama:createNamespace",
        "cannot create namespaces",
    ),
    ({"target": "minikube", "namespace": "Bad_Name"}, "icc-ollama:namespace", "DNS label"),
    ({"target": "minikube", "colour": "blue"}, "icc-ollama:colour", "unknown setting"),
    (
        {"target": "minikube", "ollama": '{"replica": 2}'},
        "icc-ollama:ollama.replica",
        "unknown setting",
    ),
    (
        {"target": "minikube", "ollama": '{"resources": {"requests": {"cpu": "3"}}}'},
        "icc-ollama:ollama.resources.requests.cpu",
        "more than limits.cpu (2)",
    ),
    (
        {
            "target": "icc",
            "namespace": "wabc123-default",
            "webui": '{"resources": {"limits": {"memory": "512Mi"}}}',
        },
        "icc-ollama:webui.resources.requests.memory",
        "more than limits.memory (512Mi)",
    ),
    (
        {"target": "minikube", "ollama": '{"replicas": 0}'},
        "icc-ollama:ollama.replicas",
        "greater than or equal to 1",
    ),
    (
        {"target": "minikube", "ollama": '{"replicas": "two"}'},
        "icc-ollama:ollama.replicas",
        "valid integer",
    ),
    (
        {"target": "minikube", "ollama": '{"gpu": {"enabled": true}}'},
        "icc-ollama:ollama.gpu.enabled",
        "no GPU",
    ),
    (
        {"target": "icc", "namespace": "wabc123-default", "ollama": '{"gpu": {"count": 9}}'},
        "icc-ollama:ollama.gpu.count",
        "less than or equal to 8",
    ),
    (
        {"target": "minikube", "ollama": '{"image": "ollama/ollama:latest"}'},
        "icc-ollama:ollama.image",
        "floats",
    ),
    (
        {"target": "minikube", "ollama": '{"image": "ollama/ollama"}'},
        "icc-ollama:ollama.image",
        "names no tag (that means :latest)",
    ),
    (
        {"target": "minikube", "webui": '{"image": "ghcr.io/open-webui/open-webui:main"}'},
        "icc-ollama:webui.image",
        "floats",
    ),
    (
        {"target": "minikube", "ollama": '{"resources": {"limits": {"memory": "lots"}}}'},
        "icc-ollama:ollama.resources.limits.memory",
        "byte unit",
    ),
    (
        {"target": "minikube", "ollama": '{"storage": {"size": "20 GB"}}'},
        "icc-ollama:ollama.storage.size",
        "byte unit",
    ),
    (
        {"target": "minikube", "ollama": '{"storage": {"storageClass": "Fast_SSD"}}'},
        "icc-ollama:ollama.storage.storageClass",
        "DNS label",
    ),
    (
        {"target": "minikube", "ollama": '{"tolerations": [{"key": "x", "value": "y"}]}'},
        "icc-ollama:ollama.tolerations[0]",
        "Exists takes no value",
    ),
    (
        {"target": "minikube", "ollama": '{"tolerations": [{"key": "x", "effect": "Never"}]}'},
        "icc-ollama:ollama.tolerations[0].effect",
        "NoSchedule",
    ),
    (
        {"target": "minikube", "ollama": '{"models": ["llama3 8b"]}'},
        "icc-ollama:ollama.models[0]",
        "is not a model name Ollama accepts",
    ),
    (
        {"target": "minikube", "ollama": '{"replicas": 2'},
        "icc-ollama:ollama",
        "must be a block of settings",
    ),
    (
        {"target": "minikube", "webui": '{"signup": "pending"}'},
        "icc-ollama:webui.signup",
        "'approval', 'open' or 'closed'",
    ),
    (
        {"target": "minikube", "webui": '{"defaultUserRole": "user"}'},
        "icc-ollama:webui.defaultUserRole",
        "replaced by webui.signup",
    ),
    (
        {"target": "minikube", "webui": '{"adminEmail": "admin"}'},
        "icc-ollama:webui.adminEmail",
        "admin@localhost",
    ),
    (
        {"target": "minikube", "ollama": '{"keepAlive": "1d"}'},
        "icc-ollama:ollama.keepAlive",
        "no 'd' unit",
    ),
    (
        {"target": "minikube", "webuiAdminPassword": "admin"},
        "icc-ollama:webuiAdminPassword",
        "at least 12 characters",
    ),
    (
        {"target": "minikube", "webui": '{"openai": {"enabled": true}}'},
        "icc-ollama:openaiApiKey",
        "pulumi config set --secret openaiApiKey",
    ),
    (
        {"target": "minikube", "webui": '{"openai": {"baseUrl": "api.openai.com"}}'},
        "icc-ollama:webui.openai",
        "http(s) URL",
    ),
    (
        {"target": "minikube", "webuiSecretKey": "short"},
        "icc-ollama:webuiSecretKey",
        "at least 32 characters",
    ),
    (
        {"target": "minikube", "keepDataOnDestroy": "maybe"},
        "icc-ollama:keepDataOnDestroy",
        "valid boolean",
    ),
    # Ingress, autoscaling and the namespace budget.
    (
        {"target": "icc", "namespace": "wabc123-default", "ingress": '{"enabled": true}'},
        "icc-ollama:ingress.host",
        "CNAME to icc-k8s-api.informatik.haw-hamburg.de",
    ),
    (
        {"target": "minikube", "ingress": '{"enabled": true, "host": "https://chat.local"}'},
        "icc-ollama:ingress.host",
        "no scheme",
    ),
    (
        {"target": "minikube", "ingress": '{"enabled": true, "host": "chat_1.local"}'},
        "icc-ollama:ingress.host",
        "DNS name",
    ),
    (
        {
            "target": "icc",
            "namespace": "wabc123-default",
            "ingress": '{"enabled": true, "host": "chat.example.org", '
            '"tls": {"existingSecret": "c"}}',
        },
        "icc-ollama:ingress.tls.existingSecret",
        "not both",
    ),
    (
        {
            "target": "icc",
            "namespace": "wabc123-default",
            "ingress": '{"enabled": true, "host": "chat.example.org", '
            '"tls": {"clusterIssuer": ""}}',
        },
        "icc-ollama:ingress.tls",
        "TLS needs a certificate",
    ),
    (
        {"target": "minikube", "ingress": '{"enabled": true, "exposeOllama": true}'},
        "icc-ollama:ingress.ollamaHost",
        "host of its own",
    ),
    (
        {
            "target": "minikube",
            "ingress": '{"enabled": true, "exposeOllama": true, '
            '"ollamaHost": "open-webui.minikube.local"}',
        },
        "icc-ollama:ingress.ollamaHost",
        "must differ from ingress.host",
    ),
    (
        {"target": "minikube", "ingress": '{"exposeOllama": true}'},
        "icc-ollama:ingress.exposeOllama",
        "needs ingress.enabled",
    ),
    (
        {"target": "minikube", "ingress": '{"proxyBodySize": "100 MB"}'},
        "icc-ollama:ingress.proxyBodySize",
        "nginx size",
    ),
    (
        {"target": "minikube", "ollama": '{"autoscaling": {"minReplicas": 5, "maxReplicas": 3}}'},
        "icc-ollama:ollama.autoscaling.minReplicas (given: 5)",
        "must not exceed",
    ),
    (
        {
            "target": "icc",
            "namespace": "wabc123-default",
            "quota": '{"gpu": 2}',
            "ollama": '{"autoscaling": {"enabled": true, "maxReplicas": 4}}',
        },
        "icc-ollama:ollama.autoscaling.maxReplicas (given: 4)",
        "4 GPUs, more than quota.gpu = 2",
    ),
    (
        {
            "target": "icc",
            "namespace": "wabc123-default",
            "ollama": '{"autoscaling": {"enabled": true}}',
        },
        "icc-ollama:quota.gpu",
        "required",
    ),
    (
        {"target": "minikube", "quota": '{"limits": {"memory": "plenty"}}'},
        "icc-ollama:quota.limits.memory",
        "byte unit",
    ),
    (
        {"target": "minikube", "quota": '{"limits": {"cpu": "3"}}'},
        "icc-ollama:ollama.replicas (given: 2)",
        "more than quota.limits.cpu = 3 CPU",
    ),
    # Monitoring.
    (
        {"target": "docker", "monitoring": '{"enabled": true}'},
        "icc-ollama:monitoring.enabled",
        "only the Kubernetes targets",
    ),
    (
        {"target": "minikube", "grafanaAdminPassword": "short"},
        "icc-ollama:grafanaAdminPassword",
        "at least 12 characters",
    ),
    (
        {"target": "minikube", "grafanaAdminPassword": "prom-operator"},
        "icc-ollama:grafanaAdminPassword",
        "no default such as admin",
    ),
    (
        {
            "target": "icc",
            "namespace": "wabc123-default",
            "monitoring": '{"enabled": true, "scope": "cluster"}',
        },
        "icc-ollama:monitoring.scope (given: cluster)",
        "no cluster-admin",
    ),
    (
        {"target": "minikube", "monitoring": '{"scope": "global"}'},
        "icc-ollama:monitoring.scope",
        "'namespace' or 'cluster'",
    ),
    (
        {"target": "minikube", "monitoring": '{"grafana": {"adminPassword": "admin"}}'},
        "icc-ollama:monitoring.grafana.adminPassword",
        "unknown setting",
    ),
    (
        {"target": "minikube", "monitoring": '{"prometheus": {"version": "29.*"}}'},
        "icc-ollama:monitoring.prometheus.version",
        "one exact chart version",
    ),
    (
        {"target": "minikube", "monitoring": '{"prometheus": {"repo": "prometheus-community"}}'},
        "icc-ollama:monitoring.prometheus.repo",
        "Helm repository URL",
    ),
    (
        {"target": "minikube", "monitoring": '{"grafana": {"repo": ""}}'},
        "icc-ollama:monitoring.grafana.repo",
        "local path",
    ),
    (
        {"target": "minikube", "monitoring": '{"prometheus": {"retention": "15 days"}}'},
        "icc-ollama:monitoring.prometheus.retention",
        "Prometheus duration",
    ),
    (
        {"target": "minikube", "monitoring": '{"prometheus": {"storageSize": "lots"}}'},
        "icc-ollama:monitoring.prometheus.storageSize",
        "byte unit",
    ),
    (
        {"target": "minikube", "monitoring": '{"exporter": {"image": "python:latest"}}'},
        "icc-ollama:monitoring.exporter.image",
        "floats",
    ),
    (
        {"target": "minikube", "monitoring": '{"dcgmTargets": ["dcgm-exporter"]}'},
        "icc-ollama:monitoring.dcgmTargets[0]",
        "host:port",
    ),
    (
        {
            "target": "minikube",
            "quota": '{"limits": {"cpu": "20"}}',
            "monitoring": '{"prometheus": {"resources": {"limits": {"cpu": "30"}}}}',
        },
        "icc-ollama:monitoring.prometheus.resources",
        "1 Prometheus pod × 30.1 CPU",
    ),
]


@pytest.mark.parametrize(
    "raw, key, words", INVALID, ids=[f"{c[1]}-{i}" for i, c in enumerate(INVALID)]
)
def test_invalid_settings_name_their_key_and_fix(raw, key, words):
    raw = {**TEST_SECRETS, **raw}
    raw = {k: v for k, v in raw.items() if v is not None}
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, SECRET)
    message = str(caught.value)
    assert key in message, message
    assert words in message, message
    assert "Traceback" not in message
    if "openaiApiKey" not in key:
        assert TEST_SECRET_KEY not in message  # a secret never reaches the error text
    assert TEST_SECRETS["grafanaAdminPassword"] not in message


def test_secret_set_in_plain_text_is_refused():
    with pytest.raises(SettingsError, match="webuiSecretKey: stored in plain text.*--secret"):
        parse_settings({"target": "minikube", "webuiSecretKey": TEST_SECRET_KEY}, frozenset())


def test_secret_value_never_appears_in_messages():
    with pytest.raises(SettingsError) as caught:
        parse_settings({"target": "minikube", "webuiSecretKey": "s3cr3t-but-short"}, SECRET)
    assert "s3cr3t" not in str(caught.value)


def test_program_stops_with_run_error_before_any_resource(monkeypatch):
    config = {**stack_config("icc"), "webuiSecretKey": TEST_SECRET_KEY, "namespace": "default"}
    run = ProgramRun()
    with pytest.raises(pulumi.RunError, match="icc-ollama:namespace") as caught:
        run_program(config, stack="icc", monkeypatch=monkeypatch, run=run)
    assert run.resources == []
    assert "\n" not in str(caught.value).split("\n", 1)[0]  # first line is self-contained


def test_every_committed_stack_file_is_valid():
    for stack, extra in (("icc", {"namespace": "wabc123-default"}), ("minikube", {})):
        raw = {**stack_config(stack), **TEST_SECRETS, **extra}
        assert parse_settings(raw, SECRET).target == stack


# Accept/reject decisions of Go's time.ParseDuration or strconv.ParseInt, the two parses of
# Ollama v0.32.15's envconfig.KeepAlive, as Go 1.26 returned them for these inputs.
KEEP_ALIVE_ACCEPTED = [
    "5m",
    "1h30m",
    "0.5h",
    ".5h",
    "-1",
    "300",
    "0",
    "-1m",
    "+5m",
    "1.s",
    "-0",
    "1µs",
    "5m0s",
    300,
    -1,
]
KEEP_ALIVE_REJECTED = [
    "1d",
    "30 min",
    "1.",
    "5M",
    "m",
    "1h1",
    ".s",
    "1e3",
    "0x10",
    "1_000",
    " 5m",
    "-",
    "1.5",
    "",
]


@pytest.mark.parametrize("value", KEEP_ALIVE_ACCEPTED)
def test_keep_alive_accepts_what_ollama_parses(value):
    assert settings_for("minikube", ollama={"keepAlive": value}).ollama.keep_alive == str(value)


@pytest.mark.parametrize("value", KEEP_ALIVE_REJECTED)
def test_keep_alive_refuses_what_ollama_would_silently_replace_by_5m(value):
    with pytest.raises(SettingsError, match=r"icc-ollama:ollama.keepAlive .*Go duration"):
        settings_for("minikube", ollama={"keepAlive": value})
