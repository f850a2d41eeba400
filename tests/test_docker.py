"""The docker target, run through the real __main__.py under mocks, in both modes.

Mode (a): Ollama runs in Docker too (the committed Pulumi.docker.yaml). Mode (b): Open WebUI only,
pointed at an Ollama that already runs elsewhere.
"""

import dataclasses
import ipaddress
import json
from urllib.parse import urlsplit

import docker_read_back as read_back
import pulumi
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from components import docker_forms, docker_names, next_steps
from components.ollama import OllamaServerArgs
from components.ollama_env import SCRIPT, ollama_env
from components.webui import OpenWebUIArgs
from components.webui_env import webui_env
from harness import (
    TEST_ADMIN_PASSWORD,
    TEST_SECRET_KEY,
    ProgramRun,
    is_secret,
    mock_image_id,
    run_program,
    run_stack,
    stack_config,
    unwrap_secrets,
)
from settings import SettingsError, parse_settings
from settings.docker import is_loopback
from settings.quantity import parse_quantity

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
IMAGE = "docker:index/remoteImage:RemoteImage"
REMOTE = {"runOllama": False, "ollamaUrl": "http://host.docker.internal:11434"}
OPENAI_KEY = "sk-test-docker-0123456789abcdef"
SECRET = frozenset({"webuiSecretKey", "webuiAdminPassword"})


@pytest.fixture
def local(monkeypatch):
    return run_stack("docker", monkeypatch)


@pytest.fixture
def remote(monkeypatch):
    return run_stack("docker", monkeypatch, docker=REMOTE)


def settings(**extra):
    return parse_settings(
        {
            **stack_config("docker"),
            "webuiSecretKey": TEST_SECRET_KEY,
            "webuiAdminPassword": TEST_ADMIN_PASSWORD,
            **extra,
        },
        SECRET,
    )


def container(run, name):
    """A container by its Docker name (global on the host, shared with the Kubernetes names)."""
    found = [r for r in run.of_type(CONTAINER) if r.inputs.get("name") == name]
    assert len(found) == 1, f"no single container {name}: {[r.inputs.get('name') for r in found]}"
    return found[0].inputs


def envs(inputs):
    return dict(entry.split("=", 1) for entry in unwrap_secrets(inputs["envs"]))


def mounts(inputs):
    return {v["containerPath"]: v["volumeName"] for v in inputs["volumes"]}


# --- both modes: what runs where -----------------------------------------------------------


def test_local_mode_runs_ollama_loader_and_webui(local):
    names = sorted(r.inputs["name"] for r in local.of_type(CONTAINER))
    assert names == ["ollama", "ollama-model-loader", "open-webui", "open-webui-backup"]
    assert sorted(r.inputs["name"] for r in local.of_type(VOLUME)) == [
        "ollama-models",
        "open-webui-backups",
        "open-webui-data",
    ]


def test_remote_mode_runs_only_webui(remote):
    names = sorted(r.inputs["name"] for r in remote.of_type(CONTAINER))
    assert names == ["open-webui", "open-webui-backup"]
    names = sorted(r.inputs["name"] for r in remote.of_type(VOLUME))
    assert names == ["open-webui-backups", "open-webui-data"]
    assert [r.inputs["name"] for r in remote.of_type(IMAGE)] == [settings().webui.image]


def test_container_names_are_the_kubernetes_workload_names():
    defaults = {f.name: f.default for f in dataclasses.fields(OllamaServerArgs)}
    assert docker_names.OLLAMA == defaults["name"]
    defaults = {f.name: f.default for f in dataclasses.fields(OpenWebUIArgs)}
    assert docker_names.WEBUI == defaults["name"]


