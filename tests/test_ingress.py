"""WebIngress on both stacks: class, host, TLS, the streaming annotations, WEBUI_URL, and Ollama
kept private unless explicitly exposed (then with a warning)."""

import logging

import pytest
from test_network import allowed, policies_of
from test_schemas import KUBERNETES_VERSIONS, validate_all

from components import kube
from components.ingress import proxy_annotations
from harness import INGRESS_ADDRESS, TEST_SECRET_KEY, TEST_SECRETS, run_stack
from settings import SettingsError, parse_settings

INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
NGINX = "nginx.ingress.kubernetes.io"
ICC_HOST = "chat.wabc123.informatik.haw-hamburg.de"
OLLAMA_HOST = "ollama.wabc123.informatik.haw-hamburg.de"
OLLAMA_POD = kube.with_managed_by(kube.labels("ollama", "inference"))


def icc_run(monkeypatch=None, cached=True, **ingress):
    return run_stack(
        "icc",
        cached=cached,
        namespace="wabc123-default",
        ingress={"enabled": True, "host": ICC_HOST, **ingress},
    )


def minikube_run(monkeypatch=None, cached=True, **ingress):
    return run_stack("minikube", cached=cached, ingress={"enabled": True, **ingress})


def webui_env(run):
    spec = run.one("kubernetes:apps/v1:StatefulSet", "open-webui").inputs["spec"]
    return {e["name"]: e.get("value") for e in spec["template"]["spec"]["containers"][0]["env"]}


