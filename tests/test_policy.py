"""The policy pack (policy/): every rule with a violating and a clean resource, every rule over the
real program's resources of each stack, the quota rule against the program's own quota check, the
stack's facts from its Pulumi.<stack>.yaml, and the pack itself as the engine drives it: the pack
folder started as the engine starts it (`python -m pulumi.policy <engine> policy/`) and spoken to
over the analyzer protocol with the SDK's public gRPC stubs.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

import settings.budget as settings_budget
import settings.pods as settings_pods
from harness import TEST_SECRETS, ProgramRun, run_stack, stack_config, unwrap_secrets
from settings import SettingsError, parse_settings

ROOT_POLICY = Path(__file__).resolve().parents[1] / "policy"
sys.path.insert(0, str(ROOT_POLICY))
import facts  # noqa: E402
import pack  # noqa: E402
import pod_rules  # noqa: E402
import quota  # noqa: E402
import rules  # noqa: E402
import wire  # noqa: E402
from facts import Facts  # noqa: E402
from wire import UNKNOWN, Resource  # noqa: E402

NS = "wabc123-default"
ICC = Facts("icc", NS)
MINIKUBE = Facts("minikube", "icc-ollama")
DOCKER = Facts("docker")
STS = "kubernetes:apps/v1:StatefulSet"


def container(name="app", image="ollama/ollama:0.32.15", requests=None, limits=None, env=None):
    c = {
        "name": name,
        "image": image,
        "resources": {
            "requests": requests or {"cpu": "1", "memory": "1Gi"},
            "limits": limits or {"cpu": "2", "memory": "2Gi"},
        },
    }
    if env is not None:
        c["env"] = env
    return c


def workload(
    name="ollama",
    containers=None,
    tolerations=None,
    claims=None,
    retention=None,
    labels=None,
    replicas=1,
    kind=STS,
    namespace=NS,
    init=None,
):
    spec = {"containers": containers or [container()]}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    if init is not None:
        spec["initContainers"] = init
    body = {
        "replicas": replicas,
        "template": {
            "metadata": {"labels": labels or {"app.kubernetes.io/part-of": "icc-ollama"}},
            "spec": spec,
        },
    }
    if claims:
        body["volumeClaimTemplates"] = [
            {"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": size}}}}
            for size in claims
        ]
    if retention:
        body["persistentVolumeClaimRetentionPolicy"] = {
            "whenDeleted": retention,
            "whenScaled": "Retain",
        }
    return Resource(
        kind,
        name,
        {"metadata": {"name": name, "namespace": namespace}, "spec": body},
        provider_namespace=NS,
    )


GPU = {"cpu": "1", "memory": "8Gi", "nvidia.com/gpu": "1"}
V100 = [{"key": "gpu-tesla-v100", "operator": "Exists", "effect": "NoSchedule"}]


def k8s(kind, group_version, name, props, **extra):
    return Resource(
        f"kubernetes:{group_version}:{kind}", name, props, provider_namespace=NS, **extra
    )


def deny_all():
    return k8s(
        "NetworkPolicy",
        "networking.k8s.io/v1",
        "deny",
        {
            "metadata": {"name": "deny", "namespace": NS},
            "spec": {
                "podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "icc-ollama"}},
                "policyTypes": ["Ingress"],
                "ingress": [],
            },
        },
    )


def ingress(tls=True, host="chat.example.org"):
    spec = {"rules": [{"host": host}]}
    if tls:
        spec["tls"] = [{"hosts": [host], "secretName": "chat-tls"}]
    return k8s(
        "Ingress", "networking.k8s.io/v1", "web", {"metadata": {"namespace": NS}, "spec": spec}
    )


def webui(auth="true"):
    env = [{"name": "WEBUI_AUTH", "value": auth}] if auth is not None else []
    return workload(
        "open-webui", [container("open-webui", "ghcr.io/open-webui/open-webui:v0.12.4", env=env)]
    )


# --------------------------------------------------------------------------- one rule at a time

RESOURCE_CASES = {
    # rule: (facts, violating resource, clean resource, words of the message)
    "gpu-tolerates-v100": (
        ICC,
        workload(containers=[container(requests=GPU, limits=GPU | {"memory": "16Gi"})]),
        workload(
            containers=[container(requests=GPU, limits=GPU | {"memory": "16Gi"})], tolerations=V100
        ),
        "does not tolerate the V100 taint gpu-tesla-v100:NoSchedule",
    ),
    "no-gpu-on-minikube": (
        MINIKUBE,
        workload(containers=[container(requests=GPU, limits=GPU)], tolerations=V100),
        workload(),
        "the minikube target has none",
    ),
    "icc-namespace-only": (
        ICC,
        workload(namespace="kube-system"),
        workload(),
        "outside the configured",
    ),
    "images-pinned": (
        ICC,
        workload(containers=[container(image="ollama/ollama:latest")]),
        workload(),
        "floating tag :latest",
    ),
    "no-plain-secrets": (
        ICC,
        workload(containers=[container(env=[{"name": "OPENAI_API_KEY", "value": "sk-1"}])]),
        workload(
            containers=[
                container(
                    env=[
                        {
                            "name": "OPENAI_API_KEY",
                            "valueFrom": {"secretKeyRef": {"name": "s", "key": "OPENAI_API_KEY"}},
                        },
                        {"name": "OLLAMA_KEEP_ALIVE", "value": "5m"},
                    ]
                )
            ]
        ),
        "env OPENAI_API_KEY of container app",
    ),
    "data-retained": (
        ICC,
        workload(claims=["20Gi"], retention="Delete"),
        workload(claims=["20Gi"], retention="Retain"),
        "whenDeleted is Delete",
    ),
    "requests-within-limits": (
        ICC,
        workload(containers=[container(requests={"cpu": "3"}, limits={"cpu": "2"})]),
        workload(containers=[container(requests={"cpu": "500m"}, limits={"cpu": "2"})]),
        "requests 3 cpu but is limited to 2",
    ),
    "ingress-tls": (ICC, ingress(tls=False), ingress(), "has no TLS"),
}


STACK_CASES = {
    "default-deny-network-policy": (
        ICC,
        [workload()],
        [workload(), deny_all()],
        "no default-deny NetworkPolicy",
    ),
    "webui-auth-behind-ingress": (
        ICC,
        [ingress(), webui("false")],
        [ingress(), webui("true")],
        "WEBUI_AUTH=false",
    ),
    "quota-fits": (
        Facts("icc", NS, quota={"gpu": 1}),
        [workload(containers=[container(requests=GPU, limits=GPU)], replicas=2, tolerations=V100)],
        [workload(containers=[container(requests=GPU, limits=GPU)], replicas=1, tolerations=V100)],
        "needs 2 GPUs but quota.gpu is 1: 2 × StatefulSet ollama (2)",
    ),
}


# A resource rule sees one resource, a stack rule the list of them: the cases say which.
CASES = {**RESOURCE_CASES, **STACK_CASES}
RULES = {**rules.RESOURCE_RULES, **rules.STACK_RULES}


def test_every_rule_has_a_case():
    assert set(CASES) == set(RULES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_flags_the_violation_and_passes_the_clean_input(name):
    facts_, bad, good, words = CASES[name]
    messages = RULES[name](bad, facts_)
    assert len(messages) == 1 and words in messages[0], messages
    assert RULES[name](good, facts_) == []


# --------------------------------------------------------------------------- rule details


def test_gpu_toleration_must_name_the_v100_taint():
    other = [{"key": "gpu-a100", "operator": "Exists", "effect": "NoSchedule"}]
    bad = workload(containers=[container(requests=GPU, limits=GPU)], tolerations=other)
    assert rules.gpu_tolerates_v100(bad, ICC)
    wrong_effect = [{"key": "gpu-tesla-v100", "operator": "Exists", "effect": "NoExecute"}]
    assert rules.gpu_tolerates_v100(
        workload(containers=[container(requests=GPU, limits=GPU)], tolerations=wrong_effect), ICC
    )


def test_gpu_on_a_gpu_target_is_allowed_and_minikube_rule_needs_the_target():
    gpu_pod = workload(containers=[container(requests=GPU, limits=GPU)], tolerations=V100)
    assert rules.no_gpu_on_minikube(gpu_pod, ICC) == []
    assert rules.no_gpu_on_minikube(gpu_pod, Facts()) == []  # unknown target: stack-facts says so


@pytest.mark.parametrize(
    "kind,group",
    [
        ("ClusterRole", "rbac.authorization.k8s.io/v1"),
        ("Namespace", "core/v1"),
        ("PersistentVolume", "core/v1"),
    ],
)
def test_cluster_scoped_objects_are_refused_on_icc_only(kind, group):
    resource = k8s(kind, group, "x", {"metadata": {"name": "x"}})
    assert "cluster-scoped" in rules.icc_namespace_only(resource, ICC)[0]
    assert rules.icc_namespace_only(resource, MINIKUBE) == []


def test_namespace_comes_from_the_provider_when_the_object_names_none():
    body = {"metadata": {"name": "cm"}, "data": {}}
    assert rules.icc_namespace_only(k8s("ConfigMap", "core/v1", "cm", body), ICC) == []
    elsewhere = Resource("kubernetes:core/v1:ConfigMap", "cm", body, provider_namespace="default")
    assert "goes to namespace default" in rules.icc_namespace_only(elsewhere, ICC)[0]
    provider = Resource("pulumi:providers:kubernetes", "k8s", {"namespace": "default"})
    assert "defaults to namespace default" in rules.icc_namespace_only(provider, ICC)[0]


def test_helm_releases_are_checked_by_their_namespace():
    release = Resource("kubernetes:helm.sh/v3:Release", "grafana", {"namespace": "monitoring"})
    assert rules.icc_namespace_only(release, ICC)


def test_unknown_values_are_not_guessed():
    body = {"metadata": {"name": "cm", "namespace": UNKNOWN}}
    assert rules.icc_namespace_only(Resource("kubernetes:core/v1:ConfigMap", "cm", body), ICC) == []
    unknown_env = [{"name": "OPENAI_API_KEY", "value": UNKNOWN}]
    assert rules.no_plain_secrets(workload(containers=[container(env=unknown_env)]), ICC) == []
    assert rules.webui_auth([ingress(), webui(UNKNOWN)], ICC) == []


@pytest.mark.parametrize(
    "image,pinned",
    [
        ("ollama/ollama", False),
        ("ollama/ollama:latest", False),
        ("ollama/ollama:rocm", False),
        ("ghcr.io/open-webui/open-webui:main", False),
        ("localhost:5000/app", False),
        ("ollama/ollama:0.32.15", True),
        ("ghcr.io/open-webui/open-webui:v0.12.4", True),
        ("localhost:5000/app:1.2", True),
        ("busybox@sha256:" + "a" * 64, True),
        ("ollama/ollama:0.32.15@sha256:" + "a" * 64, True),
        ("sha256:" + "b" * 64, True),
    ],
)
def test_floating_images(image, pinned):
    assert (pod_rules.floating(image) is None) is pinned


def test_docker_images_are_checked():
    remote = Resource("docker:index/remoteImage:RemoteImage", "img", {"name": "ollama/ollama"})
    assert "has no tag" in rules.images_pinned(remote, DOCKER)[0]


def docker_container(secret_outputs=()):
    return Resource(
        "docker:index/container:Container",
        "webui",
        {"image": "sha256:" + "c" * 64, "envs": ["WEBUI_SECRET_KEY=abc", "A=b"]},
        secret_outputs=frozenset(secret_outputs),
    )


def test_secret_docker_envs_must_be_kept_secret():
    messages = rules.no_plain_secrets(docker_container(), DOCKER)
    assert len(messages) == 1 and "envs (with WEBUI_SECRET_KEY)" in messages[0]
    assert "additional_secret_outputs=['envs']" in messages[0]
    assert rules.no_plain_secrets(docker_container(["envs"]), DOCKER) == []


def test_secret_annotations_configmaps_and_unkept_secret_data_fail():
    annotated = k8s("Service", "core/v1", "s", {"metadata": {"annotations": {"db-password": "x"}}})
    assert "annotation db-password" in rules.no_plain_secrets(annotated, ICC)[0]
    config_map = k8s("ConfigMap", "core/v1", "c", {"data": {"API_TOKEN": "x", "MODE": "a"}})
    assert "ConfigMap key API_TOKEN" in rules.no_plain_secrets(config_map, ICC)[0]
    unkept = k8s("Secret", "core/v1", "s", {"stringData": {"KEY": "x"}})
    assert (
        "stringData holds secrets but is not marked secret"
        in rules.no_plain_secrets(unkept, ICC)[0]
    )
    # What pulumi_kubernetes' Secret class asks of the engine for its data.
    kept = k8s(
        "Secret",
        "core/v1",
        "s",
        {"stringData": {"KEY": "x"}},
        secret_outputs=frozenset({"data", "stringData"}),
    )
    assert rules.no_plain_secrets(kept, ICC) == []


def test_secrets_a_chart_renders_are_kept_secret_by_the_provider():
    urn = (
        "urn:pulumi:icc::icc-ollama::icc:monitoring:Monitoring$kubernetes:helm.sh/v4:Chart"
        "$kubernetes:core/v1:Secret::monitoring:grafana"
    )
    secret = k8s("Secret", "core/v1", "grafana", {"data": {"admin-password": "eA=="}}, urn=urn)
    assert rules.no_plain_secrets(secret, MINIKUBE) == []
    own = urn.replace("$kubernetes:helm.sh/v4:Chart", "")
    assert rules.no_plain_secrets(k8s("Secret", "core/v1", "g", secret.props, urn=own), MINIKUBE)


def test_data_rule_respects_the_opt_out_and_default_retention():
    deleting = workload(claims=["20Gi"], retention="Delete")
    assert rules.data_retained(deleting, Facts("icc", NS, keep_data_on_destroy=False)) == []
    # No retention policy: Kubernetes keeps the claims (whenDeleted defaults to Retain).
    assert rules.data_retained(workload(claims=["20Gi"]), ICC) == []
    volume = Resource("docker:index/volume:Volume", "models", {"name": "m"}, retain_on_delete=False)
    assert "not retainOnDelete" in rules.data_retained(volume, DOCKER)[0]
    kept = Resource("docker:index/volume:Volume", "models", {"name": "m"}, retain_on_delete=True)
    assert rules.data_retained(kept, DOCKER) == []


def test_pods_without_a_deny_policy_are_named():
    stray = workload("stray", labels={"app": "other"})
    messages = rules.default_deny([workload(), stray, deny_all()], ICC)
    assert len(messages) == 1 and "StatefulSet stray" in messages[0]
    assert rules.default_deny([Resource("docker:index/volume:Volume", "v", {})], DOCKER) == []


def test_webui_without_ingress_may_run_without_auth():
    assert rules.webui_auth([webui("false")], ICC) == []


# --------------------------------------------------------------------------- quota-fits


def quota_facts(**amounts) -> Facts:
    return Facts("icc", NS, quota=amounts)


def test_quota_counts_hpa_max_replicas_and_claims():
    hpa = k8s(
        "HorizontalPodAutoscaler",
        "autoscaling/v2",
        "hpa",
        {"spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "ollama"}, "maxReplicas": 3}},
    )
    claim = k8s(
        "PersistentVolumeClaim",
        "core/v1",
        "extra",
        {"spec": {"resources": {"requests": {"storage": "5Gi"}}}},
    )
    facts_ = quota_facts(storage="50Gi", requests={"cpu": "2"})
    messages = rules.quota_fits([workload(claims=["20Gi"]), hpa, claim], facts_)
    assert any(
        "needs 65Gi storage in claims but quota.storage is 50Gi: 3 × StatefulSet ollama (60Gi)"
        " + PersistentVolumeClaim extra (5Gi)" in m
        for m in messages
    ), messages
    assert any("needs 3 CPU of requests but quota.requests.cpu is 2" in m for m in messages)


def test_quota_counts_sidecars_beside_the_app_and_init_containers_one_at_a_time():
    small = {"cpu": "100m", "memory": "64Mi"}
    sidecar = container("sidecar", requests=small, limits=small) | {"restartPolicy": "Always"}
    big_init = container("migrate", requests={"cpu": "3"}, limits={"cpu": "3"})
    one_pod = workload(init=[sidecar, big_init])
    # app 1 CPU + sidecar 0.1 while running; while `migrate` runs: 3 + the sidecar started first.
    assert quota.pod_amounts(wire.pod_spec(one_pod))[("requests", "cpu")] == wire.quantity("3.1")
    running = workload(init=[sidecar])
    assert quota.pod_amounts(wire.pod_spec(running))[("requests", "cpu")] == wire.quantity("1.1")


def test_a_request_defaults_to_its_limit():
    gpu_in_limits_only = container(requests={"cpu": "1"}, limits={"cpu": "1", "nvidia.com/gpu": 1})
    pods = [workload(containers=[gpu_in_limits_only], tolerations=V100, replicas=2)]
    assert "needs 2 GPUs" in rules.quota_fits(pods, quota_facts(gpu=1))[0]


@pytest.mark.parametrize(
    "text, exact",
    [("500m", "0.5"), ("2", "2"), ("1e3", "1000"), ("1.5Gi", "1610612736"), ("2k", "2000")],
)
def test_the_pack_reads_quantities_itself(text, exact):
    assert wire.quantity(text) == wire.quantity(exact) and str(wire.quantity(exact)) == exact
    assert wire.quantity("1 Gi") is None and wire.quantity("lots") is None


def icc_settings(**extra):
    raw = {**stack_config("icc"), **TEST_SECRETS, "namespace": NS, **extra}
    encoded = {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
    return parse_settings(encoded, frozenset(TEST_SECRETS))


def as_resources(run: ProgramRun) -> list[Resource]:
    """The program's custom resources with their providers' default namespaces and their
    additional_secret_outputs, as the engine hands them to the pack."""
    providers = {r.name: r for r in run.resources if r.typ.startswith("pulumi:providers:")}
    found = []
    for r in run.resources:
        if not r.custom:
            continue
        provider = providers.get(r.provider.split("::")[-2]) if r.provider else None
        namespace = provider.inputs.get("namespace") if provider else None
        urn = run.urn_of(r.typ, r.name)
        secret = frozenset(run.options[urn].additional_secret_outputs)
        inputs = unwrap_secrets(r.inputs)  # as pulumi_policy hands them to a policy
        found.append(Resource(r.typ, r.name, inputs, urn, namespace, secret_outputs=secret))
    return found


# A budget the release's rendered pods exceed by Open WebUI's pod: Ollama (8Gi + its loader's
# 32Mi) fits, Ollama and Open WebUI (1Gi more) do not.
TIGHT = {"requests": {"memory": "8.5Gi"}}


def test_a_pod_the_settings_model_misses_still_counts_in_the_pack(monkeypatch):
    """A bug on the program's side (its quota model forgets Open WebUI's pod) lets the release
    through the program's own check; the pack counts the rendered pods and stops it."""
    with pytest.raises(SettingsError, match="quota.requests.memory"):
        icc_settings(quota=TIGHT)  # the program's check, without the bug
    # settings/budget.py counts the pods settings/pods.py models; here it misses Open WebUI's.
    monkeypatch.setattr(settings_budget, "release_pods", lambda r: [settings_pods.ollama_pods(r)])
    icc_settings(quota=TIGHT)  # with it: accepted
    run = run_stack("icc", cached=False, namespace=NS, quota=TIGHT)
    messages = rules.quota_fits(as_resources(run), quota_facts(**TIGHT))
    assert len(messages) == 1, messages
    assert "quota.requests.memory is 8.5Gi" in messages[0]
    # Open WebUI 1Gi and its backup sidecar 32Mi.
    assert "1 × StatefulSet open-webui (1.03Gi)" in messages[0], messages[0]


