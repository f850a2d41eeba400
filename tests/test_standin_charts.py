"""The stand-in monitoring charts of the offline real-engine tier (scripts/standin_charts.py)
keep in step with the real ones the program pins: same names and versions, and a default for
every values key the program may set (tests/chart_keys.py), so the provider renders them from
the same values. What they render is checked in the e2e tier (tests/e2e/test_engine.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from chart_keys import CHARTS

from settings.monitoring import Grafana, Prometheus

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import standin_charts  # noqa: E402

# Below these the keys are names the program chooses (scrape jobs), not chart defaults.
FREE_FORM = ("scrapeConfigs",)
SUBCHART = "kube-state-metrics"


def chart_file(chart: str, name: str) -> dict:
    return yaml.safe_load(standin_charts.CHARTS[chart][name])


def has_path(values: dict, path: list[str]) -> bool:
    for key in path:
        if not isinstance(values, dict) or key not in values:
            return False
        values = values[key]
    return True


@pytest.mark.parametrize("chart", sorted(CHARTS))
def test_standins_have_the_pinned_names_and_versions(chart):
    meta = chart_file(chart, "Chart.yaml")
    pinned = {"prometheus": Prometheus(), "grafana": Grafana()}[chart]
    assert (meta["name"], meta["version"]) == (pinned.chart, pinned.version)
    assert meta["version"] == CHARTS[chart].version


@pytest.mark.parametrize("chart", sorted(CHARTS))
def test_standins_default_every_key_the_program_may_set(chart):
    keys = CHARTS[chart]
    values = chart_file(chart, "values.yaml")
    sub = chart_file(chart, f"charts/{SUBCHART}/values.yaml") if chart == "prometheus" else {}
    missing = []
    for key in sorted(keys.leaves | keys.subtrees):
        path = key.split("/")
        if path[0] in FREE_FORM:
            path = path[:2] if path[-1] == "enabled" else path[:1]
        if path[0] == SUBCHART and path[1:] != ["enabled"]:
            found = has_path(sub, path[1:])
        else:
            found = has_path(values, path)
        if not found:
            missing.append(key)
    assert missing == [], f"stand-in {chart} has no default for {missing}"


def test_kube_state_metrics_is_a_subchart_behind_its_switch():
    meta = chart_file("prometheus", "Chart.yaml")
    assert meta["dependencies"] == [
        {
            "name": SUBCHART,
            "version": chart_file("prometheus", f"charts/{SUBCHART}/Chart.yaml")["version"],
            "condition": f"{SUBCHART}.enabled",
        }
    ]


def test_write_charts_writes_every_file(tmp_path):
    paths = standin_charts.write_charts(tmp_path)
    for chart, files in standin_charts.CHARTS.items():
        assert paths[chart] == tmp_path / chart
        for name, text in files.items():
            assert (tmp_path / chart / name).read_text() == text
    settings = standin_charts.monitoring_settings(paths)
    assert settings["enabled"] is True
    assert {settings[c]["chart"] for c in CHARTS} == {str(paths[c]) for c in CHARTS}