def test_each_container_runs_the_pinned_image_by_id(local):
    pinned = settings()
    images = {r.inputs["name"]: r.inputs for r in local.of_type(IMAGE)}
    assert set(images) == {pinned.ollama.image, pinned.webui.image}
    assert all(image["keepLocally"] is True for image in images.values())
    # The mocks give each RemoteImage its own id: the container must carry that id, not a name.
    assert container(local, "open-webui")["image"] == mock_image_id(pinned.webui.image)
    assert container(local, "ollama")["image"] == mock_image_id(pinned.ollama.image)
    assert container(local, "ollama-model-loader")["image"] == mock_image_id(pinned.ollama.image)


@pytest.mark.parametrize("mode", ["local", "remote"])
def test_every_docker_resource_uses_the_explicit_provider(mode, request):
    run = request.getfixturevalue(mode)
    provider = run.one("pulumi:providers:docker")
    assert provider.inputs["host"] == "unix:///var/run/docker.sock"
    docker_resources = [r for r in run.resources if r.typ.startswith("docker:")]
    assert len(docker_resources) >= 4
    for resource in docker_resources:
        assert "pulumi:providers:docker::docker::" in resource.provider, resource.name
    assert run.of_type("kubernetes:core/v1:Namespace") == []
    assert not [r for r in run.resources if r.typ.startswith("kubernetes:")]


def test_docker_host_comes_from_settings(monkeypatch):
    run = run_stack("docker", monkeypatch, docker={"host": "ssh://me@gpu-box"})
    assert run.one("pulumi:providers:docker").inputs["host"] == "ssh://me@gpu-box"


def test_children_are_parented_to_the_component(local):
    for resource in local.resources:
        if resource.typ.startswith("docker:"):
            urn = local.urn_of(resource.typ, resource.name)
            assert "icc:docker:LocalDockerStack$" in urn, urn


# --- ports, volumes, network ------------------------------------------------------------------


def test_ports_are_published_on_loopback_only(local):
    assert container(local, "open-webui")["ports"] == [
        {"internal": 8080, "external": 3000, "ip": "127.0.0.1", "protocol": "tcp"}
    ]
    assert container(local, "ollama")["ports"] == [
        {"internal": 11434, "external": 11434, "ip": "127.0.0.1", "protocol": "tcp"}
    ]
    assert "ports" not in container(local, "ollama-model-loader")
    assert local.exports["openWebUIUrl"] == "http://127.0.0.1:3000"


def test_bind_address_and_ports_are_settable(monkeypatch):
    run = run_stack(
        "docker",
        monkeypatch,
        docker={
            "bindAddress": "0.0.0.0",
            "allowNetworkAccess": True,
            "webuiPort": 8081,
            "ollamaPort": 0,
        },
    )
    (port,) = container(run, "open-webui")["ports"]
    assert (port["ip"], port["external"]) == ("0.0.0.0", 8081)
    assert "ports" not in container(run, "ollama")  # 0: the Ollama API stays unpublished
    assert run.exports["openWebUIUrl"] == "http://127.0.0.1:8081"
    assert "ollamaApi" not in run.exports["nextSteps"]


def test_data_volumes_are_mounted_where_the_images_keep_data(local, remote):
    webui = {"/app/backend/data": "open-webui-data", "/backups": "open-webui-backups"}
    assert mounts(container(local, "open-webui")) == webui
    assert mounts(container(local, "open-webui-backup")) == webui
    assert mounts(container(local, "ollama")) == {"/root/.ollama": "ollama-models"}
    assert mounts(container(remote, "open-webui")) == webui


def test_containers_share_the_stack_network(local):
    network = local.one("docker:index/network:Network")
    assert network.inputs["name"] == "icc-ollama"
    for c in local.of_type(CONTAINER):
        if c.inputs["name"] == "open-webui-backup":  # it talks to nobody
            assert c.inputs["networkMode"] == "none" and "networksAdvanced" not in c.inputs
        else:
            assert c.inputs["networksAdvanced"] == [{"name": "icc-ollama"}]