def test_a_container_the_pack_misses_is_still_refused_by_the_program(monkeypatch):
    """A bug on the pack's side (it counts only each pod's first container, so not Ollama's
    model loader) would pass a budget that the program's own check refuses."""
    budget = {"requests": {"memory": "9Gi"}}  # 8Gi + 1Gi, without the loader's 32Mi
    with pytest.raises(SettingsError, match="quota.requests.memory"):
        icc_settings(quota=budget)
    resources = as_resources(run_stack("icc", namespace=NS))
    assert rules.quota_fits(resources, quota_facts(**budget))  # the pack as it is: refused
    monkeypatch.setattr(
        quota, "pod_amounts", lambda spec: quota.container_amounts(spec["containers"][0])
    )
    assert rules.quota_fits(resources, quota_facts(**budget)) == []


# --------------------------------------------------------------------------- the real program

STACKS = {
    "icc": ({"namespace": NS}, Facts("icc", NS, quota={"gpu": 1, "storage": "30Gi"})),
    "minikube": ({}, MINIKUBE),
    "docker": ({}, DOCKER),
}


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_every_rule_passes_the_real_program(stack):
    overrides, facts_ = STACKS[stack]
    resources = as_resources(run_stack(stack, **overrides))
    assert rules.check_all(resources, facts_) == {name: [] for name in RULES}


