"""Both Kubernetes stacks, run through the real __main__.py under mocks."""

import pulumi
import pulumi_kubernetes as k8s
import pytest

from harness import TEST_SECRET_KEY, TEST_SECRETS, is_secret, run_components, run_stack

STATEFULSET = "kubernetes:apps/v1:StatefulSet"


def pod_spec(run, name):
    return run.one(STATEFULSET, name).inputs["spec"]["template"]["spec"]


def container(run, statefulset, name):
    return next(c for c in pod_spec(run, statefulset)["containers"] if c["name"] == name)


def env_of(c):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}


def test_icc_ollama_gets_one_v100_and_the_toleration(icc):
    spec = pod_spec(icc, "ollama")
    assert spec["tolerations"] == [
        {"key": "gpu-tesla-v100", "operator": "Exists", "effect": "NoSchedule"}
    ]
    resources = container(icc, "ollama", "ollama")["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == "1"
    assert resources["requests"]["nvidia.com/gpu"] == "1"
    env = env_of(container(icc, "ollama", "ollama"))
    assert env["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility"
    assert env["LD_LIBRARY_PATH"].startswith("/usr/local/nvidia/lib")


def test_minikube_has_no_gpu_and_no_toleration(minikube):
    spec = pod_spec(minikube, "ollama")
    assert "tolerations" not in spec
    for c in spec["containers"]:
        assert not any("gpu" in key for key in c["resources"]["limits"])
    assert "NVIDIA_DRIVER_CAPABILITIES" not in env_of(container(minikube, "ollama", "ollama"))


def test_icc_never_creates_a_namespace(icc):
    assert icc.of_type("kubernetes:core/v1:Namespace") == []
    for obj in icc.kubernetes_objects():
        assert obj["metadata"]["namespace"] == "wabc123-default"


def test_minikube_owns_its_namespace(minikube):
    namespace = minikube.one("kubernetes:core/v1:Namespace")
    assert namespace.inputs["metadata"]["name"] == "icc-ollama"


def test_replicas_per_target(icc, minikube):
    assert icc.one(STATEFULSET, "ollama").inputs["spec"]["replicas"] == 1
    assert minikube.one(STATEFULSET, "ollama").inputs["spec"]["replicas"] == 2


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_every_replica_has_its_own_model_claim(stack, request):
    run = request.getfixturevalue(stack)
    spec = run.one(STATEFULSET, "ollama").inputs["spec"]
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    mounts = container(run, "ollama", "ollama")["volumeMounts"]
    assert {"name": claim["metadata"]["name"], "mountPath": "/home/ollama/.ollama"} in mounts
    assert spec["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }


def test_icc_claims_use_rook_ceph_block(icc):
    for name in ("ollama", "open-webui"):
        # Open WebUI: its data claim and its backup claim.
        for claim in icc.one(STATEFULSET, name).inputs["spec"]["volumeClaimTemplates"]:
            assert claim["spec"]["storageClassName"] == "rook-ceph-block"


def test_opting_out_of_data_retention_deletes_claims(monkeypatch):
    run = run_stack("minikube", monkeypatch, keepDataOnDestroy="false")
    for name in ("ollama", "open-webui"):
        policy = run.one(STATEFULSET, name).inputs["spec"]["persistentVolumeClaimRetentionPolicy"]
        assert policy["whenDeleted"] == "Delete"


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_webui_lists_every_ollama_replica(stack, request):
    run = request.getfixturevalue(stack)
    replicas = int(run.one(STATEFULSET, "ollama").inputs["spec"]["replicas"])
    urls = env_of(container(run, "open-webui", "open-webui"))["OLLAMA_BASE_URLS"].split(";")
    namespace = run.exports["namespace"]
    assert urls == [
        f"http://ollama-{i}.ollama-headless.{namespace}.svc.cluster.local:11434"
        for i in range(replicas)
    ]
    headless = run.one("kubernetes:core/v1:Service", "ollama-headless").inputs
    assert headless["spec"]["clusterIP"] == "None"
    assert run.one(STATEFULSET, "ollama").inputs["spec"]["serviceName"] == "ollama-headless"


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_webui_secret_key_comes_from_a_secret(stack, request):
    run = request.getfixturevalue(stack)
    env = env_of(container(run, "open-webui", "open-webui"))
    assert env["WEBUI_SECRET_KEY"] == {
        "secretKeyRef": {"name": "open-webui-secret", "key": "WEBUI_SECRET_KEY"}
    }
    secret = run.one("kubernetes:core/v1:Secret", "open-webui-secret").inputs
    assert is_secret(secret["stringData"]) or is_secret(secret["stringData"]["WEBUI_SECRET_KEY"])
    assert env["WEBUI_AUTH"] == "true"


def test_openai_access_uses_documented_variables(monkeypatch):
    from harness import run_program, stack_config

    config = {
        **stack_config("minikube"),
        **TEST_SECRETS,
        "openaiApiKey": "sk-test-0123456789",
        "webui": {"openai": {"enabled": True, "baseUrl": "https://llm.example.org/v1"}},
    }
    run = run_program(
        config,
        secret_keys=(*TEST_SECRETS, "openaiApiKey"),
        stack="minikube",
        monkeypatch=monkeypatch,
    )
    env = env_of(container(run, "open-webui", "open-webui"))
    assert env["ENABLE_OPENAI_API"] == "true"
    assert env["OPENAI_API_BASE_URL"] == "https://llm.example.org/v1"
    assert env["OPENAI_API_KEY"] == {
        "secretKeyRef": {"name": "open-webui-secret", "key": "OPENAI_API_KEY"}
    }


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_every_kubernetes_resource_uses_the_explicit_provider(stack, request):
    run = request.getfixturevalue(stack)
    resources = [r for r in run.resources if r.custom and r.typ.startswith("kubernetes:")]
    assert resources
    for resource in resources:
        assert "pulumi:providers:kubernetes::k8s" in resource.provider, resource.name


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_probes_suit_slow_gpu_start_and_model_pulls(stack, request):
    run = request.getfixturevalue(stack)
    ollama = container(run, "ollama", "ollama")
    startup = ollama["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600
    assert ollama["readinessProbe"]["httpGet"] == {"path": "/api/tags", "port": 11434}
    assert ollama["livenessProbe"]["httpGet"] == {"path": "/", "port": 11434}
    loader = container(run, "ollama", "model-loader")
    assert loader["readinessProbe"]["exec"]["command"][-1] == "check"  # Ready with the models
    assert loader["livenessProbe"]["exec"]["command"][-1] == "alive"
    webui = container(run, "open-webui", "open-webui")
    assert webui["readinessProbe"]["httpGet"]["path"] == "/ready"


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_model_loader_sidecar_preloads_configured_models(stack, request):
    run = request.getfixturevalue(stack)
    loader = container(run, "ollama", "model-loader")
    assert loader["command"][0] == "/bin/sh"
    wanted = env_of(loader)["OLLAMA_MODELS_WANTED"].split()
    assert wanted and "llama3.2:1b" in wanted
    script = run.one("kubernetes:core/v1:ConfigMap", "ollama-scripts").inputs["data"]
    assert "pull_with_retry" in script["model-loader.sh"]
    # It requests no GPU, so it must not see the node's GPUs through the image's default.
    assert env_of(loader)["NVIDIA_VISIBLE_DEVICES"] == "void"
    assert "nvidia.com/gpu" not in loader["resources"]["limits"]


def test_no_models_means_no_sidecar_and_an_http_readiness(monkeypatch):
    run = run_stack("minikube", monkeypatch, ollama={"models": []})
    spec = pod_spec(run, "ollama")
    assert [c["name"] for c in spec["containers"]] == ["ollama"]
    assert spec["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/api/tags"


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_exports_give_the_next_commands(stack, request):
    run = request.getfixturevalue(stack)
    namespace = run.exports["namespace"]
    steps = run.exports["nextSteps"]
    assert f"-n {namespace} port-forward svc/open-webui 8080:8080" in steps["openWebUI"]
    assert steps["openWebUI"].startswith("KUBECTL_PORT_FORWARD_WEBSOCKETS=true")
    assert "webuiAdminPassword" in steps["login"]
    assert run.exports["ollamaUrl"] == f"http://ollama.{namespace}.svc.cluster.local:11434"
    assert TEST_SECRET_KEY not in str(run.exports)


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_children_are_parented_to_their_components(stack, request):
    run = request.getfixturevalue(stack)
    assert {r.name for r in run.resources if not r.custom} >= {"ollama", "open-webui"}
    for resource in run.resources:
        if not resource.custom or resource.typ.startswith("pulumi:providers:"):
            continue
        urn = run.urn_of(resource.typ, resource.name)
        parent_chain = urn.split("::")[2]
        if resource.typ == "kubernetes:core/v1:Namespace":
            assert "icc:" not in parent_chain, urn  # the stack's own: it outlives the components
        else:
            assert parent_chain.startswith("icc:") and parent_chain.endswith(f"${resource.typ}"), (
                f"{resource.name} is not inside a component: {urn}"
            )


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_no_workload_waits_for_a_service_that_waits_for_its_pods(stack, request):
    # Pulumi's Service await waits for Ready pods behind the Service; a StatefulSet or Deployment
    # that took a Service output would not exist before that await times out (found by the
    # real-engine tier: `pulumi up` stuck 10 minutes on open-webui's Service).
    run = request.getfixturevalue(stack)
    services = {urn for urn in run.urns if "$kubernetes:core/v1:Service::" in urn}
    workloads = [
        urn
        for urn in run.urns
        if any(f"$kubernetes:apps/v1:{kind}::" in urn for kind in ("StatefulSet", "Deployment"))
    ]
    assert len(workloads) >= 2
    for urn in workloads:
        assert not run.dependencies[urn] & services, (urn, run.dependencies[urn] & services)


def test_the_dependency_record_sees_outputs_and_depends_on():
    # The checks here are only worth something if both ways of waiting show up as dependencies.
    def build():
        opts = pulumi.ResourceOptions()
        config_map = k8s.core.v1.ConfigMap
        first = config_map("first", metadata={"name": "first"}, data={"a": "b"}, opts=opts)
        config_map("by-output", metadata={"name": first.metadata.name}, opts=opts)
        after = pulumi.ResourceOptions(depends_on=[first])
        config_map("by-depends-on", metadata={"name": "after"}, opts=after)

    run = run_components(build)
    first = run.urn_of("kubernetes:core/v1:ConfigMap", "first")
    assert first in run.dependencies[run.urn_of("kubernetes:core/v1:ConfigMap", "by-output")]
    assert first in run.dependencies[run.urn_of("kubernetes:core/v1:ConfigMap", "by-depends-on")]


def pod_references(workload: dict) -> set[tuple[str, str]]:
    """(kind, name) of every object a workload's pods name: they must exist when pods start."""
    spec = workload["spec"]["template"]["spec"]
    found = {("ServiceAccount", spec["serviceAccountName"])}
    for volume in spec.get("volumes", []):
        if "configMap" in volume:
            found.add(("ConfigMap", volume["configMap"]["name"]))
        if "secret" in volume:
            found.add(("Secret", volume["secret"]["secretName"]))
    for c in spec.get("initContainers", []) + spec["containers"]:
        for env in c.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                found.add(("Secret", ref["name"]))
    return found


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_workloads_are_created_after_the_objects_their_pods_name(stack, request):
    # Pods name their ServiceAccount, ConfigMaps and Secrets by plain strings (no output waits
    # on an await), so the order has to be stated with depends_on: a pod whose ServiceAccount is
    # missing is refused, one whose ConfigMap is missing does not start.
    run = request.getfixturevalue(stack)
    made = {
        (r.inputs["kind"], r.inputs["metadata"]["name"]): run.urn_of(r.typ, r.name)
        for r in run.resources
        if r.custom and "kind" in r.inputs
    }
    workloads = [r for r in run.resources if r.inputs.get("kind") in ("StatefulSet", "Deployment")]
    assert len(workloads) >= 2
    for workload in workloads:
        waits = run.dependencies[run.urn_of(workload.typ, workload.name)]
        for reference in pod_references(workload.inputs):
            assert reference in made, f"{workload.name} names {reference}, which nothing creates"
            assert made[reference] in waits, f"{workload.name} does not wait for {reference}"


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_objects_register_under_their_api_version_and_kind(stack, request):
    # The provider's own type tokens, as every earlier version of this program registered them:
    # a stack deployed by one sees no change (tests/e2e/test_upgrade.py checks it on the engine).
    run = request.getfixturevalue(stack)
    objects = [r for r in run.resources if r.custom and "kind" in r.inputs]
    assert {r.inputs["kind"] for r in objects} >= {"StatefulSet", "Service", "Secret", "ConfigMap"}
    for r in objects:
        api_version = r.inputs["apiVersion"]
        group_version = api_version if "/" in api_version else f"core/{api_version}"
        assert r.typ == f"kubernetes:{group_version}:{r.inputs['kind']}", r.name


def test_secret_data_is_secret_in_the_inputs_and_in_what_is_read_back(minikube):
    # pulumi_kubernetes' Secret makes all of string_data secret (also a value that was not, such
    # as Grafana's admin user), and asks the engine to keep `data` and `stringData` encrypted in
    # the state the provider reads back.
    secrets = minikube.of_type("kubernetes:core/v1:Secret")
    assert {s.name for s in secrets} >= {"open-webui-secret", "monitoring-grafana-admin"}
    for secret in secrets:
        assert is_secret(secret.inputs["stringData"]), secret.name
        options = minikube.options_of(secret.typ, secret.name)
        assert set(options.additional_secret_outputs) >= {"data", "stringData"}, secret.name
