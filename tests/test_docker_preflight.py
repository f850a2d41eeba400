"""scripts/docker_preflight.py: what the engine must offer before `pulumi up` creates anything.

The checks run here on given engine facts; tests/e2e/test_docker_engine.py asks real engines.
"""

import importlib.util
import json
import subprocess
import sys

import pytest

from harness import ROOT, TEST_ADMIN_PASSWORD, TEST_SECRET_KEY
from settings import parse_settings
from settings.load import SECRET_STAND_IN

spec = importlib.util.spec_from_file_location(
    "docker_preflight", ROOT / "scripts" / "docker_preflight.py"
)
preflight = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = preflight  # dataclasses look their module up there
spec.loader.exec_module(preflight)

CURRENT = preflight.EngineFacts(version="28.5.2", api_version="1.51", cpus=2, swap_limit=True)
DEBIAN_12 = preflight.EngineFacts(version="20.10.24", api_version="1.41", cpus=2, swap_limit=True)


def settings(**raw):
    return parse_settings(
        {
            "target": "docker",
            "webuiSecretKey": TEST_SECRET_KEY,
            "webuiAdminPassword": TEST_ADMIN_PASSWORD,
            **{k: json.dumps(v) for k, v in raw.items()},
        },
        frozenset({"webuiSecretKey", "webuiAdminPassword"}),
    )


def limit(cpu):
    return {"resources": {"requests": {"cpu": "500m"}, "limits": {"cpu": cpu}}}


def test_defaults_pass_on_a_two_cpu_host_with_the_oldest_supported_engine():
    assert preflight.check(settings(), DEBIAN_12) == ([], [])
    assert preflight.check(settings(), CURRENT) == ([], [])


@pytest.mark.parametrize("api", ["1.40", "1.39"])
def test_an_engine_older_than_20_10_is_one_clear_line(api):
    old = preflight.EngineFacts(version="19.03.15", api_version=api, cpus=8, swap_limit=True)
    problems, _ = preflight.check(settings(), old)
    assert problems == [
        f"icc-ollama:docker.host (unix:///var/run/docker.sock): Docker Engine 19.03.15 (API "
        f"{api}) is too old; the docker target needs Docker 20.10 (API 1.41) or newer: update "
        f"Docker there, or point docker.host at a newer engine"
    ]


def test_a_cpu_limit_above_the_host_names_the_key_and_the_fix():
    problems, _ = preflight.check(settings(ollama=limit("4")), CURRENT)
    assert problems == [
        "icc-ollama:ollama.resources.limits.cpu (given: 4): the Docker host "
        "unix:///var/run/docker.sock has 2 CPUs and refuses a larger limit; lower it with "
        "`pulumi config set --path ollama.resources.limits.cpu 2`"
    ]


def test_the_default_ollama_limit_is_refused_only_on_a_one_cpu_host():
    tiny = preflight.EngineFacts(version="28.5.2", api_version="1.51", cpus=1, swap_limit=True)
    problems, _ = preflight.check(settings(), tiny)
    assert [line.split(" (")[0] for line in problems] == ["icc-ollama:ollama.resources.limits.cpu"]


def test_every_container_limit_is_checked():
    problems, _ = preflight.check(settings(ollama=limit("3"), webui=limit("2500m")), CURRENT)
    assert [line.split(" (")[0] for line in problems] == [
        "icc-ollama:webui.resources.limits.cpu",
        "icc-ollama:ollama.resources.limits.cpu",
    ]


def test_the_ollama_limit_is_not_checked_when_ollama_runs_elsewhere():
    remote = settings(
        docker={"runOllama": False, "ollamaUrl": "http://host.docker.internal:1"},
        ollama=limit("64"),
    )
    assert preflight.check(remote, CURRENT) == ([], [])


def test_a_host_without_swap_accounting_gets_a_note_not_an_error():
    no_swap = preflight.EngineFacts(version="28.5.2", api_version="1.51", cpus=2, swap_limit=False)
    problems, notes = preflight.check(settings(), no_swap)
    assert problems == [] and len(notes) == 1 and "memorySwap" in notes[0]


def test_stack_settings_read_pulumi_config_json_without_secrets(monkeypatch):
    # The shape `pulumi config --json` prints: objects as JSON text, secrets without a value.
    shown = {
        "icc-ollama:target": {"value": "docker", "secret": False},
        "icc-ollama:ollama": {
            "value": json.dumps(limit("8")),
            "secret": False,
            "objectValue": limit("8"),
        },
        "icc-ollama:webuiSecretKey": {"secret": True},
        "icc-ollama:webuiAdminPassword": {"secret": True},
        "other:key": {"value": "x", "secret": False},
    }
    calls = []

    def fake_run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, stdout=json.dumps(shown))

    monkeypatch.setattr(preflight.subprocess, "run", fake_run)
    parsed = preflight.stack_settings("docker")
    assert calls == [["pulumi", "config", "--json", "--stack", "docker"]]
    assert parsed.ollama.resources.limits.cpu == "8"
    assert parsed.webui_secret_key.get_secret_value() == SECRET_STAND_IN


def test_settings_pulumi_would_refuse_are_left_to_pulumi(monkeypatch):
    shown = {
        "icc-ollama:target": {"value": "docker", "secret": False},
        "icc-ollama:docker": {"value": json.dumps({"webuiPort": 0}), "secret": False},
        "icc-ollama:webuiSecretKey": {"secret": True},
        "icc-ollama:webuiAdminPassword": {"secret": True},
    }
    monkeypatch.setattr(
        preflight.subprocess,
        "run",
        lambda command, **kwargs: subprocess.CompletedProcess(command, 0, stdout=json.dumps(shown)),
    )
    assert preflight.stack_settings("docker") is None
    assert preflight.main(["docker_preflight.py", "docker"]) == 0


def test_an_unreachable_engine_is_one_clear_line(monkeypatch, capsys):
    monkeypatch.setattr(
        preflight,
        "stack_settings",
        lambda stack: settings(docker={"host": "unix:///nonexistent/docker.sock"}),
    )
    assert preflight.main(["docker_preflight.py", "docker"]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith(
            "icc-ollama:docker.host (unix:///nonexistent/docker.sock): cannot reach Docker"
        )
        and err.count("\n") == 1
    )