def test_icc_with_a_gpu_but_no_toleration_is_caught():
    resources = as_resources(run_stack("icc", namespace=NS, ollama={"tolerations": []}))
    results = rules.check_all(resources, ICC)
    assert [name for name, messages in results.items() if messages] == ["gpu-tolerates-v100"]


# --------------------------------------------------------------------------- the stack's facts


def project(tmp_path: Path, stacks: dict[str, str], **spec) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(yaml.safe_dump({"name": "icc-ollama", **spec}))
    for name, text in stacks.items():
        (tmp_path / f"Pulumi.{name}.yaml").write_text(text)
    return tmp_path


def read_facts(folder: Path, stack: str) -> Facts:
    facts.stack_facts.cache_clear()
    return facts.stack_facts(stack, str(folder))


def test_facts_come_from_the_stack_file_with_the_packs_defaults(tmp_path):
    folder = project(
        tmp_path,
        {
            "icc": f"config:\n  icc-ollama:target: icc\n  icc-ollama:namespace: {NS}\n"
            "  icc-ollama:keepDataOnDestroy: 'false'\n"
            "  icc-ollama:quota:\n    gpu: 1\n    requests: {cpu: '4'}\n"
            "  icc-ollama:webuiSecretKey:\n    secure: AAABAxyz\n",
            "laptop": "config:\n  icc-ollama:target: minikube\n",
            "json": "config:\n  icc-ollama:target: docker\n  icc-ollama:quota: '{\"gpu\": 2}'\n",
        },
    )
    assert read_facts(folder, "icc") == Facts(
        "icc", NS, False, {"gpu": 1, "requests": {"cpu": "4"}}
    )
    assert read_facts(folder, "laptop") == Facts("minikube", "icc-ollama", True, {})
    assert read_facts(folder, "json").quota == {"gpu": 2}


