"""Every Service finds its pods, without the provider's Service await (components/kube.py).

The await used to prove on each `pulumi up` that a Service selects Ready pods. The workloads'
own awaits still prove the pods Ready; these tests prove over the rendered objects that each
Service's selector and named target port land on the pods of one workload of the same stack
(the e2e tier checks the live endpoints after a real `up`).
"""

import pytest

from components import kube
from harness import mock_cluster_ip, run_stack

ICC_NAMESPACE = "wabc123-default"
SERVICE = "kubernetes:core/v1:Service"
WORKLOADS = ("kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:Deployment")
SKIP_AWAIT = "pulumi.com/skipAwait"
STACKS = {
    "icc": ("icc", {"namespace": ICC_NAMESPACE}),
    "icc-monitored": ("icc", {"namespace": ICC_NAMESPACE, "monitoring": {"enabled": True}}),
    "minikube": ("minikube", {}),  # monitoring is on by default here
    "minikube-autoscaling": ("minikube", {"ollama": {"autoscaling": {"enabled": True}}}),
}


@pytest.fixture(params=sorted(STACKS), scope="module")
def stack(request):
    target, overrides = STACKS[request.param]
    patch = pytest.MonkeyPatch()
    try:
        yield run_stack(target, patch, **overrides)
    finally:
        patch.undo()


def services(run):
    return [r.inputs for r in run.of_type(SERVICE)]


def workloads(run):
    return [r for r in run.resources if r.typ in WORKLOADS]


def namespace(obj):
    return obj["metadata"].get("namespace")


def pod_template(workload):
    return workload.inputs["spec"]["template"]


def selected_workloads(run, service):
    selector = service["spec"]["selector"]
    return [
        w
        for w in workloads(run)
        if namespace(w.inputs) == namespace(service)
        and selector.items() <= pod_template(w)["metadata"]["labels"].items()
    ]


def container_ports(workload):
    return {
        port.get("name")
        for c in pod_template(workload)["spec"]["containers"]
        for port in c.get("ports", [])
    }


def test_every_service_selects_the_pods_of_exactly_one_workload(stack):
    assert services(stack)
    for service in services(stack):
        name = service["metadata"]["name"]
        assert service["spec"].get("selector"), f"service {name} has no selector"
        found = selected_workloads(stack, service)
        assert len(found) == 1, f"service {name} selects {[w.name for w in found]}"
        # The workload's own selector must accept its pods too, or it would have none.
        workload = found[0].inputs
        assert (
            workload["spec"]["selector"]["matchLabels"].items()
            <= pod_template(found[0])["metadata"]["labels"].items()
        )


def test_every_named_target_port_exists_on_the_selected_pods(stack):
    for service in services(stack):
        workload = selected_workloads(stack, service)[0]
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            if isinstance(target, str):
                assert target in container_ports(workload), (service["metadata"]["name"], target)


def test_services_skip_the_await_and_workloads_keep_theirs(stack):
    for service in services(stack):
        assert service["metadata"]["annotations"][SKIP_AWAIT] == "true", service["metadata"]
    for workload in workloads(stack):
        annotations = workload.inputs["metadata"].get("annotations") or {}
        assert SKIP_AWAIT not in annotations, workload.name
        assert "pulumi.com/waitFor" not in annotations, workload.name


def test_a_selector_that_matches_no_pods_is_caught(stack):
    service = dict(services(stack)[0])
    service["spec"] = {**service["spec"], "selector": {"app.kubernetes.io/name": "typo"}}
    assert selected_workloads(stack, service) == []


@pytest.mark.parametrize("minutes", [1, 45])
def test_up_waits_for_every_ollama_replica_up_to_the_rollout_timeout(minutes, monkeypatch):
    run = run_stack(
        "icc", monkeypatch, namespace=ICC_NAMESPACE, ollama={"rolloutTimeoutMinutes": minutes}
    )
    options = run.options_of("kubernetes:apps/v1:StatefulSet", "ollama")
    assert options.custom_timeouts == {"create": f"{minutes}m", "update": f"{minutes}m"}
    ollama = run.one("kubernetes:apps/v1:StatefulSet", "ollama").inputs
    assert SKIP_AWAIT not in (ollama["metadata"].get("annotations") or {})
    # Ready means the models are there: the loader's readiness probe runs its check.
    loader = ollama["spec"]["template"]["spec"]["containers"][1]
    assert loader["readinessProbe"]["exec"]["command"][-1] == "check"


