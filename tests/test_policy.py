"""The policy pack (policy/): every rule with a violating and a clean resource, every rule over the
real program's resources of each stack, and the pack itself as the engine drives it (pulumi_policy's
analyzer servicer fed AnalyzeRequest/AnalyzeStackRequest messages built from the recorded mocks).
"""

from __future__ import annotations

import copy
import json
import sys

import pytest
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2

from harness import ROOT, SECRET_MARK, SECRET_SIG, ProgramRun, run_stack

sys.path.insert(0, str(ROOT / "policy"))
import pack  # noqa: E402
import pod_rules  # noqa: E402
import rules  # noqa: E402
from wire import Facts, Resource  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
import policy_config  # noqa: E402

NS = "wabc123-default"
ICC = Facts.from_config({"target": "icc", "namespace": NS})
MINIKUBE = Facts.from_config({"target": "minikube", "namespace": "icc-ollama"})
DOCKER = Facts.from_config({"target": "docker"})
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
STS = "kubernetes:apps/v1:StatefulSet"


def secret(value):
    return {SECRET_MARK: SECRET_SIG, "value": value}


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
):
    spec = {"containers": containers or [container()]}
    if tolerations is not None:
        spec["tolerations"] = tolerations
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


def k8s(kind, group_version, name, props):
    return Resource(f"kubernetes:{group_version}:{kind}", name, props, provider_namespace=NS)


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
        Facts.from_config({"target": "icc", "namespace": NS, "quota": {"gpu": 1}}),
        [workload(containers=[container(requests=GPU, limits=GPU)], replicas=2, tolerations=V100)],
        [workload(containers=[container(requests=GPU, limits=GPU)], replicas=1, tolerations=V100)],
        "needs 2 gpu (requests) but quota.gpu is 1",
    ),
}


# A resource rule sees one resource, a stack rule the list of them: the cases say which.
CASES = {**RESOURCE_CASES, **STACK_CASES}
RULES = {**rules.RESOURCE_RULES, **rules.STACK_RULES}


def test_every_rule_has_a_case():
    assert set(CASES) == set(RULES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_flags_the_violation_and_passes_the_clean_input(name):
    facts, bad, good, words = CASES[name]
    messages = RULES[name](bad, facts)
    assert len(messages) == 1 and words in messages[0], messages
    assert RULES[name](good, facts) == []


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


def test_unknown_namespace_is_not_guessed():
    body = {"metadata": {"name": "cm", "namespace": UNKNOWN_STRING}}
    assert rules.icc_namespace_only(Resource("kubernetes:core/v1:ConfigMap", "cm", body), ICC) == []


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
        ("sha256:" + "b" * 64, True),
    ],
)
def test_floating_images(image, pinned):
    assert (pod_rules.floating(image) is None) is pinned


def test_docker_images_are_checked():
    remote = Resource("docker:index/remoteImage:RemoteImage", "img", {"name": "ollama/ollama"})
    assert "has no tag" in rules.images_pinned(remote, DOCKER)[0]


def test_secret_docker_envs_pass_and_plain_ones_fail():
    plain = Resource(
        "docker:index/container:Container",
        "webui",
        {"image": "sha256:" + "c" * 64, "envs": ["WEBUI_SECRET_KEY=abc", "A=b"]},
    )
    assert "env WEBUI_SECRET_KEY" in rules.no_plain_secrets(plain, DOCKER)[0]
    marked = Resource(
        "docker:index/container:Container",
        "webui",
        {"image": "sha256:" + "c" * 64, "envs": secret(["WEBUI_SECRET_KEY=abc"])},
    )
    assert rules.no_plain_secrets(marked, DOCKER) == []


def test_secret_annotations_configmaps_and_unmarked_secret_data_fail():
    annotated = k8s("Service", "core/v1", "s", {"metadata": {"annotations": {"db-password": "x"}}})
    assert "annotation db-password" in rules.no_plain_secrets(annotated, ICC)[0]
    config_map = k8s("ConfigMap", "core/v1", "c", {"data": {"API_TOKEN": "x", "MODE": "a"}})
    assert "ConfigMap key API_TOKEN" in rules.no_plain_secrets(config_map, ICC)[0]
    unmarked = k8s("Secret", "core/v1", "s", {"stringData": {"KEY": "x"}})
    assert "stringData not marked" in rules.no_plain_secrets(unmarked, ICC)[0]
    marked = k8s("Secret", "core/v1", "s", {"stringData": secret({"KEY": "x"})})
    assert rules.no_plain_secrets(marked, ICC) == []


