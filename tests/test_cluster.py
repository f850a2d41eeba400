"""The cluster pre-flight (components/cluster.py): each stack changes only the cluster it names,
and every case that would point it elsewhere or at nothing stops with one line and its fix.

`decide` gets made-up observations; `observe` reads real kubeconfig files and asks a real
(local, plain HTTP) server; the program runs under mocks with the harness's seam replaced.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pulumi
import pytest
import yaml

from components import cluster, kubeconfig
from components.cluster_view import Observation, observe
from harness import TEST_SECRETS, ProgramRun, fitting_cluster, run_program, stack_config
from settings import SettingsError, parse_settings
from settings.cluster import ICC_API_SERVER, ICC_LOGIN_PORTAL, MINIKUBE_START

SECRET = frozenset(TEST_SECRETS)
ICC = {"target": "icc", "namespace": "wabc123-default"}
MINIKUBE = {"target": "minikube"}
NAMESPACE_FOREIGN = {"kubernetes.io/metadata.name": "default"}
OURS = {"app.kubernetes.io/part-of": "icc-ollama", "app.kubernetes.io/managed-by": "pulumi"}


def settings(**raw):
    return parse_settings({**TEST_SECRETS, **raw}, SECRET)


def context(name="minikube", server="https://192.168.49.2:8443", minikube=True):
    return kubeconfig.Context(name, name, server, minikube, {"server": server}, {}, None)


def seen(ctx=None, **fields):
    return Observation("~/.kube/config", context=ctx, **fields)


def problem(kind, detail, contexts=()):
    return seen(problem=kubeconfig.KubeconfigProblem(kind, detail, contexts))


def refused(stack, observation, dry_run=False) -> str:
    with pytest.raises(cluster.Refused) as caught:
        cluster.decide(stack, observation, dry_run)
    line = str(caught.value)
    assert "\n" not in line
    return line


ICC_SERVER = f"https://{ICC_API_SERVER}:443"


# --------------------------------------------------------------------------- which cluster


def test_icc_accepts_the_icc_and_names_it_in_the_target_line():
    target = cluster.decide(settings(**ICC), seen(context("icc", ICC_SERVER), status=200), False)
    assert target.server == ICC_SERVER and target.context == "icc"
    assert target.outputs() == {
        "apiServer": ICC_SERVER,
        "context": "icc",
        "kubeconfig": "~/.kube/config",
    }
    assert f"changes the cluster at {ICC_SERVER} (context icc" in target.info
    assert target.kubectl == "kubectl --context icc -n wabc123-default"


@pytest.mark.parametrize("dry_run", [False, True])
def test_icc_refuses_another_cluster_even_in_a_preview(dry_run):
    kind = context("kind-kind", "https://127.0.0.1:40123", minikube=False)
    line = refused(settings(**ICC), seen(kind, status=200), dry_run)
    assert "https://127.0.0.1:40123 (context kind-kind, kubeconfig ~/.kube/config)" in line
    assert f"not the ICC ({ICC_API_SERVER})" in line
    assert "`pulumi config set kubeContext <context>`" in line and ICC_LOGIN_PORTAL in line


def test_icc_api_server_is_a_setting_for_tests_and_a_new_address():
    stack = settings(**ICC, iccApiServer="127.0.0.1:6443")
    ok = context("kwok", "https://127.0.0.1:6443", minikube=False)
    assert cluster.decide(stack, seen(ok, status=200), False).server == ok.server
    other_port = context("kwok", "https://127.0.0.1:7443", minikube=False)
    assert "not the ICC (127.0.0.1:6443)" in refused(stack, seen(other_port, status=200))


def test_minikube_refuses_a_context_that_is_not_minikube_unless_told_it_is_local():
    kind = context("kind-kind", "https://127.0.0.1:40123", minikube=False)
    line = refused(settings(**MINIKUBE, kubeContext="kind-kind"), seen(kind, status=200))
    assert "not a minikube context" in line
    assert "`pulumi config set otherLocalCluster true`" in line
    other = settings(**MINIKUBE, kubeContext="kind-kind", otherLocalCluster="true")
    target = cluster.decide(other, seen(kind, status=200, namespace={}), False)
    assert "checked: otherLocalCluster is true" in target.info


@pytest.mark.parametrize(
    ("raw", "key", "words"),
    [
        ({**MINIKUBE, "iccApiServer": "x.example.org"}, "iccApiServer", "only the icc target"),
        ({**ICC, "otherLocalCluster": "true"}, "otherLocalCluster", "only the minikube target"),
        ({**ICC, "iccApiServer": "http://x.example.org"}, "iccApiServer", "https URL"),
    ],
)
def test_cluster_keys_belong_to_their_target(raw, key, words):
    with pytest.raises(SettingsError) as caught:
        settings(**raw)
    assert f"icc-ollama:{key}" in str(caught.value) and words in str(caught.value)


# --------------------------------------------------------------------------- nothing to reach


@pytest.mark.parametrize(
    ("stack", "observation", "words"),
    [
        (MINIKUBE, problem("missing", "~/.kube/config"), f"`{MINIKUBE_START}`"),
        (ICC, problem("missing", "~/.kube/config"), ICC_LOGIN_PORTAL),
        (
            MINIKUBE,
            problem("unknown-context", "minikube", ("kind-kind",)),
            f"`{MINIKUBE_START}`, or choose one with `pulumi config set kubeContext <name>` "
            f"(contexts there: kind-kind)",
        ),
        (ICC, problem("no-current-context", "~/.kube/config"), "pulumi config set kubeContext"),
        (ICC, problem("list", "/a:/b"), "`pulumi config set kubeconfig <path>`"),
        (MINIKUBE, problem("unreadable", "~/.kube/config: not YAML (line 3)"), MINIKUBE_START),
        (
            MINIKUBE,
            seen(context(), unreachable="connection refused"),
            f"https://192.168.49.2:8443 (context minikube, kubeconfig ~/.kube/config) does not "
            f"answer (connection refused); start it with `{MINIKUBE_START}`",
        ),
        (
            ICC,
            seen(context("icc", ICC_SERVER), unreachable="no answer (timed out)"),
            "does not answer (no answer (timed out)); connect to the HAW network or VPN",
        ),
        (
            ICC,
            seen(context("icc", ICC_SERVER), status=401),
            f"refused the credentials (401); your ICC token has expired: download a fresh "
            f"kubeconfig at {ICC_LOGIN_PORTAL}",
        ),
        (
            MINIKUBE,
            seen(context(), unreachable="TLS: certificate has expired"),
            "TLS: certificate has expired; the kubeconfig does not match this server: refresh "
            "it with `minikube update-context`",
        ),
        (
            ICC,
            seen(context("icc", ICC_SERVER), unreachable="cannot load the context's certificates"),
            f"icc-ollama:kubeconfig: context icc of ~/.kube/config: cannot load the context's "
            f"certificates; download a fresh kubeconfig at {ICC_LOGIN_PORTAL}",
        ),
    ],
)
def test_up_stops_with_one_line_and_the_fix_a_preview_goes_on_offline(stack, observation, words):
    line = refused(settings(**stack), observation)
    assert words in line, line
    target = cluster.decide(settings(**stack), observation, dry_run=True)
    assert target.api is None
    assert target.warnings[-1] == line + " (previewing without the cluster; `pulumi up` stops here)"


def test_a_kubeconfig_env_that_the_setting_overrides_is_named():
    observation = Observation("/k", context(), ignored_env="/other", status=200, namespace={})
    target = cluster.decide(settings(**MINIKUBE, kubeconfig=__file__), observation, False)
    assert target.warnings == ("KUBECONFIG=/other is ignored: the kubeconfig setting wins",)
    assert target.kubectl.startswith(f"kubectl --kubeconfig {__file__} --context minikube")


# --------------------------------------------------------------------------- minikube's namespace


@pytest.mark.parametrize("labels", [{}, OURS, {**OURS, "kubernetes.io/metadata.name": "x"}])
def test_an_absent_namespace_or_one_of_ours_is_created_or_adopted(labels):
    target = cluster.decide(settings(**MINIKUBE), seen(context(), namespace=labels), False)
    assert target.server == "https://192.168.49.2:8443"


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public", "team-a"])
def test_an_existing_namespace_that_is_not_ours_is_refused(name):
    stack = settings(**MINIKUBE, namespace=name)
    line = refused(stack, seen(context(), namespace=NAMESPACE_FOREIGN))
    assert f"icc-ollama:namespace (given: {name}): it exists and is not ours" in line
    assert "`pulumi config set namespace <name>`" in line
    assert "`pulumi config set createNamespace false`" in line
    shared = settings(**MINIKUBE, namespace=name, createNamespace="false")
    assert cluster.decide(shared, seen(context(), namespace=NAMESPACE_FOREIGN), False)


def test_a_shared_namespace_must_exist():
    stack = settings(**MINIKUBE, createNamespace="false")
    line = refused(stack, seen(context(), namespace={}))
    assert "namespace icc-ollama does not exist" in line
    assert "`kubectl create namespace icc-ollama`" in line


def test_a_namespace_that_cannot_be_read_is_not_adopted_blindly():
    observation = seen(context(), namespace_unknown="the API server answered 403")
    line = refused(settings(**MINIKUBE), observation)
    assert "cannot tell whether it is ours (the API server answered 403)" in line


# --------------------------------------------------------------------------- the program


def program(stack, view, **overrides):
    config = {**stack_config(stack), **TEST_SECRETS, **overrides}
    run = ProgramRun()
    run_program(config, stack=stack, run=run, cluster_view=view)
    return run


def test_a_refusal_stops_the_program_before_any_resource():
    def foreign(stack):
        return Observation("~/.kube/config", context=context(), status=200, namespace={"a": "b"})

    run = ProgramRun()
    with pytest.raises(pulumi.RunError) as caught:
        config = {**stack_config("minikube"), **TEST_SECRETS, "namespace": "default"}
        run_program(config, stack="minikube", run=run, cluster_view=foreign)
    assert "icc-ollama:namespace (given: default): it exists and is not ours" in str(caught.value)
    assert run.resources == []


def test_a_shared_namespace_has_no_namespace_resource():
    def existing(stack):
        return Observation("~/.kube/config", context=context(), status=200, namespace={"a": "b"})

    run = program("minikube", existing, createNamespace=False, namespace="team-a")
    assert run.of_type("kubernetes:core/v1:Namespace") == []
    assert {o["metadata"]["namespace"] for o in run.kubernetes_objects()} == {"team-a"}


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_every_stack_exports_the_cluster_it_changes(stack, request):
    run = request.getfixturevalue(stack)
    assert run.exports["cluster"]["context"] == stack
    assert run.exports["cluster"]["apiServer"].startswith("https://")
    provider = run.one("pulumi:providers:kubernetes", "k8s")
    # The identifier that keeps existing stacks from replacing every resource: unchanged.
    assert provider.inputs["clusterIdentifier"] == ("minikube" if stack == "minikube" else "icc")


def test_the_harness_cluster_fits_every_stack():
    for raw in (ICC, MINIKUBE, {**MINIKUBE, "createNamespace": "false"}):
        assert cluster.decide(settings(**raw), fitting_cluster(settings(**raw)), False)


# --------------------------------------------------------------------------- the real look


def write_kubeconfig(path: Path, server: str, token: str = "t0k3n", extra=None) -> Path:
    data = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "dev",
        "clusters": [{"name": "dev", "cluster": {"server": server}}],
        "contexts": [{"name": "dev", "context": {"cluster": "dev", "user": "dev"}}],
        "users": [{"name": "dev", "user": {"token": token}}],
        **(extra or {}),
    }
    path.write_text(yaml.safe_dump(data))
    return path


class FakeApiServer(BaseHTTPRequestHandler):
    namespaces = {"team-a": {"kubernetes.io/metadata.name": "team-a"}}

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.headers.get("Authorization") != "Bearer t0k3n":
            return self.answer(401, {"kind": "Status", "code": 401})
        name = self.path.rsplit("/", 1)[-1]
        if self.path.startswith("/api/v1/namespaces/") and name in self.namespaces:
            return self.answer(200, {"metadata": {"name": name, "labels": self.namespaces[name]}})
        return self.answer(404, {"kind": "Status", "code": 404})

    def answer(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def api_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApiServer)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def local(tmp_path, server, **raw):
    path = write_kubeconfig(tmp_path / "config", server, **raw)
    return {**MINIKUBE, "kubeconfig": str(path), "kubeContext": "dev", "otherLocalCluster": "true"}


def test_observe_reads_the_namespace_with_the_contexts_token(tmp_path, api_server):
    seen_there = observe(settings(**local(tmp_path, api_server), namespace="team-a"))
    assert seen_there.namespace == {"kubernetes.io/metadata.name": "team-a"}
    assert seen_there.context.server == api_server and seen_there.api.authenticated
    assert observe(settings(**local(tmp_path, api_server))).namespace == {}
    refused_token = observe(settings(**local(tmp_path, api_server, token="old")))
    assert refused_token.status == 401


def test_observe_names_a_server_that_does_not_answer(tmp_path):
    with ThreadingHTTPServer(("127.0.0.1", 0), FakeApiServer) as closed:
        port = closed.server_port  # bound, then closed: nothing listens there any more
    observation = observe(settings(**local(tmp_path, f"http://127.0.0.1:{port}")))
    assert observation.unreachable == "connection refused"