def test_volume_names_do_not_depend_on_safe_setting_changes(monkeypatch):
    base = sorted(r.inputs["name"] for r in run_stack("docker", monkeypatch).of_type(VOLUME))
    changed = run_stack(
        "docker",
        monkeypatch,
        ollama={"image": "ollama/ollama:0.33.0", "gpu": {"enabled": True}, "models": ["phi3"]},
        webui={"image": "ghcr.io/open-webui/open-webui:v0.12.5"},
        docker={"networkName": "other", "webuiPort": 3001, "bindAddress": "::1"},
    )
    assert sorted(r.inputs["name"] for r in changed.of_type(VOLUME)) == base


@pytest.mark.parametrize("keep, expected", [(None, True), ("false", False)])
def test_every_volume_is_registered_with_the_retain_option(keep, expected):
    extra = {} if keep is None else {"keepDataOnDestroy": keep}
    run = run_stack("docker", **extra)
    volumes = run.of_type(VOLUME)
    assert len(volumes) == 3  # models, chats, backups
    for volume in volumes:
        assert run.options_of(VOLUME, volume.name).retain_on_delete is expected


# --- environment and secrets ------------------------------------------------------------------


def test_webui_reaches_ollama_by_container_name_in_local_mode(local):
    env = envs(container(local, "open-webui"))
    assert env["OLLAMA_BASE_URLS"] == "http://ollama:11434"
    assert local.exports["ollamaUrl"] == "http://ollama:11434"
    assert "hosts" not in container(local, "open-webui")


def test_webui_uses_the_given_url_in_remote_mode(remote):
    inputs = container(remote, "open-webui")
    assert envs(inputs)["OLLAMA_BASE_URLS"] == "http://host.docker.internal:11434"
    assert inputs["hosts"] == [{"host": "host.docker.internal", "ip": "host-gateway"}]
    assert remote.exports["ollamaUrl"] == "http://host.docker.internal:11434"


def test_env_is_the_shared_kubernetes_wiring(local):
    pinned = settings()
    env = envs(container(local, "open-webui"))
    origins = ("http://localhost:3000", "http://127.0.0.1:3000")
    shared = webui_env(pinned.webui, ("http://ollama:11434",), None, origins)
    secret = {"WEBUI_SECRET_KEY", "WEBUI_ADMIN_PASSWORD"}
    assert {k: v for k, v in env.items() if k not in secret} == shared
    assert envs(container(local, "ollama")) == ollama_env(pinned.ollama)


@pytest.mark.parametrize("docker", [{}, REMOTE])
def test_envs_are_secret_and_no_secret_is_plain_anywhere(docker, monkeypatch):
    config = {
        **stack_config("docker"),
        "webuiSecretKey": TEST_SECRET_KEY,
        "webuiAdminPassword": TEST_ADMIN_PASSWORD,
        "openaiApiKey": OPENAI_KEY,
        "webui": {"openai": {"enabled": True}},
        "docker": docker,
    }
    run = run_program(
        config,
        secret_keys=("webuiSecretKey", "webuiAdminPassword", "openaiApiKey"),
        stack="docker",
        monkeypatch=monkeypatch,
    )
    webui = container(run, "open-webui")
    assert is_secret(webui["envs"])
    env = envs(webui)
    assert env["WEBUI_SECRET_KEY"] == TEST_SECRET_KEY  # the stack's key: stable across updates
    assert env["OPENAI_API_KEY"] == OPENAI_KEY
    assert env["WEBUI_ADMIN_PASSWORD"] == TEST_ADMIN_PASSWORD
    for resource in run.resources:
        scrubbed = repr(_without_secrets(resource.inputs))
        for value in (TEST_SECRET_KEY, OPENAI_KEY, TEST_ADMIN_PASSWORD):
            assert value not in scrubbed, resource.name
    for value in (TEST_SECRET_KEY, OPENAI_KEY, TEST_ADMIN_PASSWORD):
        assert value not in repr(_without_secrets(run.exports))