def test_data_rule_respects_the_opt_out_and_default_retention():
    deleting = workload(claims=["20Gi"], retention="Delete")
    opted_out = Facts.from_config({"target": "icc", "namespace": NS, "keepDataOnDestroy": False})
    assert rules.data_retained(deleting, opted_out) == []
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


def test_quota_counts_hpa_max_replicas_and_claims():
    hpa = k8s(
        "HorizontalPodAutoscaler",
        "autoscaling/v2",
        "hpa",
        {"spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "ollama"}, "maxReplicas": 3}},
    )
    facts = Facts.from_config(
        {"target": "icc", "namespace": NS, "quota": {"storage": "50Gi", "requests": {"cpu": "2"}}}
    )
    messages = rules.quota_fits([workload(claims=["20Gi"]), hpa], facts)
    assert any("needs 60Gi storage" in m for m in messages), messages
    assert any("needs 3 cpu (requests)" in m for m in messages), messages


# --------------------------------------------------------------------------- the real program


def as_resources(run: ProgramRun) -> list[Resource]:
    """The program's custom resources with their providers' default namespaces."""
    providers = {r.name: r for r in run.resources if r.typ.startswith("pulumi:providers:")}
    found = []
    for r in run.resources:
        if not r.custom:
            continue
        provider = providers.get(r.provider.split("::")[-2]) if r.provider else None
        namespace = provider.inputs.get("namespace") if provider else None
        found.append(Resource(r.typ, r.name, r.inputs, provider_namespace=namespace))
    return found


STACKS = {
    "icc": (
        {"namespace": NS},
        {"target": "icc", "namespace": NS, "quota": {"gpu": 1, "storage": "30Gi"}},
    ),
    "minikube": ({}, {"target": "minikube", "namespace": "icc-ollama"}),
    "docker": ({}, {"target": "docker"}),
}


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_every_rule_passes_the_real_program(stack, monkeypatch):
    overrides, facts = STACKS[stack]
    resources = as_resources(run_stack(stack, monkeypatch, **overrides))
    assert rules.check_all(resources, Facts.from_config(facts)) == {
        name: [] for name in {**rules.RESOURCE_RULES, **rules.STACK_RULES}
    }


def test_icc_with_a_gpu_but_no_toleration_is_caught(monkeypatch):
    resources = as_resources(
        run_stack("icc", monkeypatch, namespace=NS, ollama={"tolerations": []})
    )
    results = rules.check_all(resources, ICC)
    assert [name for name, messages in results.items() if messages] == ["gpu-tolerates-v100"]


# ------------------------------------------------------------- the pack, as the engine runs it


def struct(props: dict) -> struct_pb2.Struct:
    return json_format.ParseDict(props, struct_pb2.Struct())


@pytest.fixture
def servicer():
    import pulumi_policy.policy as internals

    saved = (internals.deserialize_properties, internals.unknown_checking_proxy)
    pack.install_wire_form()
    analyzer = internals._PolicyAnalyzerServicer(
        pack.PACK_NAME,
        "0.1.0",
        pack.policies(),
        pack.EnforcementLevel.MANDATORY,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    )
    yield analyzer
    internals.deserialize_properties, internals.unknown_checking_proxy = saved


def configure(analyzer, facts: dict) -> None:
    """As the engine does: each policy's own level (none is overridden) and its config."""
    levels = {
        p.name: analyzer_pb2.ADVISORY
        if p.enforcement_level == pack.EnforcementLevel.ADVISORY
        else analyzer_pb2.MANDATORY
        for p in pack.policies()
    }
    config = {
        name: analyzer_pb2.PolicyConfig(enforcementLevel=levels[name], properties=struct(body))
        for name, body in pack.pack_config(facts).items()
    }
    analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=config), None)


def analyze(analyzer, run: ProgramRun) -> list:
    """Analyze each custom resource, then AnalyzeStack over all of them, as the engine does."""
    providers = {r.name: r for r in run.resources if r.typ.startswith("pulumi:providers:")}
    requests = []
    for r in run.resources:
        if not r.custom:
            continue
        provider = providers.get(r.provider.split("::")[-2]) if r.provider else None
        kwargs = {
            "type": r.typ,
            "properties": struct(json.loads(json.dumps(r.inputs))),
            "urn": f"urn:pulumi:test::icc-ollama::{r.typ}::{r.name}",
            "name": r.name,
        }
        if provider:
            kwargs["provider"] = analyzer_pb2.AnalyzerProviderResource(
                type=provider.typ,
                properties=struct(provider.inputs),
                name=provider.name,
                urn=f"urn:pulumi:test::icc-ollama::{provider.typ}::{provider.name}",
            )
        requests.append(kwargs)
    diagnostics = []
    for kwargs in requests:
        diagnostics += analyzer.Analyze(analyzer_pb2.AnalyzeRequest(**kwargs), None).diagnostics
    stack = analyzer_pb2.AnalyzeStackRequest(
        resources=[analyzer_pb2.AnalyzerResource(**kwargs) for kwargs in requests]
    )
    return diagnostics + list(analyzer.AnalyzeStack(stack, None).diagnostics)


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_the_pack_passes_each_stack_under_mocks(stack, servicer, monkeypatch):
    overrides, facts = STACKS[stack]
    configure(servicer, facts)
    assert [d.message for d in analyze(servicer, run_stack(stack, monkeypatch, **overrides))] == []


