"""The Grafana dashboards shipped in dashboards/: well-formed, wired to the provisioned
datasource, and querying only metrics that something in this set-up actually exposes."""

import json
import re

import pytest
from test_exporter import exporter_module

from components import grafana_values

BOARDS = sorted(grafana_values.DASHBOARDS.glob("*.json"))
# Metrics from outside this repo, by source (names as those exporters publish them).
EXTERNAL = {
    "up": "Prometheus itself",
    "container_cpu_usage_seconds_total": "cAdvisor (kubelet)",
    "container_memory_working_set_bytes": "cAdvisor (kubelet)",
    "kube_pod_container_resource_requests": "kube-state-metrics",
    "kube_pod_container_resource_limits": "kube-state-metrics",
    "kube_statefulset_status_replicas_ready": "kube-state-metrics",
    "kube_statefulset_replicas": "kube-state-metrics",
    "DCGM_FI_DEV_GPU_UTIL": "NVIDIA DCGM exporter",
    "DCGM_FI_DEV_FB_USED": "NVIDIA DCGM exporter",
}
# Labels each source puts on its series (the exporter's own plus the scrape's namespace label).
EXPORTER_LABELS = {"replica", "model", "namespace", "job", "instance"}
PROMQL_WORDS = {
    "sum",
    "avg",
    "max",
    "min",
    "count",
    "by",
    "without",
    "rate",
    "irate",
    "increase",
    "time",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "offset",
    "bool",
    "topk",
    "bottomk",
    "histogram_quantile",
    "changes",
}


def load(path):
    return json.loads(path.read_text())


def queries(board):
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield panel, target["expr"]


def metric_names(expr: str) -> set[str]:
    """Identifiers in a PromQL expression that are not functions, keywords or label names."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "{}", without_strings)
    without_grouping = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", without_labels)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_grouping)
    names = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", without_ranges))
    return {n for n in names if n not in PROMQL_WORDS}


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(metric, label names) for every `metric{...}` in the expression."""
    return [
        (name, set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*=~?", body)))
        for name, body in re.findall(r"([A-Za-z_:][A-Za-z0-9_:]*)\{([^}]*)\}", expr)
    ]


def test_there_is_a_dashboard():
    assert [p.name for p in BOARDS] == ["ollama.json"]


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.name)
def test_dashboard_is_well_formed(path):
    board = load(path)
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
    assert board["uid"] and board["title"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert {"h", "w", "x", "y"} <= set(grid) and all(isinstance(grid[k], int) for k in grid)
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["type"] in {"stat", "timeseries", "text", "table", "gauge", "bargauge"}
        if panel["type"] != "text":
            ref_ids = [t["refId"] for t in panel["targets"]]
            assert ref_ids and len(ref_ids) == len(set(ref_ids)), panel["title"]
            assert all(t["expr"].strip() for t in panel["targets"]), panel["title"]


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.name)
def test_every_datasource_reference_resolves(path):
    board = load(path)
    variables = {v["name"] for v in board.get("templating", {}).get("list", [])}
    for panel in board["panels"]:
        for ref in [panel.get("datasource")] + [
            t.get("datasource") for t in panel.get("targets", [])
        ]:
            if ref is None:
                assert panel["type"] == "text", panel["title"]
                continue
            uid = ref["uid"]
            if uid.startswith("${"):
                assert uid[2:-1] in variables, panel["title"]
            else:
                assert (ref["type"], uid) == ("prometheus", grafana_values.DATASOURCE_UID), panel[
                    "title"
                ]


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.name)
def test_queries_use_only_metrics_that_exist_here(path):
    board = load(path)
    exported = set(exporter_module.METRICS)
    used = set()
    for panel, expr in queries(board):
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), expr
        assert "$namespace" in expr, f"{panel['title']}: not filtered to this namespace"
        for name in metric_names(expr):
            assert name in exported or name in EXTERNAL, f"{panel['title']}: unknown metric {name}"
            used.add(name)
        for name, labels in selectors(expr):
            if name in exported:
                assert labels <= EXPORTER_LABELS, f"{panel['title']}: {name} has no {labels}"
    assert {
        "ollama_up",
        "ollama_models_loaded",
        "ollama_loaded_model_vram_bytes",
        "DCGM_FI_DEV_GPU_UTIL",
        "DCGM_FI_DEV_FB_USED",
        "container_cpu_usage_seconds_total",
    } <= used


def test_cpu_panel_is_usage_rate_over_requests_per_ollama_pod():
    board = load(grafana_values.DASHBOARDS / "ollama.json")
    (expr,) = [e for _, e in queries(board) if "container_cpu_usage_seconds_total" in e]
    usage, requests = expr.split(" / ")
    assert usage.startswith("sum by (pod) (rate(container_cpu_usage_seconds_total{")
    assert requests.startswith("sum by (pod) (kube_pod_container_resource_requests{")
    for part in (usage, requests):
        assert 'namespace="$namespace"' in part and 'container="ollama"' in part
        assert 'pod=~"ollama-[0-9]+"' in part
    assert 'resource="cpu"' in requests


def test_namespace_is_a_constant_the_component_fills_in():
    board = load(grafana_values.DASHBOARDS / "ollama.json")
    (variable,) = board["templating"]["list"]
    assert (variable["name"], variable["type"]) == ("namespace", "constant")
    rendered = json.loads(grafana_values.dashboards("wxyz1-default")["ollama.json"])
    assert rendered["templating"]["list"][0]["query"] == "wxyz1-default"
    assert rendered["panels"] == board["panels"]


def test_the_metric_scan_sees_through_promql():
    expr = (
        'sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="$namespace", '
        'pod=~"x"}[5m])) / on (pod) kube_pod_container_resource_requests{resource="cpu"}'
    )
    assert metric_names(expr) == {
        "container_cpu_usage_seconds_total",
        "kube_pod_container_resource_requests",
    }
    assert selectors('ollama_up{namespace="a", pod=~"b"}') == [("ollama_up", {"namespace", "pod"})]