def test_facts_are_found_from_the_pack_folder_and_beside_the_pack(tmp_path):
    folder = project(tmp_path, {"dev": "config:\n  icc-ollama:target: docker\n"})
    (folder / "policy").mkdir()
    assert read_facts(folder / "policy", "dev").target == "docker"  # a pack folder's cwd
    # Nowhere above /: the project beside the pack (this repository, whose stacks are committed).
    assert read_facts(Path("/"), "minikube").target == "minikube"


def test_stack_config_dir_and_project_level_values(tmp_path):
    folder = project(
        tmp_path,
        {},
        stackConfigDir="stacks",
        config={"icc-ollama:keepDataOnDestroy": {"value": False}},
    )
    (folder / "stacks").mkdir()
    (folder / "stacks" / "Pulumi.s.yaml").write_text("config:\n  icc-ollama:target: docker\n")
    assert read_facts(folder, "s") == Facts("docker", None, False, {})


@pytest.mark.parametrize(
    "text, words",
    [
        (None, "no {folder}/Pulumi.x.yaml (the stack's own config file"),
        ("config:\n  icc-ollama:namespace: a\n", "Pulumi.x.yaml sets no target"),
        ("config:\n  icc-ollama:target: aws\n", "target is 'aws', not one of icc"),
        ("config:\n  icc-ollama:target: icc\n", "Pulumi.x.yaml sets no namespace (`pulumi"),
        ("config:\n  icc-ollama:target: icc\n  bad: [1\n", "{folder}/Pulumi.x.yaml line 4: "),
    ],
)
def test_a_stack_file_the_pack_cannot_use_is_one_line(tmp_path, text, words):
    folder = project(tmp_path, {} if text is None else {"x": text})
    found = read_facts(folder, "x")
    assert not found.known and words.format(folder=folder) in found.problem, found.problem
    assert "\n" not in found.problem


