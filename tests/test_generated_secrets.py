"""Secrets nobody has to choose are made by the program (components/secrets.py): a fresh stack
needs no setup step, the values stay in the state, and a value set in stack config wins."""

import pytest
from test_secrets import plain_strings

from harness import (
    GENERATED,
    TEST_ADMIN_PASSWORD,
    TEST_GRAFANA_PASSWORD,
    TEST_SECRET_KEY,
    is_secret,
    run_stack,
    unwrap_secrets,
)

RANDOM = "random:index/randomPassword:RandomPassword"
CONFIGURED = {
    "webuiSecretKey": TEST_SECRET_KEY,
    "webuiAdminPassword": TEST_ADMIN_PASSWORD,
    "grafanaAdminPassword": TEST_GRAFANA_PASSWORD,
}


def generated(run) -> dict[str, dict]:
    return {r.name: r.inputs for r in run.of_type(RANDOM)}


def webui_secret(run) -> dict:
    secret = run.one("kubernetes:core/v1:Secret", "open-webui-secret").inputs
    return unwrap_secrets(secret["stringData"])


@pytest.mark.parametrize(
    "stack, overrides",
    [
        ("minikube", {}),
        ("icc", {"namespace": "wabc123-default", "monitoring": {"enabled": True}}),
        ("docker", {}),
    ],
)
def test_a_fresh_stack_makes_each_secret_it_uses(stack, overrides):
    made = generated(run_stack(stack, **overrides))
    expected = {"secrets-webui-secret-key", "secrets-webui-admin-password"}
    if stack != "docker":  # both Kubernetes runs here have monitoring on: Grafana's password too
        expected.add("secrets-grafana-admin-password")
    assert set(made) == expected
    assert made["secrets-webui-secret-key"]["length"] == 64
    for inputs in made.values():
        assert inputs["special"] is False  # travels through env, forms and a start command


def test_the_made_values_reach_open_webui_and_grafana(minikube):
    secret = webui_secret(minikube)
    assert secret["WEBUI_SECRET_KEY"] == GENERATED["webuiSecretKey"]
    assert secret["WEBUI_ADMIN_PASSWORD"] == GENERATED["webuiAdminPassword"]
    grafana = minikube.one("kubernetes:core/v1:Secret", "monitoring-grafana-admin").inputs
    assert GENERATED["grafanaAdminPassword"] in repr(unwrap_secrets(grafana))


def test_the_passwords_a_person_types_are_secret_outputs(minikube):
    for key in ("webuiAdminPassword", "grafanaAdminPassword"):
        assert is_secret(minikube.exports[key]), key
        assert unwrap_secrets(minikube.exports[key]) == GENERATED[key]
    assert "webuiSecretKey" not in minikube.exports  # nobody types it
    for _, text in plain_strings(minikube.exports):
        assert all(value not in text for value in GENERATED.values())


def test_the_secrets_use_an_explicit_provider_under_their_component(minikube):
    provider = minikube.one("pulumi:providers:random")
    assert provider.name == "secrets-random"
    for resource in minikube.of_type(RANDOM):
        assert resource.provider.startswith("urn:pulumi:") and "secrets-random" in resource.provider
        assert "icc:secrets:StackSecrets$" in minikube.urn_of(RANDOM, resource.name)


def test_values_set_in_stack_config_win_and_nothing_is_made():
    run = run_stack("minikube", **CONFIGURED)
    assert generated(run) == {}
    assert run.of_type("pulumi:providers:random") == []
    secret = webui_secret(run)
    assert secret["WEBUI_SECRET_KEY"] == TEST_SECRET_KEY
    assert secret["WEBUI_ADMIN_PASSWORD"] == TEST_ADMIN_PASSWORD
    assert unwrap_secrets(run.exports["webuiAdminPassword"]) == TEST_ADMIN_PASSWORD


def test_unused_secrets_are_not_made():
    run = run_stack("minikube", monitoring={"enabled": False}, webui={"auth": False})
    assert set(generated(run)) == {"secrets-webui-secret-key"}
    assert "webuiAdminPassword" not in run.exports and "grafanaAdminPassword" not in run.exports