def test_the_cluster_ips_the_cluster_assigns_are_exported(stack):
    # One per ClusterIP Service (the headless one has none), keyed by the Service's name.
    assigned = {
        r.inputs["metadata"]["name"]: mock_cluster_ip(r.name)
        for r in stack.of_type(SERVICE)
        if r.inputs["spec"].get("clusterIP") != "None"
    }
    assert {"ollama", "open-webui"} <= set(assigned)
    assert stack.exports["serviceClusterIPs"] == assigned


def test_a_first_preview_says_when_the_cluster_ip_comes():
    # The provider previews a create with the spec as given: no clusterIP in it yet.
    class Spec:
        cluster_ip = None

    assert kube.assigned_cluster_ip(Spec()) == "assigned when the Service is created"
    assert kube.assigned_cluster_ip(None) == "assigned when the Service is created"


# --- the charts' Services ----------------------------------------------------------------------
# Chart v4 renders a chart's objects inside the provider, so under mocks only the chart inputs
# exist (the SDK's mocks never render them, and transforms are recorded, not applied): the
# annotation is a chart value here, and the e2e tier checks the rendered Services live
# (tests/e2e/test_engine.py: every Service of the namespace skips the await and has its workload's
# Ready pods as endpoints; every NetworkPolicy selector finds live pods).
CHART = "kubernetes:helm.sh/v4:Chart"
# Every Service the charts render with these values (the headless ones need a StatefulSet, the
# other subcharts are off), and the values path of its annotations (see tests/chart_keys.py).
CHART_SERVICES = {
    "prometheus": ("server", "service", "annotations"),
    "grafana": ("service", "annotations"),
}
KSM_SERVICE = ("kube-state-metrics", "service", "annotations")


@pytest.fixture(params=["icc-monitored", "minikube"], scope="module")
def monitored(request):
    target, overrides = STACKS[request.param]
    return run_stack(target, **overrides)


def chart_values(run, chart: str) -> dict:
    return run.one(CHART, f"monitoring-{chart}").inputs["values"]


def at(values: dict, path: tuple[str, ...]):
    for key in path:
        values = values[key]
    return values


def test_chart_services_skip_the_await_like_ours(monitored):
    stack = monitored
    for chart, path in CHART_SERVICES.items():
        assert at(chart_values(stack, chart), path) == {SKIP_AWAIT: "true"}, chart
    prometheus = chart_values(stack, "prometheus")
    if prometheus["kube-state-metrics"]["enabled"]:
        assert at(prometheus, KSM_SERVICE) == {SKIP_AWAIT: "true"}
    else:
        assert "service" not in prometheus["kube-state-metrics"]


def test_chart_pod_selectors_name_the_release_the_chart_is_installed_as(monitored):
    """The NetworkPolicies select the charts' pods by the charts' own labels, which carry the
    release name (`app.kubernetes.io/instance`): that name is the one each Chart is given."""
    stack = monitored
    releases = {
        chart: stack.one(CHART, f"monitoring-{chart}").inputs["name"]
        for chart in ("prometheus", "grafana")
    }
    policies = [o for o in stack.kubernetes_objects() if o["kind"] == "NetworkPolicy"]
    selectors = [p["spec"]["podSelector"]["matchLabels"] for p in policies] + [
        peer["podSelector"]["matchLabels"]
        for p in policies
        for rule in p["spec"].get("ingress", [])
        for peer in rule.get("from", [])
        if "podSelector" in peer
    ]
    # kube-state-metrics is a subchart: its pods carry the prometheus release's name.
    by_chart = {"prometheus": "prometheus", "grafana": "grafana"}
    by_chart["kube-state-metrics"] = "prometheus"
    seen = set()
    for selector in selectors:
        name = selector.get("app.kubernetes.io/name")
        if name in by_chart and "app.kubernetes.io/instance" in selector:
            assert selector["app.kubernetes.io/instance"] == releases[by_chart[name]], selector
            seen.add(name)
    assert {"prometheus", "grafana"} <= seen
