"""The Ollama HPA: its shape, the StatefulSet yielding `spec.replicas` to it, and Open WebUI
switching from per-replica URLs to the Service (only Ready replicas, i.e. with models, get
traffic)."""

import pytest
from test_schemas import KUBERNETES_VERSIONS, validate_all

from components.autoscaling import BEHAVIOR
from harness import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY, TEST_SECRETS, run_stack
from settings import SettingsError, parse_settings

HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
SECRET = frozenset(TEST_SECRETS)
ON = {"autoscaling": {"enabled": True}}
ICC_ON = {
    "namespace": "wabc123-default",
    "quota": {"gpu": 2},
    "ollama": {"autoscaling": {"enabled": True, "maxReplicas": 2}},
}


def ollama_settings(target, autoscaling):
    raw = {
        "target": target,
        **TEST_SECRETS,
        "ollama": f'{{"autoscaling": {{"enabled": {str(autoscaling).lower()}}}}}',
    }
    return parse_settings(raw, SECRET).ollama


def base_urls(run):
    spec = run.one(STATEFULSET, "open-webui").inputs["spec"]
    env = {e["name"]: e.get("value") for e in spec["template"]["spec"]["containers"][0]["env"]}
    return env["OLLAMA_BASE_URLS"].split(";")


def claims(run):
    return {
        (o["metadata"]["name"], t["metadata"]["name"]): t["spec"]
        for o in run.kubernetes_objects()
        if o["kind"] == "StatefulSet"
        for t in o["spec"]["volumeClaimTemplates"]
    }


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_autoscaling_is_off_by_default(stack, request):
    run = request.getfixturevalue(stack)
    assert run.of_type(HPA) == []
    assert all(".ollama-headless." in url for url in base_urls(run))


def test_minikube_hpa_targets_the_statefulset(monkeypatch):
    run = run_stack("minikube", monkeypatch, ollama=ON)
    hpa = run.one(HPA).inputs
    statefulset = run.one(STATEFULSET, "ollama").inputs
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": statefulset["metadata"]["name"],
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 3)
    (metric,) = hpa["spec"]["metrics"]
    assert metric == {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
    }
    assert hpa["metadata"]["namespace"] == "icc-ollama"
    # Starts at minReplicas; afterwards the HPA owns the count (see the options test).
    assert statefulset["spec"]["replicas"] == 2


def test_hpa_settings_reach_the_object(monkeypatch):
    run = run_stack(
        "minikube",
        monkeypatch,
        ollama={
            "autoscaling": {
                "enabled": True,
                "minReplicas": 1,
                "maxReplicas": 3,
                "targetCpuUtilization": 150,
            }
        },
    )
    spec = run.one(HPA).inputs["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (1, 3)
    assert spec["metrics"][0]["resource"]["target"]["averageUtilization"] == 150
    assert run.one(STATEFULSET, "ollama").inputs["spec"]["replicas"] == 1


def test_behavior_adds_one_replica_at_a_time_and_removes_slowly(monkeypatch):
    behavior = run_stack("minikube", monkeypatch, ollama=ON).one(HPA).inputs["spec"]["behavior"]
    assert behavior == BEHAVIOR
    up, down = behavior["scaleUp"], behavior["scaleDown"]
    assert up["stabilizationWindowSeconds"] == 0
    assert up["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 60}]
    assert down["stabilizationWindowSeconds"] >= 300  # a loaded model is costly to get back
    assert all(p["type"] == "Pods" and p["value"] == 1 for p in down["policies"])


@pytest.mark.parametrize("stack, overrides", [("minikube", {"ollama": ON}), ("icc", ICC_ON)])
def test_webui_uses_the_service_while_autoscaling(stack, overrides, monkeypatch):
    run = run_stack(stack, monkeypatch, **overrides)
    namespace = run.exports["namespace"]
    assert base_urls(run) == [f"http://ollama.{namespace}.svc.cluster.local:11434"]
    service = run.one("kubernetes:core/v1:Service", "ollama-service").inputs["spec"]
    assert service["type"] == "ClusterIP" and "clusterIP" not in service
    # Replicas below minReplicas always exist; their URLs stay valid.
    assert len(run.exports["ollamaReplicaUrls"]) == run.one(HPA).inputs["spec"]["minReplicas"]


def test_statefulset_yields_replicas_to_the_hpa_only_when_on(minikube):
    scaled = run_stack("minikube", ollama={"autoscaling": {"enabled": True}})
    on = scaled.options_of("kubernetes:apps/v1:StatefulSet", "ollama")
    off = minikube.options_of("kubernetes:apps/v1:StatefulSet", "ollama")
    assert on.ignore_changes == ("spec.replicas",) and off.ignore_changes == ()
    # The rollout wait stays the same either way.
    assert on.custom_timeouts == off.custom_timeouts == {"create": "30m", "update": "30m"}


def test_icc_gpu_hpa_is_bounded_by_the_quota(monkeypatch):
    run = run_stack("icc", monkeypatch, **ICC_ON)
    assert run.one(HPA).inputs["spec"]["maxReplicas"] == 2
    with pytest.raises(SettingsError, match="ollama.autoscaling.maxReplicas \\(given: 3\\)"):
        parse_settings(
            {
                "target": "icc",
                "namespace": "wabc123-default",
                "webuiSecretKey": TEST_SECRET_KEY,
                "quota": '{"gpu": 2}',
                "webuiAdminPassword": TEST_ADMIN_PASSWORD,
                "ollama": '{"autoscaling": {"enabled": true, "maxReplicas": 3}}',
            },
            SECRET,
        )


def test_switching_autoscaling_on_keeps_every_model_claim(minikube, monkeypatch):
    assert claims(run_stack("minikube", monkeypatch, ollama=ON)) == claims(minikube)


def test_the_hpa_is_a_child_of_ollama_server(monkeypatch):
    run = run_stack("minikube", monkeypatch, ollama=ON)
    urn = run.urn_of(HPA, "ollama-autoscaler")
    assert "icc:ollama:OllamaServer$kubernetes:autoscaling/v2:HorizontalPodAutoscaler" in urn


def test_autoscaled_stacks_match_the_kubernetes_schema(monkeypatch):
    # tests/test_schemas.py covers the default stacks, which have no HPA.
    for run in (
        run_stack("minikube", monkeypatch, ollama=ON),
        run_stack("icc", monkeypatch, **ICC_ON),
    ):
        assert run.of_type(HPA)
        for version in KUBERNETES_VERSIONS:
            validate_all(run.kubernetes_objects(), version)


def test_docker_target_refuses_autoscaling_and_ingress():
    for key, block in (
        ("ollama.autoscaling.enabled", {"ollama": '{"autoscaling": {"enabled": true}}'}),
        ("ingress.enabled", {"ingress": '{"enabled": true}'}),
    ):
        with pytest.raises(SettingsError, match=f"icc-ollama:{key} .*only the Kubernetes targets"):
            parse_settings(
                {
                    "target": "docker",
                    "webuiSecretKey": TEST_SECRET_KEY,
                    "webuiAdminPassword": TEST_ADMIN_PASSWORD,
                    **block,
                },
                SECRET,
            )