def _without_secrets(value):
    if is_secret(value):
        return "<secret>"
    if isinstance(value, dict):
        return {k: _without_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


# --- GPU, health, restart ---------------------------------------------------------------------


def test_no_gpu_unless_asked(local):
    for c in local.of_type(CONTAINER):
        assert "deviceRequests" not in c.inputs and "gpus" not in c.inputs


def test_gpu_is_requested_for_ollama_only(monkeypatch):
    run = run_stack("docker", monkeypatch, ollama={"gpu": {"enabled": True, "count": 2}})
    assert container(run, "ollama")["deviceRequests"] == [
        {"driver": "nvidia", "count": 2, "capabilities": ["gpu"]}
    ]
    assert "gpus" not in container(run, "ollama")  # gpus and device_requests exclude each other
    for name in ("open-webui", "ollama-model-loader"):
        assert "deviceRequests" not in container(run, name)


def test_servers_are_health_checked_and_waited_for(local):
    webui, ollama = container(local, "open-webui"), container(local, "ollama")
    assert webui["healthcheck"]["tests"] == [
        "CMD",
        "curl",
        "--silent",
        "--fail",
        "http://localhost:8080/ready",
    ]
    assert ollama["healthcheck"]["tests"] == ["CMD", "ollama", "list"]  # the image has no curl
    for c in (webui, ollama):
        assert c["wait"] is True and c["waitTimeout"] >= 300
        assert c["healthcheck"]["retries"] >= 3
    for c in local.of_type(CONTAINER):
        assert c.inputs["restart"] == "unless-stopped"


def test_limits_come_from_the_resource_settings(local):
    ollama, webui = container(local, "ollama"), container(local, "open-webui")
    assert (ollama["memory"], ollama["memorySwap"], ollama["cpus"]) == (8192, 8192, "2.0")
    assert (webui["memory"], webui["memorySwap"], webui["cpus"]) == (2048, 2048, "1.0")


@pytest.mark.parametrize(
    "quantity, mib", [("8Gi", 8192), ("512Mi", 512), ("1G", 954), ("1.5Gi", 1536), ("100M", 96)]
)
def test_memory_quantities_become_mib(quantity, mib):
    assert docker_forms.memory_mib(quantity) == mib


# What terraform-provider-docker v4.5.0 prints for NanoCPUs when it reads `cpus` back, checked
# with Go.
READ_BACK_CPUS = [
    ("500m", "0.5"),
    ("2", "2.0"),
    ("1", "1.0"),
    ("10", "10."),
    ("20", "20."),
    ("0.25", "0.25"),
    ("1500m", "1.5"),
    ("100m", "0.1"),
    ("1.05", "1.05"),
    ("10.5", "10.5"),
    ("150m", "0.15"),
]


@pytest.mark.parametrize("quantity, cpus", READ_BACK_CPUS)
def test_cpu_quantities_become_docker_cpus_in_read_back_form(quantity, cpus):
    assert docker_forms.cpus(quantity) == cpus


@pytest.mark.parametrize("quantity, cpus", READ_BACK_CPUS + [("10m", "0.0"), ("50m", "0.1")])
def test_the_read_back_model_prints_nano_cpus_as_the_provider(quantity, cpus):
    nano = int(parse_quantity(quantity) * 10**9)
    assert read_back.cpus_from_nano(nano) == cpus


@pytest.mark.parametrize(
    "quantity, shown",
    [("10m", "0.0"), ("50m", "0.1"), ("10.01", "10.0"), ("1n", "0.0"), ("0.0000000001", None)],
)
def test_cpu_limits_the_provider_would_misread_are_refused(quantity, shown):
    with pytest.raises(ValueError, match=shown or "nine decimals"):
        docker_forms.cpus(quantity)


def test_a_misread_cpu_limit_is_one_clear_error_before_any_resource(monkeypatch):
    run = ProgramRun()
    config = {
        **stack_config("docker"),
        "webuiSecretKey": TEST_SECRET_KEY,
        "webuiAdminPassword": TEST_ADMIN_PASSWORD,
        "ollama": {"resources": {"requests": {"cpu": "10m"}, "limits": {"cpu": "50m"}}},
    }
    with pytest.raises(pulumi.RunError) as caught:
        run_program(config, stack="docker", monkeypatch=monkeypatch, run=run)
    message = str(caught.value)
    assert message.startswith("icc-ollama:ollama.resources.limits.cpu (given: 50m):"), message
    assert "pulumi config set --path ollama.resources.limits.cpu" in message and "\n" not in message
    assert not [r for r in run.resources if r.typ.startswith("docker:index/")]


# --- model preloading and exports --------------------------------------------------------------


def test_loader_runs_the_kubernetes_model_loader_script(local):
    loader = container(local, "ollama-model-loader")
    (upload,) = loader["uploads"]
    assert upload["content"] == SCRIPT.read_text() and upload["executable"] is True
    # The Ollama image's ENTRYPOINT is /bin/ollama: the shell must replace it, not follow it.
    assert loader["entrypoints"] == ["/bin/sh"]
    assert loader["command"] == [upload["file"]]
    # No GPU for the loader: the Ollama image's NVIDIA_VISIBLE_DEVICES=all is overridden.
    assert envs(loader) == {
        "OLLAMA_HOST": "ollama:11434",
        "OLLAMA_MODELS_WANTED": "llama3.2:1b",
        "NVIDIA_VISIBLE_DEVICES": "void",
    }


def test_no_loader_without_models(monkeypatch):
    run = run_stack("docker", monkeypatch, ollama={"models": []})
    names = sorted(r.inputs["name"] for r in run.of_type(CONTAINER))
    assert names == ["ollama", "open-webui", "open-webui-backup"]
    assert "modelLoaderLogs" not in run.exports["nextSteps"]


def test_exports_say_how_to_use_the_local_stack(local):
    steps = local.exports["nextSteps"]
    assert steps["pullModel"] == "docker exec ollama ollama pull llama3.2:1b"
    assert steps["modelLoaderLogs"] == "docker logs -f ollama-model-loader"
    assert steps["ollamaApi"] == "http://127.0.0.1:11434"
    assert steps["login"].startswith("open http://127.0.0.1:3000;")
    assert local.exports["target"] == "docker" and "namespace" not in local.exports


def test_exports_pull_through_the_host_in_remote_mode(remote):
    steps = remote.exports["nextSteps"]
    assert steps["pullModel"] == (
        'curl http://localhost:11434/api/pull -d \'{"model": "llama3.2:1b"}\''
    )
    assert "modelLoaderLogs" not in steps


@pytest.mark.parametrize(
    "address, host",
    [
        ("127.0.0.1", "127.0.0.1"),
        ("0.0.0.0", "127.0.0.1"),
        ("::", "127.0.0.1"),
        ("::1", "[::1]"),
        ("192.168.1.5", "192.168.1.5"),
    ],
)
def test_url_host_is_reachable_from_a_browser(address, host):
    assert next_steps.url_host(address) == host


# --- settings ------------------------------------------------------------------------------------


def test_docker_needs_no_namespace_and_has_safe_defaults():
    parsed = parse_settings(
        {
            "target": "docker",
            "webuiSecretKey": TEST_SECRET_KEY,
            "webuiAdminPassword": TEST_ADMIN_PASSWORD,
        },
        SECRET,
    )
    docker = parsed.docker
    assert docker.host == "unix:///var/run/docker.sock" and docker.bind_address == "127.0.0.1"
    assert (docker.run_ollama, docker.webui_port, docker.ollama_port) == (True, 3000, 11434)
    assert not parsed.ollama.gpu.enabled and parsed.keep_data_on_destroy


def test_committed_docker_stack_file_is_valid():
    assert settings().target == "docker"


def test_trailing_slash_is_dropped_from_the_ollama_url():
    parsed = settings(docker='{"runOllama": false, "ollamaUrl": "https://gpu.example.org:8443/"}')
    assert parsed.docker.ollama_url == "https://gpu.example.org:8443"


INVALID_DOCKER = [
    # (raw settings, key the message must name, words the message must contain)
    (
        {"docker": '{"runOllama": false}'},
        "icc-ollama:docker.ollamaUrl",
        "pulumi config set --path docker.ollamaUrl",
    ),
    (
        {"docker": '{"runOllama": false, "ollamaUrl": "http://host.docker.internal:11434/api"}'},
        "icc-ollama:docker.ollamaUrl",
        "drop the '/api' suffix",
    ),
    (
        {"docker": '{"runOllama": false, "ollamaUrl": "http://localhost:11434"}'},
        "icc-ollama:docker.ollamaUrl",
        "host.docker.internal",
    ),
    (
        {"docker": '{"runOllama": false, "ollamaUrl": "host.docker.internal:11434"}'},
        "icc-ollama:docker.ollamaUrl",
        "http(s) URL",
    ),
    (
        {"docker": '{"ollamaUrl": "http://gpu-box:11434"}'},
        "icc-ollama:docker.ollamaUrl",
        "only used when docker.runOllama is false",
    ),
    (
        {
            "docker": '{"runOllama": false, "ollamaUrl": "http://host.docker.internal:11434"}',
            "ollama": '{"gpu": {"enabled": true}}',
        },
        "icc-ollama:ollama.gpu.enabled",
        "docker.runOllama is false",
    ),
    ({"ollama": '{"replicas": 2}'}, "icc-ollama:ollama.replicas", "one Ollama container"),
    ({"docker": '{"bindAddress": "localhost"}'}, "icc-ollama:docker.bindAddress", "IP address"),
    (
        {"docker": '{"host": "/var/run/docker.sock"}'},
        "icc-ollama:docker.host",
        "unix:///var/run/docker.sock",
    ),
    ({"docker": '{"webuiPort": 70000}'}, "icc-ollama:docker.webuiPort", "less than or equal"),
    ({"docker": '{"networkName": "My_Net"}'}, "icc-ollama:docker.networkName", "DNS label"),
    ({"docker": '{"runOlama": false}'}, "icc-ollama:docker.runOlama", "unknown setting"),
    (
        {"target": "icc", "namespace": "wabc123-default", "docker": '{"runOllama": false}'},
        "icc-ollama:docker",
        "only the docker target uses it",
    ),
    ({"target": "minikube", "docker": "{}"}, "icc-ollama:docker", "pulumi config rm docker"),
]


@pytest.mark.parametrize(
    "raw, key, words", INVALID_DOCKER, ids=[f"{c[1]}-{i}" for i, c in enumerate(INVALID_DOCKER)]
)
def test_invalid_docker_settings_name_their_key_and_fix(raw, key, words):
    raw = {
        "target": "docker",
        "webuiSecretKey": TEST_SECRET_KEY,
        "webuiAdminPassword": TEST_ADMIN_PASSWORD,
        **raw,
    }
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, SECRET)
    message = str(caught.value)
    assert key in message and words in message, message
    assert message.count("\n") == 1, message  # one problem, one line
    assert TEST_SECRET_KEY not in message


