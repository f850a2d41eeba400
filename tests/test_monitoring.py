"""Monitoring: the two charts (pinned, from their real repositories), their values per scope,
Grafana's admin Secret, the exporter Deployment, NetworkPolicies and the namespace budget."""

import json
from decimal import Decimal

import pytest
from chart_keys import CHARTS, GRAFANA, PROMETHEUS, leaf_paths
from test_network import allowed, policies_of
from test_pod_security import broken_rules
from test_schemas import KUBERNETES_VERSIONS, validate_all

from components import kube
from components import monitoring as mon
from components import monitoring_values as mon_values
from harness import TEST_GRAFANA_PASSWORD, TEST_SECRETS, is_secret, run_stack, stack_config
from settings import parse_settings
from settings.pods import pod_budget, release_pods

CHART = "kubernetes:helm.sh/v4:Chart"
NS = "wabc123-default"
ICC_ON = {"namespace": NS, "monitoring": {"enabled": True}}


@pytest.fixture
def icc_monitored(monkeypatch):
    return run_stack("icc", monkeypatch, **ICC_ON)


def chart(run, name):
    return run.one(CHART, f"monitoring-{name}").inputs


def values(run, name):
    return chart(run, name)["values"]


def walk(value):
    """Every (key, value) pair anywhere in a nested structure."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


# --- charts: source, version, placement ------------------------------------------------------


@pytest.mark.parametrize("stack", ["minikube", "icc_monitored"])
def test_charts_are_pinned_and_come_from_their_real_repositories(stack, request):
    run = request.getfixturevalue(stack)
    namespace = run.exports["namespace"]
    prometheus, grafana = chart(run, "prometheus"), chart(run, "grafana")
    assert (prometheus["chart"], prometheus["version"]) == ("prometheus", "29.27.0")
    assert prometheus["repositoryOpts"] == {
        "repo": "https://prometheus-community.github.io/helm-charts"
    }
    assert (grafana["chart"], grafana["version"]) == ("grafana", "12.11.1")
    # The chart moved in 2026: grafana.github.io/helm-charts gets no updates.
    assert grafana["repositoryOpts"] == {"repo": "https://grafana-community.github.io/helm-charts"}
    assert prometheus["namespace"] == grafana["namespace"] == namespace
    assert (prometheus["name"], grafana["name"]) == ("prometheus", "grafana")


@pytest.mark.parametrize("stack", ["minikube", "icc_monitored"])
def test_rendered_charts_are_the_versions_whose_keys_were_read(stack, request):
    """Bumping a chart means re-reading its values.yaml: tests/chart_keys.py must follow."""
    run = request.getfixturevalue(stack)
    for name, read in (("prometheus", PROMETHEUS), ("grafana", GRAFANA)):
        assert chart(run, name)["version"] == read.version


@pytest.mark.parametrize("stack", ["minikube", "icc_monitored"])
def test_charts_use_the_explicit_provider_inside_the_component(stack, request):
    run = request.getfixturevalue(stack)
    for name in ("prometheus", "grafana"):
        resource = run.one(CHART, f"monitoring-{name}")
        assert "pulumi:providers:kubernetes::k8s" in resource.provider
        assert "icc:monitoring:Monitoring$" in run.urn_of(CHART, f"monitoring-{name}")


def test_icc_has_no_monitoring_unless_switched_on(icc):
    assert icc.of_type(CHART) == []
    assert not [r for r in icc.resources if "monitoring" in r.name]
    assert "grafana" not in icc.exports["nextSteps"]


def test_a_local_chart_path_works_offline(monkeypatch):
    run = run_stack(
        "minikube",
        monkeypatch,
        monitoring={
            "prometheus": {"chart": "./charts/prometheus", "repo": ""},
            "grafana": {"chart": "/opt/charts/grafana-12.11.1.tgz"},
        },
    )
    assert chart(run, "prometheus")["chart"] == "./charts/prometheus"
    assert chart(run, "grafana")["chart"] == "/opt/charts/grafana-12.11.1.tgz"
    for name in ("prometheus", "grafana"):
        assert "repositoryOpts" not in chart(run, name)  # a path pins itself (its Chart.yaml)
        assert "version" not in chart(run, name)


def test_an_oci_reference_keeps_the_pinned_version(monkeypatch):
    run = run_stack(
        "minikube",
        monkeypatch,
        monitoring={"grafana": {"chart": "oci://ghcr.io/grafana-community/helm-charts/grafana"}},
    )
    grafana = chart(run, "grafana")
    assert grafana["chart"].startswith("oci://") and grafana["version"] == "12.11.1"
    assert "repositoryOpts" not in grafana


# --- values: documented keys, scope ----------------------------------------------------------

VARIANTS = {
    "minikube": ("minikube", {}),
    "icc": ("icc", ICC_ON),
    "icc-storage-dcgm": (
        "icc",
        {
            "namespace": NS,
            "monitoring": {
                "enabled": True,
                "dcgmTargets": ["dcgm.gpu-operator.svc.cluster.local:9400"],
                "prometheus": {"storageSize": "10Gi"},
            },
        },
    ),
    "minikube-no-exporter": ("minikube", {"monitoring": {"exporter": {"enabled": False}}}),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_rendered_value_is_a_key_the_chart_documents(variant, monkeypatch):
    stack, overrides = VARIANTS[variant]
    run = run_stack(stack, monkeypatch, **overrides)
    for name, keys in CHARTS.items():
        assert chart(run, name)["version"] == keys.version
        assert keys.undocumented(values(run, name)) == [], f"{name} ({keys.source})"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_chart_values_hold_no_null(variant, monkeypatch):
    """The provider's Helm v4 Chart strips null values before 4.30 (4.25 in the e2e tier) and
    hands them to Helm from 4.30 on (4.32 for users), where a null deletes the chart's default.
    Without a null in the values both versions render the same objects."""
    stack, overrides = VARIANTS[variant]
    run = run_stack(stack, monkeypatch, **overrides)
    for name in CHARTS:
        assert [key for key, value in walk(values(run, name)) if value is None] == [], name


def test_the_key_check_catches_a_typo():
    assert PROMETHEUS.undocumented({"server": {"retension": "15d"}}) == ["server/retension"]
    assert PROMETHEUS.undocumented({"scrapeConfigs": {"kubernetes-pod": {"enabled": False}}})
    assert GRAFANA.undocumented({"admin": {"existingSecrets": "x"}}) == ["admin/existingSecrets"]
    assert GRAFANA.undocumented({"grafana.ini": {"anything": {"goes": 1}}}) == []
    assert leaf_paths({"a": {"b.c": 1, "d": []}}) == ["a/b.c", "a/d"]


def test_icc_monitoring_is_namespace_scoped(icc_monitored):
    prometheus = values(icc_monitored, "prometheus")
    assert prometheus["rbac"] == {
        "create": False
    }  # no ClusterRole, ClusterRoleBinding or RoleBinding
    assert prometheus["server"]["automountServiceAccountToken"] is False
    for sub_chart in (
        "kube-state-metrics",
        "prometheus-node-exporter",
        "alertmanager",
        "prometheus-pushgateway",
    ):
        assert prometheus[sub_chart]["enabled"] is False, sub_chart
    jobs = prometheus["scrapeConfigs"]
    for job in mon_values.DISCOVERY_JOBS:  # every default job that would use the Kubernetes API
        assert jobs[job] == {"enabled": False}, job
    assert not [key for key, _ in walk(prometheus) if key.endswith("_sd_configs")]
    assert jobs["ollama-exporter"]["static_configs"] == [
        {"targets": [f"ollama-exporter.{NS}.svc.cluster.local:9101"], "labels": {"namespace": NS}}
    ]
    grafana = values(icc_monitored, "grafana")
    assert grafana["rbac"] == {"create": False}
    assert grafana["automountServiceAccountToken"] is False
    assert grafana["serviceAccount"]["automountServiceAccountToken"] is False


def test_minikube_monitoring_is_cluster_wide(minikube):
    prometheus = values(minikube, "prometheus")
    assert prometheus["rbac"] == {"create": True}
    assert "automountServiceAccountToken" not in prometheus["server"]  # discovery needs the API
    assert prometheus["kube-state-metrics"]["enabled"] is True
    assert prometheus["prometheus-node-exporter"]["enabled"] is False  # host access, no panel
    jobs = prometheus["scrapeConfigs"]
    assert "kubernetes-nodes-cadvisor" not in jobs  # the chart's default job stays on
    assert set(jobs) == {"prometheus-pushgateway", "ollama-exporter"}


def test_without_a_claim_prometheus_keeps_metrics_in_a_bounded_emptydir(minikube):
    server = values(minikube, "prometheus")["server"]
    assert server["persistentVolume"] == {"enabled": False}
    assert server["emptyDir"]["sizeLimit"]
    assert server["retention"] == "15d"


def test_prometheus_storage_and_dcgm_targets_are_settings(monkeypatch):
    stack, overrides = VARIANTS["icc-storage-dcgm"]
    prometheus = values(run_stack(stack, monkeypatch, **overrides), "prometheus")
    assert prometheus["server"]["persistentVolume"] == {
        "enabled": True,
        "size": "10Gi",
        "storageClass": "rook-ceph-block",
    }
    assert prometheus["scrapeConfigs"]["dcgm"] == {
        "honor_labels": True,
        "static_configs": [{"targets": ["dcgm.gpu-operator.svc.cluster.local:9400"]}],
    }


@pytest.mark.parametrize("stack", ["minikube", "icc_monitored"])
def test_chart_pods_are_configured_to_the_restricted_profile(stack, request):
    run = request.getfixturevalue(stack)
    prometheus, grafana = values(run, "prometheus"), values(run, "grafana")
    server = prometheus["server"]
    reloader = prometheus["configmapReload"]["prometheus"]
    for pod, container in (
        (server["securityContext"], server["containerSecurityContext"]),
        (server["securityContext"], reloader["containerSecurityContext"]),
        (grafana["securityContext"], grafana["containerSecurityContext"]),
    ):
        assert broken_rules({"securityContext": pod}, {"securityContext": container}) == set()
    for resources in (server["resources"], reloader["resources"], grafana["resources"]):
        for side in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources[side])
    assert {"name": "tmp", "mountPath": "/tmp"} in grafana["extraEmptyDirMounts"]
    assert grafana["testFramework"] == {"enabled": False}


# --- Grafana: admin secret, datasource, dashboards -------------------------------------------


@pytest.mark.parametrize("stack", ["minikube", "icc_monitored"])
def test_grafana_admin_password_lives_only_in_a_secret(stack, request):
    run = request.getfixturevalue(stack)
    grafana = values(run, "grafana")
    assert grafana["admin"] == {
        "existingSecret": "grafana-admin",
        "userKey": "admin-user",
        "passwordKey": "admin-password",
    }
    secret = run.one("kubernetes:core/v1:Secret", "monitoring-grafana-admin").inputs
    assert secret["metadata"]["name"] == "grafana-admin"
    data = secret["stringData"]
    assert is_secret(data) or is_secret(data["admin-password"])
    for resource in run.resources:
        if resource.name != "monitoring-grafana-admin":
            assert TEST_GRAFANA_PASSWORD not in json.dumps(resource.inputs), resource.name
    assert TEST_GRAFANA_PASSWORD not in json.dumps(run.exports)
    assert not {"adminPassword", "adminUser"} & set(grafana)


@pytest.mark.parametrize("stack", ["minikube", "icc_monitored"])
def test_datasource_is_the_prometheus_service_in_this_namespace(stack, request):
    run = request.getfixturevalue(stack)
    namespace = run.exports["namespace"]
    (source,) = values(run, "grafana")["datasources"]["datasources.yaml"]["datasources"]
    assert source["url"] == f"http://prometheus-server.{namespace}.svc.cluster.local"
    assert (source["type"], source["uid"], source["access"]) == (
        "prometheus",
        "prometheus",
        "proxy",
    )
    # The chart names its server Service after server.fullnameOverride, on servicePort 80.
    assert values(run, "prometheus")["server"]["fullnameOverride"] == "prometheus-server"


@pytest.mark.parametrize("stack", ["minikube", "icc_monitored"])
def test_dashboards_come_from_a_configmap_with_this_namespace(stack, request):
    run = request.getfixturevalue(stack)
    namespace = run.exports["namespace"]
    grafana = values(run, "grafana")
    (provider,) = grafana["dashboardProviders"]["dashboardproviders.yaml"]["providers"]
    assert provider["options"]["path"] == f"/var/lib/grafana/dashboards/{provider['name']}"
    assert grafana["dashboardsConfigMaps"] == {provider["name"]: "grafana-dashboards"}
    config_map = run.one("kubernetes:core/v1:ConfigMap", "monitoring-dashboards").inputs
    assert config_map["metadata"]["name"] == "grafana-dashboards"
    board = json.loads(config_map["data"]["ollama.json"])
    (variable,) = [v for v in board["templating"]["list"] if v["name"] == "namespace"]
    assert variable["query"] == namespace and variable["current"]["value"] == namespace


# --- exporter -------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["minikube", "icc_monitored"])
def test_exporter_discovers_every_ollama_replica_through_the_headless_service(stack, request):
    run = request.getfixturevalue(stack)
    namespace = run.exports["namespace"]
    deployment = run.one("kubernetes:apps/v1:Deployment", "monitoring-exporter").inputs
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"][:2] == [
        "--discover",
        f"ollama-headless.{namespace}.svc.cluster.local:11434",
    ]
    assert container["image"] == "python:3.13.7-slim"
    script = run.one("kubernetes:core/v1:ConfigMap", "monitoring-exporter-script").inputs
    assert script["data"]["ollama-exporter.py"] == mon.EXPORTER_SCRIPT.read_text()
    service = run.one("kubernetes:core/v1:Service", "monitoring-exporter-service").inputs
    assert service["metadata"]["name"] == "ollama-exporter"
    assert service["spec"]["ports"][0]["port"] == mon.EXPORTER_PORT


def test_exporter_can_be_switched_off(monkeypatch):
    run = run_stack("minikube", monkeypatch, monitoring={"exporter": {"enabled": False}})
    assert run.of_type("kubernetes:apps/v1:Deployment") == []
    assert "ollama-exporter" not in values(run, "prometheus")["scrapeConfigs"]
    names = {p["metadata"]["name"] for p in policies_of(run)}
    assert "icc-ollama-allow-ollama-from-exporter" not in names


# --- network --------------------------------------------------------------------------------

OLLAMA = kube.with_managed_by(kube.labels("ollama", "inference"))
WEBUI = kube.with_managed_by(kube.labels("open-webui", "frontend"))
EXPORTER = kube.with_managed_by(kube.labels("ollama-exporter", "metrics"))
PROMETHEUS_POD = {
    "app.kubernetes.io/name": "prometheus",
    "app.kubernetes.io/component": "server",
    "app.kubernetes.io/instance": "prometheus",
    "app.kubernetes.io/part-of": "prometheus",
}
GRAFANA_POD = {
    "app.kubernetes.io/name": "grafana",
    "app.kubernetes.io/instance": "grafana",
    "app.kubernetes.io/part-of": "icc-ollama",
}  # chart labels + our podLabels
KSM_POD = {
    "app.kubernetes.io/name": "kube-state-metrics",
    "app.kubernetes.io/instance": "prometheus",
}
STRANGER = {"app": "someone-elses-job"}


@pytest.mark.parametrize("stack", ["minikube", "icc_monitored"])
def test_metrics_paths_are_allowed_and_nothing_else(stack, request):
    run = request.getfixturevalue(stack)
    ns = run.exports["namespace"]
    policies = policies_of(run)
    assert values(run, "grafana")["podLabels"] == {"app.kubernetes.io/part-of": "icc-ollama"}
    # exporter -> Ollama, Prometheus -> exporter, Grafana -> Prometheus
    assert allowed(policies, OLLAMA, 11434, EXPORTER, ns, ns)
    assert allowed(policies, EXPORTER, 9101, PROMETHEUS_POD, ns, ns)
    assert allowed(policies, PROMETHEUS_POD, 9090, GRAFANA_POD, ns, ns)
    # and nobody else
    assert not allowed(policies, OLLAMA, 11434, PROMETHEUS_POD, ns, ns)
    assert not allowed(policies, EXPORTER, 9101, STRANGER, ns, ns)
    assert not allowed(policies, PROMETHEUS_POD, 9090, STRANGER, ns, ns)
    assert not allowed(policies, PROMETHEUS_POD, 9090, {}, "other-namespace", ns)
    assert not allowed(policies, PROMETHEUS_POD, 9090, EXPORTER, ns, ns)
    for port in (3000, 80):  # Grafana: port-forward only
        assert not allowed(policies, GRAFANA_POD, port, WEBUI, ns, ns)
        assert not allowed(policies, GRAFANA_POD, port, {}, "ingress-nginx", ns)
    # The Ollama API itself stays closed to the monitoring pods except the exporter.
    assert not allowed(policies, OLLAMA, 11434, GRAFANA_POD, ns, ns)


def test_kube_state_metrics_only_answers_prometheus(minikube):
    policies = policies_of(minikube)
    assert allowed(policies, KSM_POD, 8080, PROMETHEUS_POD, "icc-ollama", "icc-ollama")
    assert not allowed(policies, KSM_POD, 8080, STRANGER, "icc-ollama", "icc-ollama")


# --- budget, exports ------------------------------------------------------------------------


@pytest.mark.parametrize("stack, overrides", [("minikube", {}), ("icc", ICC_ON)])
def test_budget_counts_the_monitoring_pods_as_rendered(stack, overrides, monkeypatch):
    run = run_stack(stack, monkeypatch, **overrides)
    raw = {
        **stack_config(stack),
        **TEST_SECRETS,
        **{k: json.dumps(v) if isinstance(v, dict) else v for k, v in overrides.items()},
    }
    budgets = {b.name: b for b in release_pods(parse_settings(raw, frozenset(TEST_SECRETS)))}
    prometheus, grafana = values(run, "prometheus"), values(run, "grafana")
    rendered = {
        "Prometheus": [
            prometheus["server"]["resources"],
            prometheus["configmapReload"]["prometheus"]["resources"],
        ],
        "Grafana": [grafana["resources"]],
        "Ollama exporter": [
            run.one("kubernetes:apps/v1:Deployment", "monitoring-exporter").inputs["spec"][
                "template"
            ]["spec"]["containers"][0]["resources"]
        ],
    }
    if stack == "minikube":
        rendered["kube-state-metrics"] = [prometheus["kube-state-metrics"]["resources"]]
    for name, containers in rendered.items():
        expected = pod_budget(name, 1, "", containers)
        assert (budgets[name].requests, budgets[name].limits) == (
            expected.requests,
            expected.limits,
        )
    assert set(budgets) == {"Ollama", "Open WebUI", *rendered}
    assert budgets["Prometheus"].requests["cpu"] == Decimal("0.11")


@pytest.mark.parametrize("stack", ["minikube", "icc_monitored"])
def test_next_steps_tell_how_to_reach_grafana_and_prometheus(stack, request):
    run = request.getfixturevalue(stack)
    namespace, steps = run.exports["namespace"], run.exports["nextSteps"]
    assert steps["grafana"].endswith(f"-n {namespace} port-forward svc/grafana 3000:80")
    assert steps["prometheus"].endswith(
        f"-n {namespace} port-forward svc/prometheus-server 9090:80"
    )
    assert "user admin" in steps["grafanaLogin"]
    # The password the program made (or the one set in config) is a secret stack output.
    assert "pulumi stack output --show-secrets grafanaAdminPassword -s " in steps["grafanaLogin"]


def test_switching_monitoring_on_leaves_ollama_and_open_webui_untouched(icc, icc_monitored):
    """The exporter runs beside Ollama, not in its pods: no restart, no unloaded models."""
    for name in ("ollama", "open-webui"):
        before = icc.one("kubernetes:apps/v1:StatefulSet", name).inputs
        after = icc_monitored.one("kubernetes:apps/v1:StatefulSet", name).inputs
        assert before == after, name


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_namespace_scoped_objects_match_the_kubernetes_schema(icc_monitored, version):
    objects = icc_monitored.kubernetes_objects()
    assert {"Deployment", "Secret", "ConfigMap", "Service", "ServiceAccount"} <= {
        o["kind"]
        for o in objects
        if o["metadata"]["name"].startswith(("ollama-exporter", "grafana"))
    }
    validate_all(objects, version)


# --- issue 10: bounded metrics, no plugin updates on a read-only root, no name collisions --------


@pytest.mark.parametrize("overrides, volume", [({}, "4Gi"), ({"storageSize": "10Gi"}, "10Gi")])
def test_prometheus_deletes_old_data_before_its_volume_is_full(overrides, volume, monkeypatch):
    monitoring = {"prometheus": overrides} if overrides else {}
    run = run_stack("minikube", monkeypatch, monitoring=monitoring)
    server = values(run, "prometheus")["server"]
    assert server.get("emptyDir", {}).get("sizeLimit", volume) == volume
    size = server["retentionSize"]
    assert size.endswith("MB")  # Prometheus' units are powers of two: MB = 2^20 bytes
    assert Decimal(size[:-2]) * 2**20 < kube_bytes(volume) * Decimal("0.8")


def kube_bytes(quantity: str) -> Decimal:
    from settings.quantity import parse_quantity

    return parse_quantity(quantity)


@pytest.mark.parametrize("stack", ["minikube", "icc_monitored"])
def test_grafana_does_not_update_bundled_plugins_on_its_read_only_root(stack, request):
    ini = values(request.getfixturevalue(stack), "grafana")["grafana.ini"]
    assert ini["plugins"]["preinstall_auto_update"] is False


def test_cluster_scoped_names_carry_the_namespace(monkeypatch):
    names = []
    for namespace in ("icc-ollama", "icc-ollama-2"):
        prometheus = values(run_stack("minikube", monkeypatch, namespace=namespace), "prometheus")
        role = prometheus["server"]["clusterRoleNameOverride"]
        ksm = prometheus["kube-state-metrics"]["fullnameOverride"]
        assert namespace in role and namespace in ksm
        assert prometheus["server"]["fullnameOverride"] == "prometheus-server"  # the Service
        names += [role, ksm]
    # Two stacks, and the chart's own defaults of another release, never share a name.
    assert len(set(names)) == 4
    assert not {"prometheus-server", "prometheus-kube-state-metrics"} & set(names)


def test_namespace_scope_renders_no_cluster_names(icc_monitored):
    prometheus = values(icc_monitored, "prometheus")
    assert "clusterRoleNameOverride" not in prometheus["server"]
    assert "fullnameOverride" not in prometheus["kube-state-metrics"]
