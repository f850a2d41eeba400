"""`make up/preview/config-*` (scripts/up.sh) on a fresh clone, with a fake `pulumi` on PATH.

Each test copies the working tree's files into a new git repository (a fresh clone of what is
about to be committed), points HOME at a temporary directory and puts tests/fake_pulumi.py on
PATH as `pulumi`. It then checks what a new user relies on: `git status` stays clean, a preview
leaves no file behind, the passphrase is made once with mode 600, secrets are generated once and
kept, and grafanaAdminPassword exists only where monitoring is on.
"""

import re
import stat
import subprocess
import sys

import pytest
import yaml
from fresh_clone import REPO, Clone

sys.path.insert(0, str(REPO / "scripts"))

import stack_config  # noqa: E402

from settings.targets import TARGET_DEFAULTS  # noqa: E402

GENERATED = ("icc-ollama:webuiSecretKey", "icc-ollama:webuiAdminPassword")
GRAFANA = "icc-ollama:grafanaAdminPassword"


@pytest.fixture
def clone(tmp_path):
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{REPO / "tests/fake_pulumi.py"}" "$@"\n')
    fake.chmod(0o755)
    # No Docker Engine here: the pre-flight has its own tests (tests/test_docker_preflight.py).
    clone = Clone(
        tmp_path, fake.parent, replace={"scripts/docker_preflight.py": "raise SystemExit(0)\n"}
    )
    clone.env["FAKE_PULUMI_LOG"] = str(clone.log)
    return clone


@pytest.mark.slow
def test_fresh_clone_stays_clean_after_preview_and_up(clone):
    preview = clone.make("preview", "STACK=minikube")
    assert clone.status() == ""
    assert not (clone.home / ".icc-ollama").exists(), "a preview must create nothing"
    assert "throw-away" in preview.stdout
    [previewed] = clone.calls("preview")
    assert set(GENERATED) | {GRAFANA} <= set(previewed["secrets"])
    assert "icc-ollama:target" in previewed["config"], "shared defaults were not merged"
    # The ICC rules run in every preview and up: one flag, the pack finds the stack's facts.
    assert previewed["argv"][previewed["argv"].index("--policy-pack") + 1] == "policy"
    assert "--policy-pack-config" not in previewed["argv"]

    up = clone.make("up", "STACK=minikube")
    assert clone.status() == ""
    assert "Created the stack passphrase" in up.stdout
    passphrase = clone.home / ".icc-ollama" / "passphrase"
    assert stat.S_IMODE(passphrase.stat().st_mode) == 0o600
    own = yaml.safe_load(clone.own("minikube").read_text())
    assert own["encryptionsalt"]
    assert set(GENERATED) | {GRAFANA} <= set(own["config"])
    [deployed] = clone.calls("up")
    assert set(GENERATED) | {GRAFANA} <= set(deployed["secrets"])
    assert deployed["argv"][deployed["argv"].index("--policy-pack") + 1] == "policy"
    assert not deployed["argv"][deployed["argv"].index("--config-file") + 1].startswith(
        str(clone.dir)
    ), "the config file given to pulumi up must live outside the repository"

    kept = passphrase.read_bytes(), clone.own("minikube").read_bytes()
    clone.make("preview", "STACK=minikube")
    again = clone.make("up", "STACK=minikube")
    assert clone.status() == ""
    assert (passphrase.read_bytes(), clone.own("minikube").read_bytes()) == kept
    assert "Generated" not in again.stdout and "Created" not in again.stdout