def test_invalid_docker_settings_stop_before_any_resource(monkeypatch):
    run = ProgramRun()
    config = {
        **stack_config("docker"),
        "webuiSecretKey": TEST_SECRET_KEY,
        "docker": {"runOllama": False},
    }
    with pytest.raises(pulumi.RunError, match="icc-ollama:docker.ollamaUrl"):
        run_program(config, stack="docker", monkeypatch=monkeypatch, run=run)
    assert run.resources == []


# --- fuzzing the docker block ---------------------------------------------------------------------

URLS = [
    "http://host.docker.internal:11434",
    "http://host.docker.internal:11434/api",
    "https://gpu.example.org/",
    "http://localhost:11434",
    "ollama:11434",
    "",
    None,
    "http://127.0.0.2:11434",
    "http://[::ffff:127.0.0.1]:11434",
    "http://gpu.example.org:0",
    "http://gpu.example.org:99999",
    "http://app.localhost:11434",
]
PORTS = st.one_of(st.integers(-1, 70000), st.sampled_from([0, 3000, 8080, 11434]))
docker_blocks = st.fixed_dictionaries(
    {},
    optional={
        "host": st.sampled_from(["unix:///var/run/docker.sock", "ssh://me@box", "/var/run/x", ""]),
        "runOllama": st.one_of(st.booleans(), st.just("nope")),
        "ollamaUrl": st.sampled_from(URLS),
        "webuiPort": st.one_of(PORTS, st.just("http")),
        "ollamaPort": PORTS,
        "bindAddress": st.sampled_from(
            [
                "127.0.0.1",
                "0.0.0.0",
                "::1",
                "localhost",
                "300.1.1.1",
                "192.168.1.5",
                "10.0.0.1",
                "::",
                "127.0.0.2",
            ]
        ),
        "allowNetworkAccess": st.booleans(),
        "exposeOllamaApi": st.booleans(),
        "networkName": st.sampled_from(["icc-ollama", "Bad_Net"]),
        "extra": st.integers(),
    },
)
docker_raw = st.fixed_dictionaries(
    {"target": st.sampled_from(["docker", "icc", "minikube"]), "docker": docker_blocks},
    optional={
        "ollama": st.fixed_dictionaries(
            {},
            optional={
                "gpu": st.fixed_dictionaries({"enabled": st.booleans()}),
                "replicas": st.integers(0, 3),
            },
        ),
        "webui": st.fixed_dictionaries({}, optional={"auth": st.booleans()}),
    },
)