def backends(run):
    return [
        (rule["host"], path["backend"]["service"]["name"])
        for ingress in run.of_type(INGRESS)
        for rule in ingress.inputs["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]


@pytest.fixture
def warnings(caplog):
    """What the program logs with pulumi.log.warn: the SDK's mock engine hands it to the root
    logger (pulumi.runtime.mocks.MockEngine), so the test reads it from there."""
    caplog.set_level(logging.WARNING)
    return lambda: [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_no_ingress_and_no_public_url_by_default(stack, request):
    run = request.getfixturevalue(stack)
    assert run.of_type(INGRESS) == []
    assert "WEBUI_URL" not in webui_env(run)
    assert "ingressUrl" not in run.exports


def test_icc_ingress_uses_nginx_class_cert_manager_and_tls(monkeypatch):
    run = icc_run(monkeypatch)
    ingress = run.one(INGRESS).inputs
    annotations = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert "kubernetes.io/ingress.class" not in annotations  # the legacy annotation
    assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt-production"
    assert ingress["spec"]["tls"] == [{"hosts": [ICC_HOST], "secretName": "open-webui-tls"}]
    assert backends(run) == [(ICC_HOST, "open-webui")]
    path = ingress["spec"]["rules"][0]["http"]["paths"][0]
    assert path["path"] == "/" and path["pathType"] == "Prefix"
    assert path["backend"]["service"]["port"] == {"number": 8080}
    # The ICC controller may never publish `.status.loadBalancer`; Pulumi must not hang on it.
    assert annotations["pulumi.com/skipAwait"] == "true"


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_streaming_websocket_and_upload_annotations(stack, monkeypatch):
    run = icc_run(monkeypatch) if stack == "icc" else minikube_run(monkeypatch)
    annotations = run.one(INGRESS).inputs["metadata"]["annotations"]
    assert int(annotations[f"{NGINX}/proxy-read-timeout"]) >= 3600
    assert int(annotations[f"{NGINX}/proxy-send-timeout"]) >= 3600
    assert annotations[f"{NGINX}/proxy-body-size"] == "100m"
    assert annotations[f"{NGINX}/proxy-buffering"] == "off"
    assert annotations[f"{NGINX}/affinity"] == "cookie"
    assert all(isinstance(value, str) for value in annotations.values())


def test_annotation_settings_reach_the_ingress(monkeypatch):
    run = icc_run(monkeypatch, proxyBodySize="1g", proxyTimeoutSeconds=7200, className="nginx-haw")
    ingress = run.one(INGRESS).inputs
    assert ingress["spec"]["ingressClassName"] == "nginx-haw"
    assert ingress["metadata"]["annotations"][f"{NGINX}/proxy-body-size"] == "1g"
    assert ingress["metadata"]["annotations"][f"{NGINX}/proxy-read-timeout"] == "7200"


def test_webui_url_is_the_public_https_url_and_exported(monkeypatch):
    run = icc_run(monkeypatch)
    assert webui_env(run)["WEBUI_URL"] == f"https://{ICC_HOST}"
    assert run.exports["ingressUrl"] == f"https://{ICC_HOST}"
    steps = run.exports["ingressSteps"]
    assert f"CNAME {ICC_HOST} -> icc-k8s-api.informatik.haw-hamburg.de" in steps["ingressDns"]
    assert "HAW network" in steps["ingressAccess"] and "imprint" in steps["ingressAccess"]


def test_minikube_ingress_is_plain_http_on_the_local_host(monkeypatch):
    run = minikube_run(monkeypatch)
    ingress = run.one(INGRESS).inputs
    assert backends(run) == [("open-webui.minikube.local", "open-webui")]
    assert "tls" not in ingress["spec"]
    assert "cert-manager.io/cluster-issuer" not in ingress["metadata"]["annotations"]
    assert "pulumi.com/skipAwait" not in ingress["metadata"]["annotations"]  # the addon publishes
    assert webui_env(run)["WEBUI_URL"] == "http://open-webui.minikube.local"
    assert run.exports["ingressSteps"]["ingressAddon"] == "minikube addons enable ingress"


def test_the_address_the_controller_publishes_is_exported_and_used(monkeypatch):
    # Pulumi waits for the address on Minikube (the addon publishes the node's); the mocked
    # cluster reports one, as there after `up`.
    run = minikube_run(monkeypatch)
    assert run.exports["ingressAddress"] == INGRESS_ADDRESS
    hosts = run.exports["ingressSteps"]["ingressHosts"]
    assert hosts.startswith(f'echo "{INGRESS_ADDRESS} open-webui.minikube.local" | sudo tee -a')
    assert "minikube ip" not in hosts


def test_without_a_published_address_the_steps_say_where_to_look(monkeypatch):
    # ingress.skipAwait: the Ingress is created without waiting for the controller's address.
    run = minikube_run(monkeypatch, skipAwait=True)
    assert run.exports["ingressAddress"] == (
        "none published yet; see `kubectl --context minikube -n icc-ollama get ingress open-webui`"
    )
    hosts = run.exports["ingressSteps"]["ingressHosts"]
    assert hosts.startswith('echo "$(minikube ip) open-webui.minikube.local" | sudo tee -a')
    icc = icc_run(monkeypatch)  # skipAwait is the ICC's default
    assert icc.exports["ingressAddress"].startswith("none published yet; see `kubectl")


def test_an_existing_tls_secret_replaces_cert_manager(monkeypatch):
    run = icc_run(monkeypatch, tls={"clusterIssuer": "", "existingSecret": "haw-wildcard"})
    ingress = run.one(INGRESS).inputs
    assert ingress["spec"]["tls"] == [{"hosts": [ICC_HOST], "secretName": "haw-wildcard"}]
    assert "cert-manager.io/cluster-issuer" not in ingress["metadata"]["annotations"]


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_ollama_is_not_exposed_unless_asked(stack, monkeypatch, warnings):
    # Not cached: the warning is a side effect of running the program.
    run = icc_run(cached=False) if stack == "icc" else minikube_run(cached=False)
    assert [service for _, service in backends(run)] == ["open-webui"]
    ns = run.exports["namespace"]
    assert not allowed(policies_of(run), OLLAMA_POD, 11434, {}, "ingress-nginx", ns)
    assert "ollamaPublicUrl" not in run.exports
    assert warnings() == []


def test_exposing_ollama_takes_its_own_host_a_policy_and_a_warning(monkeypatch, warnings):
    run = icc_run(cached=False, exposeOllama=True, ollamaHost=OLLAMA_HOST)
    assert sorted(backends(run)) == [(ICC_HOST, "open-webui"), (OLLAMA_HOST, "ollama")]
    ollama = run.one(INGRESS, "ingress-ollama").inputs
    assert ollama["spec"]["tls"] == [{"hosts": [OLLAMA_HOST], "secretName": "ollama-api-tls"}]
    assert f"{NGINX}/affinity" not in ollama["metadata"]["annotations"]
    ns = run.exports["namespace"]
    assert allowed(policies_of(run), OLLAMA_POD, 11434, {}, "ingress-nginx", ns)
    assert run.exports["ollamaPublicUrl"] == f"https://{OLLAMA_HOST}"
    assert len(warnings()) == 1
    assert "no authentication" in warnings()[0] and OLLAMA_HOST in warnings()[0]


def test_proxy_annotations_skip_the_cert_manager_issuer_without_tls():
    settings = parse_settings(
        {
            "target": "minikube",
            **TEST_SECRETS,
            "ingress": '{"enabled": true, "tls": {"enabled": false, '
            '"clusterIssuer": "letsencrypt-staging"}}',
        },
        frozenset(TEST_SECRETS),
    )
    assert "cert-manager.io/cluster-issuer" not in proxy_annotations(settings.ingress, sticky=True)


def test_ingress_variants_match_the_kubernetes_schema(monkeypatch):
    # tests/test_schemas.py covers the default stacks, which have no Ingress.
    for run in (
        icc_run(monkeypatch, exposeOllama=True, ollamaHost=OLLAMA_HOST),
        minikube_run(monkeypatch),
    ):
        assert len(run.of_type(INGRESS)) >= 1
        for version in KUBERNETES_VERSIONS:
            validate_all(run.kubernetes_objects(), version)


def test_ingresses_are_children_of_the_component(monkeypatch):
    run = icc_run(monkeypatch, exposeOllama=True, ollamaHost=OLLAMA_HOST)
    for ingress in run.of_type(INGRESS):
        assert "icc:ingress:WebIngress$kubernetes:networking.k8s.io/v1:Ingress" in run.urn_of(
            INGRESS, ingress.name
        )


@pytest.mark.parametrize(
    "host, words",
    [
        ("https://chat.example.org", "no scheme"),
        ("chat.example.org/ui", "no scheme"),
        ("Chat.Example.org", "lower case"),
        ("chat", "DNS name"),
        ("*.example.org", "DNS name"),
        ("chat..example.org", "DNS name"),
        ("-chat.example.org", "DNS name"),
        ("10.0.0.1", "IP address"),
        ("a" * 64 + ".example.org", "DNS name"),
    ],
)
def test_bad_hosts_are_refused_with_the_key(host, words):
    with pytest.raises(SettingsError) as caught:
        parse_settings(
            {
                "target": "minikube",
                "webuiSecretKey": TEST_SECRET_KEY,
                "ingress": f'{{"enabled": true, "host": "{host}"}}',
            },
            frozenset({"webuiSecretKey"}),
        )
    assert "icc-ollama:ingress.host" in str(caught.value) and words in str(caught.value)