@pytest.mark.slow
def test_grafana_password_only_where_monitoring_is_on(clone):
    first = clone.make("up", "STACK=docker")
    clone.make("config-set", "STACK=icc", "KEY=namespace", "VALUE=wabc123-default")
    second = clone.make("up", "STACK=icc")
    assert "Created the stack passphrase" in first.stdout, "one passphrase for all stacks"
    assert "Created the stack passphrase" not in second.stdout
    assert stat.S_IMODE((clone.home / ".icc-ollama").stat().st_mode) == 0o700
    assert GRAFANA not in clone.own_config("docker")
    assert GRAFANA not in clone.own_config("icc")
    assert set(GENERATED) <= set(clone.own_config("icc"))
    assert clone.own_config("icc")["icc-ollama:namespace"] == "wabc123-default"

    clone.make("config-set", "STACK=icc", "KEY=monitoring.enabled", "VALUE=true")
    assert clone.own_config("icc")["icc-ollama:monitoring"] == {"enabled": True}
    up = clone.make("up", "STACK=icc")
    assert "Generated grafanaAdminPassword" in up.stdout
    assert GRAFANA in clone.own_config("icc")

    clone.make("config-set", "STACK=minikube", "KEY=monitoring.enabled", "VALUE=false")
    clone.make("up", "STACK=minikube")
    assert GRAFANA not in clone.own_config("minikube")
    assert clone.status() == ""


@pytest.mark.slow
def test_preview_of_an_existing_stack_changes_nothing(clone):
    clone.make("config-set", "STACK=icc", "KEY=namespace", "VALUE=wabc123-default")
    clone.make("up", "STACK=icc")
    clone.make("config-set", "STACK=icc", "KEY=monitoring.enabled", "VALUE=true")
    home = clone.home / ".icc-ollama"
    before = {path: path.read_bytes() for path in home.rglob("*") if path.is_file()}
    preview = clone.make("preview", "STACK=icc")
    after = {path: path.read_bytes() for path in home.rglob("*") if path.is_file()}
    assert after == before
    assert "throw-away grafanaAdminPassword" in preview.stdout
    assert GRAFANA in clone.calls("preview")[-1]["secrets"]
    assert clone.status() == ""