def test_the_pack_reports_a_violation_with_its_message_and_level(servicer, monkeypatch):
    configure(servicer, {"target": "icc", "namespace": NS})
    run = run_stack("icc", monkeypatch, namespace=NS, ollama={"tolerations": []})
    diagnostics = analyze(servicer, run)
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [
        ("gpu-tolerates-v100", analyzer_pb2.MANDATORY)
    ]
    assert "does not tolerate the V100 taint" in diagnostics[0].message


def test_the_pack_sees_secrets_as_secrets(servicer, monkeypatch):
    """The Docker Open WebUI env holds WEBUI_SECRET_KEY inside a Pulumi secret: clean. The same
    env without the secret marker is a violation (pulumi_policy alone would unwrap the marker)."""
    configure(servicer, {"target": "docker"})
    run = run_stack("docker", monkeypatch)
    webui = next(r for r in run.resources if r.name == "local-open-webui")
    assert analyze(servicer, run) == []
    webui.inputs = copy.deepcopy(webui.inputs)
    webui.inputs["envs"] = webui.inputs["envs"]["value"]
    # One finding per secret in the plain list: WEBUI_SECRET_KEY and WEBUI_ADMIN_PASSWORD.
    assert [d.policyName for d in analyze(servicer, run)] == ["no-plain-secrets"] * 2


def test_without_facts_the_pack_says_so(servicer, monkeypatch):
    diagnostics = analyze(servicer, run_stack("minikube", monkeypatch))
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [
        ("stack-facts", analyzer_pb2.ADVISORY)
    ]


def test_unknown_values_do_not_break_a_rule(servicer):
    configure(servicer, {"target": "icc", "namespace": NS})
    props = {"metadata": {"name": "cm", "namespace": UNKNOWN_STRING}, "data": {"A": "b"}}
    response = servicer.Analyze(
        analyzer_pb2.AnalyzeRequest(
            type="kubernetes:core/v1:ConfigMap", properties=struct(props), urn="urn:x", name="cm"
        ),
        None,
    )
    assert list(response.diagnostics) == []


# --------------------------------------------------------------------------- the pack's config


def listing(config: dict, secrets=("webuiSecretKey", "webuiAdminPassword")) -> dict:
    """What `pulumi config --json` prints (secret values elided, as without --show-secrets)."""
    out = {
        f"icc-ollama:{k}": {"value": v if isinstance(v, str) else json.dumps(v), "secret": False}
        for k, v in config.items()
    }
    out.update({f"icc-ollama:{k}": {"secret": True} for k in secrets})
    return out


def test_policy_config_carries_the_validated_facts():
    raw, secret_keys = policy_config.stack_config(
        listing({"target": "icc", "namespace": NS, "quota": {"gpu": 1}, "keepDataOnDestroy": False})
    )
    facts = policy_config.facts(policy_config.parse_settings(raw, secret_keys))
    assert facts == {
        "target": "icc",
        "namespace": NS,
        "keepDataOnDestroy": False,
        "quota": {"requests": {}, "limits": {}, "gpu": 1},
    }
    config = pack.pack_config(facts)
    assert set(config) == {p.name for p in pack.policies()}
    assert all(Facts.from_config(body).target == "icc" for body in config.values())


def test_policy_config_stops_with_the_programs_message(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(
        policy_config,
        "read_listing",
        lambda stack, project_dir, config_file=None: listing(
            {"target": "icc", "namespace": "nope"}
        ),
    )
    assert policy_config.main(["icc", "--out", str(tmp_path / "c.json")]) == 1
    assert "icc-ollama:namespace" in capsys.readouterr().err
    assert not (tmp_path / "c.json").exists()


def test_policy_config_writes_the_file_and_prints_its_path(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(
        policy_config,
        "read_listing",
        lambda stack, project_dir, config_file=None: listing({"target": "docker"}),
    )
    out = tmp_path / "c.json"
    assert policy_config.main(["docker", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    facts = json.loads(out.read_text())["images-pinned"]
    assert facts["target"] == "docker" and "namespace" not in facts
    assert "s" * 64 not in out.read_text()