def test_the_pack_config_overrides_a_fact():
    assert facts.with_override(ICC, {"namespace": "other"}) == Facts("icc", "other")
    assert facts.with_override(Facts(problem="none"), {"target": "docker"}).target == "docker"
    assert facts.with_override(Facts(problem="none"), {"namespace": "x"}).problem == "none"
    assert "not one of" in facts.with_override(ICC, {"target": "aws"}).problem


# ------------------------------------------------------------- the pack, as the engine runs it

PACK_STACKS = {
    "t-icc": f"config:\n  icc-ollama:target: icc\n  icc-ollama:namespace: {NS}\n"
    "  icc-ollama:quota: {gpu: 1, storage: 30Gi}\n",
    "t-minikube": "config:\n  icc-ollama:target: minikube\n",
    "t-docker": "config:\n  icc-ollama:target: docker\n",
    "t-broken": "config:\n  icc-ollama:target: [icc\n",
}


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory):
    """The pack folder as the engine starts it, here with the project as its working directory
    (as 3.259.0 starts an executable analyzer; a pack folder runs in the folder itself)."""
    folder = project(tmp_path_factory.mktemp("project"), PACK_STACKS)
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(ROOT_POLICY)],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = process.stdout.readline().strip()  # type: ignore[union-attr]
        assert port.isdigit(), process.stderr.read()  # type: ignore[union-attr]
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.kill()
        process.wait()