@hypothesis_settings(max_examples=150, deadline=None)
@given(docker_raw)
def test_any_docker_block_is_valid_or_one_clear_error(raw):
    raw = {
        **raw,
        "namespace": "wabc123-default",
        "webuiSecretKey": TEST_SECRET_KEY,
        "webuiAdminPassword": TEST_ADMIN_PASSWORD,
    }
    raw = {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
    try:
        parsed = parse_settings(raw, SECRET)
    except SettingsError:
        return
    # Whatever is accepted is coherent: one mode, a GPU only for a local Ollama, loopback-safe URL.
    assert parsed.target == "docker"
    docker = parsed.docker
    assert docker.run_ollama == (docker.ollama_url is None)
    assert not (parsed.ollama.gpu.enabled and not docker.run_ollama)
    assert docker.ollama_url is None or not docker.ollama_url.endswith(("/api", "/"))
    # ... the URL names another machine on a real port ...
    if docker.ollama_url is not None:
        url = urlsplit(docker.ollama_url)
        assert url.port is None or 1 <= url.port <= 65535
        assert not is_loopback(url.hostname or "")
    # ... every published port is its own, and nothing reaches the network unasked.
    if docker.run_ollama and docker.ollama_port:
        assert docker.ollama_port != docker.webui_port
    if not ipaddress.ip_address(docker.bind_address).is_loopback:
        assert docker.allow_network_access and parsed.webui.auth
        assert not (docker.run_ollama and docker.ollama_port) or docker.expose_ollama_api


# --- the provider's read-back: a second `up` must see no change --------------------------------
# The provider reads each container back from the engine and diffs it against the inputs
# (terraform-provider-docker v4.5.0, its container read). `cpus` and
# `healthcheck` force a replacement, so a value not in the read-back form replaced Ollama and
# Open WebUI on every `up`.


def round_trip(inputs):
    """What the provider would diff after the engine stored these inputs (swap accounting on)."""
    return read_back.from_engine(read_back.engine_from_inputs(inputs))


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "0s"),
        (5, "5s"),
        (10, "10s"),
        (60, "1m0s"),
        (90, "1m30s"),
        (300, "5m0s"),
        (3600, "1h0m0s"),
        (9000, "2h30m0s"),
    ],
)
def test_durations_are_written_as_go_prints_them(seconds, text):
    assert docker_forms.go_duration(seconds) == text  # time.Duration.String(), checked with Go
    assert read_back.go_duration(seconds * 10**9) == text
    assert read_back.duration_ns(text) == seconds * 10**9


