"""No secret in plain text: every recorded input (manifests, Helm values, container envs) and every
stack output is scanned for the stack's secret values and for well-known default passwords."""

import re

import pytest

from harness import ROOT, TEST_SECRET_KEY, is_secret, run_program, stack_config
from settings import SECRET_KEYS

OPENAI_KEY = "sk-test-openai-0123456789abcdef"
GRAFANA_PASSWORD = "grafana-test-password-4711"
ADMIN_PASSWORD = "webui-admin-test-password-0815"
SECRETS = {
    "webuiSecretKey": TEST_SECRET_KEY,
    "openaiApiKey": OPENAI_KEY,
    "grafanaAdminPassword": GRAFANA_PASSWORD,
    "webuiAdminPassword": ADMIN_PASSWORD,
}
DEFAULT_PASSWORDS = {"admin", "password", "changeme", "prom-operator", "0p3n-w3bu!", "secret"}
SECRET_FIELD = re.compile(r"(?i)(password|passwd|secret|token|api[-_]?key)$")


def plain_strings(value, path=""):
    """Yield (path, text) for every string that is not inside a secret-wrapped subtree."""
    if is_secret(value):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield from plain_strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from plain_strings(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value


def stack_run(stack, monkeypatch):
    config = {**stack_config(stack), **SECRETS, "webui": {"openai": {"enabled": True}}}
    if stack == "icc":
        config["namespace"] = "wabc123-default"
    if stack != "docker":  # Grafana's admin password must be scanned for on both clusters
        config["monitoring"] = {"enabled": True}
    # Only keys the model knows are passed, so the scan covers whatever the program accepts.
    config = {k: v for k, v in config.items() if k not in SECRETS or k in SECRET_KEYS}
    return run_program(config, secret_keys=tuple(SECRET_KEYS), stack=stack, monkeypatch=monkeypatch)


STACKS = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_value_in_plain_text_anywhere(stack, monkeypatch):
    run = stack_run(stack, monkeypatch)
    assert run.resources
    for resource in run.resources:
        for path, text in plain_strings(resource.inputs):
            for name, secret in SECRETS.items():
                assert secret not in text, f"{name} in plain text at {resource.name}{path}"
    for path, text in plain_strings(run.exports):
        for name, secret in SECRETS.items():
            assert secret not in text, f"{name} in plain text in output {path}"


@pytest.mark.parametrize("stack", STACKS)
def test_no_well_known_default_password(stack, monkeypatch):
    run = stack_run(stack, monkeypatch)
    for resource in run.resources:
        for path, text in plain_strings(resource.inputs):
            field = path.rsplit(".", 1)[-1]
            if SECRET_FIELD.search(field):
                assert text.lower() not in DEFAULT_PASSWORDS, (
                    f"default password at {resource.name}{path}"
                )


def test_the_scan_finds_a_leak():
    leaked = {"spec": {"env": [{"name": "WEBUI_SECRET_KEY", "value": TEST_SECRET_KEY}]}}
    assert any(TEST_SECRET_KEY in text for _, text in plain_strings(leaked))
    wrapped = {
        "stringData": {
            "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
            "value": {"k": TEST_SECRET_KEY},
        }
    }
    assert not any(TEST_SECRET_KEY in text for _, text in plain_strings(wrapped))