def struct(props: dict) -> struct_pb2.Struct:
    return json_format.ParseDict(json.loads(json.dumps(props)), struct_pb2.Struct())


def requests_of(run: ProgramRun, stack: str) -> list[dict]:
    """One AnalyzeRequest's fields per custom resource, with its options and provider, under the
    stack name `stack` (the URN is where the pack finds it)."""
    providers = {r.name: r for r in run.resources if r.typ.startswith("pulumi:providers:")}
    requests = []
    for r in run.resources:
        if not r.custom:
            continue
        urn = run.urn_of(r.typ, r.name)
        fields = {
            "type": r.typ,
            "properties": struct(r.inputs),
            "urn": f"urn:pulumi:{stack}::" + urn.split("::", 1)[1],
            "name": r.name,
            "options": analyzer_pb2.AnalyzerResourceOptions(
                additionalSecretOutputs=run.options[urn].additional_secret_outputs
            ),
        }
        provider = providers.get(r.provider.split("::")[-2]) if r.provider else None
        if provider:
            fields["provider"] = analyzer_pb2.AnalyzerProviderResource(
                type=provider.typ,
                properties=struct(provider.inputs),
                name=provider.name,
                urn=f"urn:pulumi:{stack}::icc-ollama::{provider.typ}::{provider.name}",
            )
        requests.append(fields)
    return requests