def test_without_swap_accounting_only_memory_swap_differs(local):
    # Such hosts store -1 (docker_preflight.py says so): an in-place update, not a replacement.
    ollama = unwrap_secrets(container(local, "ollama"))
    stored = read_back.engine_from_inputs(ollama, swap_accounting=False)
    read, given = read_back.from_engine(stored), read_back.as_diffed(ollama)
    assert read["memorySwap"] == -1
    assert {**read, "memorySwap": given["memorySwap"]} == given


@pytest.mark.parametrize("docker", [{}, REMOTE])
def test_every_container_is_written_in_the_provider_read_back_form(docker):
    run = run_stack("docker", docker=docker)
    for found in run.of_type(CONTAINER):
        inputs = unwrap_secrets(found.inputs)
        assert round_trip(inputs) == read_back.as_diffed(inputs), inputs["name"]


def test_health_checks_pin_their_canonical_durations(local):
    expected = {"ollama": "1m0s", "open-webui": "5m0s", "ollama-model-loader": "1m0s"}
    for name, start_period in expected.items():
        health = container(local, name)["healthcheck"]
        assert (health["interval"], health["timeout"], health["startPeriod"]) == (
            "10s",
            "5s",
            start_period,
        )


def test_no_container_sets_start_interval(local):
    # healthcheck.start_interval needs Engine API 1.44: Docker 20.10-24 refuse every container.
    for found in local.of_type(CONTAINER):
        assert "startInterval" not in found.inputs["healthcheck"], found.inputs["name"]