@pytest.mark.slow
def test_config_targets_read_merged_values_and_write_only_your_own(clone):
    clone.make("up", "STACK=minikube")
    models = clone.make("config-get", "STACK=minikube", "KEY=ollama.models").stdout
    assert "llama3.2:1b" in models, "config-get must see the shared defaults"
    secret = clone.make("config-get", "STACK=minikube", "KEY=grafanaAdminPassword").stdout.strip()
    assert len(secret) >= 24
    clone.make("config-rm", "STACK=minikube", "KEY=grafanaAdminPassword")
    assert GRAFANA not in clone.own_config("minikube")
    clone.make("config-set", "STACK=minikube", "KEY=openaiApiKey", "SECRET=1", input="sk-test\n")
    assert set(clone.own_config("minikube")["icc-ollama:openaiApiKey"]) == {"secure"}
    assert "nextSteps" in clone.make("output", "STACK=minikube").stdout
    # The bare CLI after `. scripts/env.sh`: the same backend and passphrase as `make up`.
    bare = subprocess.run(
        [
            "bash",
            "-c",
            ". scripts/env.sh && pulumi stack output --stack minikube"
            " && echo $PULUMI_CONFIG_PASSPHRASE_FILE",
        ],
        cwd=clone.dir,
        env=clone.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "nextSteps" in bare and str(clone.home / ".icc-ollama" / "passphrase") in bare
    assert clone.status() == ""
    missing = clone.make("config-get", "STACK=minikube", ok=False)
    assert missing.returncode != 0 and "KEY=… is required" in missing.stderr


@pytest.mark.slow
def test_salt_in_the_shared_file_moves_out_once_then_is_refused(clone):
    # What the old `make up` left behind: the salt and a secret in the tracked file.
    shared = clone.dir / "Pulumi.icc.yaml"
    clone.make("up", "STACK=docker")  # makes the passphrase the fake encrypts with
    salt = yaml.safe_load(clone.own("docker").read_text())["encryptionsalt"]
    document = yaml.safe_load(shared.read_text())
    document["encryptionsalt"] = salt
    document["config"]["icc-ollama:webuiSecretKey"] = {"secure": "v1:b2xk"}
    document["config"]["icc-ollama:namespace"] = "wabc123-default"  # a user's value, too
    shared.write_text(yaml.safe_dump(document))

    refused_preview = clone.make("preview", "STACK=icc", ok=False)
    assert refused_preview.returncode != 0
    assert "make up STACK=icc` moves them" in refused_preview.stderr
    moved = clone.make("up", "STACK=icc")
    assert "git checkout -- Pulumi.icc.yaml" in moved.stdout
    assert yaml.safe_load(clone.own("icc").read_text())["encryptionsalt"] == salt
    refused = clone.make("up", "STACK=icc", ok=False)
    assert refused.returncode != 0
    assert "Pulumi.icc.yaml holds encryptionsalt icc-ollama:webuiSecretKey" in refused.stderr
    clone.git("checkout", "--", "Pulumi.icc.yaml")
    clone.make("up", "STACK=icc")
    assert clone.status() == ""


def test_merge_puts_your_values_over_the_shared_ones():
    shared = {
        "encryptionsalt": "theirs",
        "config": {
            "icc-ollama:target": "icc",
            "icc-ollama:ollama": {"models": ["llama3.2:1b", "phi3"], "gpu": {"enabled": True}},
        },
    }
    own = {
        "encryptionsalt": "mine",
        "config": {
            "icc-ollama:namespace": "wabc123-default",
            "icc-ollama:ollama": {"models": ["phi3"], "gpu": {"count": 2}},
        },
    }
    assert stack_config.merge(shared, own) == {
        "encryptionsalt": "mine",
        "config": {
            "icc-ollama:target": "icc",
            "icc-ollama:ollama": {"models": ["phi3"], "gpu": {"enabled": True, "count": 2}},
            "icc-ollama:namespace": "wabc123-default",
        },
    }
    assert "encryptionsalt" not in stack_config.merge(shared, {"config": {}})


@pytest.mark.parametrize("target", sorted(TARGET_DEFAULTS))
def test_monitoring_rule_matches_the_settings_defaults(target):
    expected = TARGET_DEFAULTS[target]().get("monitoring", {}).get("enabled", False)
    document = {"config": {"icc-ollama:target": target}}
    assert stack_config.monitoring_enabled(document) is expected


@pytest.mark.parametrize(
    "given, expected",
    [
        ({"icc-ollama:monitoring": {"enabled": True}}, True),
        ({"icc-ollama:monitoring": {"enabled": "false"}}, False),
        ({"icc-ollama:monitoring.enabled": "true"}, True),
        ({"icc-ollama:monitoring": {"scope": "namespace"}}, False),
    ],
)
def test_monitoring_rule_reads_the_users_switch(given, expected):
    document = {"config": {"icc-ollama:target": "icc", **given}}
    assert stack_config.monitoring_enabled(document) is expected


def test_tracked_stack_files_hold_no_salt_and_no_secret():
    for path in sorted(REPO.glob("Pulumi.*.yaml")):
        assert stack_config.shared_secrets(stack_config.read(str(path))) == [], path.name


def _shell_lines(markdown: str) -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", markdown, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines()]


def test_readme_commands_never_write_the_shared_stack_files():
    # `pulumi stack select --create` made a second passphrase; a bare `pulumi config set` writes
    # the user's values (and a new salt) into the tracked Pulumi.<stack>.yaml.
    lines = _shell_lines((REPO / "README.md").read_text())
    assert lines, "no shell blocks found"
    for line in lines:
        assert not re.match(r"pulumi (stack (select|init)|config (set|rm))\b", line), line


def test_minikube_start_command_matches_the_readme_and_enforces_network_policies():
    readme = [
        line.split("#")[0].strip()
        for line in _shell_lines((REPO / "README.md").read_text())
        if line.startswith("minikube start")
    ]
    comment = re.search(r"`(minikube start[^`]*)`", (REPO / "Pulumi.minikube.yaml").read_text())
    assert comment and readme == [comment.group(1)]
    assert "--cni calico" in comment.group(1)


def test_maintainer_sections_live_in_contributing():
    assert "### Real-engine tests" not in (REPO / "README.md").read_text()
    assert "## Real-engine tests (`make e2e`)" in (REPO / "CONTRIBUTING.md").read_text()