def analyze(stub, requests: list[dict]) -> list:
    """Analyze each resource, then AnalyzeStack over all of them, as the engine does."""
    diagnostics = []
    for fields in requests:
        diagnostics += stub.Analyze(analyzer_pb2.AnalyzeRequest(**fields)).diagnostics
    stack = analyzer_pb2.AnalyzeStackRequest(
        resources=[analyzer_pb2.AnalyzerResource(**fields) for fields in requests]
    )
    return diagnostics + list(stub.AnalyzeStack(stack).diagnostics)


def test_the_pack_names_every_policy_and_its_level(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == pack.PACK_NAME
    assert {p.name for p in info.policies} == set(pack.DESCRIPTIONS)
    assert {p.enforcementLevel for p in info.policies} == {analyzer_pb2.MANDATORY}


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_the_pack_passes_each_stack(stack, analyzer):
    run = run_stack(stack, **STACKS[stack][0])
    assert [d.message for d in analyze(analyzer, requests_of(run, f"t-{stack}"))] == []


def test_the_pack_reports_a_violation_with_its_message_and_level(analyzer):
    run = run_stack("icc", namespace=NS, ollama={"tolerations": []})
    diagnostics = analyze(analyzer, requests_of(run, "t-icc"))
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [
        ("gpu-tolerates-v100", analyzer_pb2.MANDATORY)
    ]
    assert "does not tolerate the V100 taint" in diagnostics[0].message


def test_the_pack_reads_the_stack_from_the_urn(analyzer):
    """The same resources under the minikube stack: its file says minikube, so the GPU is wrong."""
    run = run_stack("icc", namespace=NS)
    names = {d.policyName for d in analyze(analyzer, requests_of(run, "t-minikube"))}
    assert names == {"no-gpu-on-minikube"}


def test_the_pack_sees_which_fields_are_kept_secret(analyzer):
    """Open WebUI's Docker env holds the secret key: clean while the program marks `envs`
    secret, a violation once it does not (pulumi_policy hands the policy the plain values)."""
    run = run_stack("docker")
    requests = requests_of(run, "t-docker")
    webui = next(r for r in requests if r["name"] == "local-open-webui")
    assert list(webui["options"].additionalSecretOutputs) == ["envs"]
    webui["options"] = analyzer_pb2.AnalyzerResourceOptions()
    found = analyze(analyzer, requests)
    assert [d.policyName for d in found] == ["no-plain-secrets"] * 2  # the key and the password
    assert "envs (with WEBUI_SECRET_KEY)" in found[0].message


def test_a_broken_stack_file_stops_the_pack_with_one_line(analyzer):
    run = run_stack("minikube")
    diagnostics = analyze(analyzer, requests_of(run, "t-broken"))
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [
        ("stack-facts", analyzer_pb2.MANDATORY)
    ]
    # pulumi_policy puts the policy's description on a line of its own before the violation.
    description, violation = diagnostics[0].message.split("\n")
    assert description == pack.DESCRIPTIONS["stack-facts"]
    assert "Pulumi.t-broken.yaml line 3: " in violation


def test_unknown_values_do_not_stop_a_rule(analyzer):
    props = {"metadata": {"name": "cm", "namespace": UNKNOWN_STRING_VALUE}, "data": {"A": "b"}}
    fields = {
        "type": "kubernetes:core/v1:ConfigMap",
        "properties": struct(props),
        "urn": "urn:pulumi:t-icc::icc-ollama::kubernetes:core/v1:ConfigMap::cm",
        "name": "cm",
    }
    assert list(analyzer.Analyze(analyzer_pb2.AnalyzeRequest(**fields)).diagnostics) == []
    # The same through the stack policies, and a known namespace elsewhere is still caught.
    outside = copy.deepcopy(props)
    outside["metadata"]["namespace"] = "kube-system"
    fields["properties"] = struct(outside)
    diagnostics = analyzer.Analyze(analyzer_pb2.AnalyzeRequest(**fields)).diagnostics
    assert [d.policyName for d in diagnostics] == ["icc-namespace-only"]