def test_the_same_settings_render_the_same_containers():
    first, second = (run_stack("docker", cached=False) for _ in range(2))
    assert first is not second
    rendered = [
        {r.inputs["name"]: unwrap_secrets(r.inputs) for r in run.of_type(CONTAINER)}
        for run in (first, second)
    ]
    assert rendered[0] == rendered[1]
    for inputs in rendered[0].values():
        assert round_trip(inputs) == read_back.as_diffed(inputs)


def test_a_keep_alive_change_touches_only_ollama():
    before = run_stack("docker")
    after = run_stack("docker", ollama={"keepAlive": "1h"})
    changed = {
        name
        for name in ("ollama", "ollama-model-loader", "open-webui")
        if unwrap_secrets(container(before, name)) != unwrap_secrets(container(after, name))
    }
    assert changed == {"ollama"}
    assert envs(container(after, "ollama"))["OLLAMA_KEEP_ALIVE"] == "1h"


def test_open_webui_takes_no_input_from_the_ollama_container(local):
    # A replaced Ollama must not replace Open WebUI: it reaches Ollama by its fixed name only.
    ollama = local.urn_of(CONTAINER, "local-ollama")
    assert ollama not in local.dependencies[local.urn_of(CONTAINER, "local-open-webui")]


def test_up_waits_for_the_loader_to_run(local):
    loader = container(local, "ollama-model-loader")
    assert loader["wait"] is True and 0 < loader["waitTimeout"] <= 300
    # It reaches the server from inside the loader container, through OLLAMA_HOST.
    assert loader["healthcheck"]["tests"] == ["CMD", "ollama", "list"]
    assert loader["init"] is True  # with init, the container lives exactly as long as the script


def test_default_ollama_cpu_limit_fits_a_two_cpu_host():
    parsed = parse_settings(
        {
            "target": "docker",
            "webuiSecretKey": TEST_SECRET_KEY,
            "webuiAdminPassword": TEST_ADMIN_PASSWORD,
        },
        SECRET,
    )
    assert docker_forms.cpus(parsed.ollama.resources.limits.cpu) == "2.0"
