"""Grafana's chart values and the dashboards it mounts (no resources here).

Built from the settings by plain functions so tests can read every key; components/monitoring.py
hands them to the chart. The keys are listed in `tests/chart_keys.py` with their source.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from components import kube
from components.monitoring_values import MonitoringArgs, prometheus_url, restricted_pod

DASHBOARDS = Path(__file__).resolve().parents[1] / "dashboards"
GRAFANA_USER = 472  # the grafana image's user
DATASOURCE_UID = "prometheus"
DASHBOARD_PROVIDER = "icc-ollama"


def grafana_values(args: MonitoringArgs) -> dict[str, Any]:
    grafana = args.monitoring.grafana
    provider_dir = f"/var/lib/grafana/dashboards/{DASHBOARD_PROVIDER}"
    return {
        "rbac": {"create": False},  # dashboards come from a mounted ConfigMap: no API access
        "serviceAccount": {"create": True, "automountServiceAccountToken": False},
        "automountServiceAccountToken": False,
        "testFramework": {"enabled": False},
        "podLabels": {"app.kubernetes.io/part-of": kube.PART_OF},
        "enableServiceLinks": False,
        "admin": {
            "existingSecret": args.admin_secret_name,
            "userKey": "admin-user",
            "passwordKey": "admin-password",
        },
        "persistence": {"enabled": False},
        # As the program's own Services (components/kube.py): the Deployment's await covers it.
        "service": {"annotations": dict(kube.SKIP_AWAIT)},
        "resources": grafana.resources.requirements(),
        "securityContext": restricted_pod(GRAFANA_USER),
        "containerSecurityContext": kube.container_security(read_only_root=True),
        "extraEmptyDirMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        "grafana.ini": {
            "analytics": {"check_for_updates": False, "reporting_enabled": False},
            "users": {"allow_sign_up": False},
            # Bundled plugins (the Prometheus data source among them) sit on the
            # read-only root; an update attempt fails and leaves the data source
            # unloaded (grafana/grafana#132528, grafana-community/helm-charts#787).
            "plugins": {"preinstall_auto_update": False},
        },
        "datasources": {
            "datasources.yaml": {
                "apiVersion": 1,
                "datasources": [
                    {
                        "name": "Prometheus",
                        "type": "prometheus",
                        "uid": DATASOURCE_UID,
                        "url": prometheus_url(args),
                        "access": "proxy",
                        "isDefault": True,
                        "editable": False,
                    }
                ],
            }
        },
        "dashboardProviders": {
            "dashboardproviders.yaml": {
                "apiVersion": 1,
                "providers": [
                    {
                        "name": DASHBOARD_PROVIDER,
                        "orgId": 1,
                        "folder": "icc-ollama",
                        "type": "file",
                        "disableDeletion": True,
                        "editable": False,
                        "options": {"path": provider_dir},
                    }
                ],
            }
        },
        "dashboardsConfigMaps": {DASHBOARD_PROVIDER: args.dashboards_name},
    }


def dashboards(namespace: str) -> dict[str, str]:
    """Every dashboard in dashboards/, with its `namespace` constant set to this stack's."""
    result = {}
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for variable in board.get("templating", {}).get("list", []):
            if variable.get("name") == "namespace" and variable.get("type") == "constant":
                variable["query"] = namespace
                variable["current"] = {"text": namespace, "value": namespace}
        result[path.name] = json.dumps(board, indent=1, sort_keys=True)
    return result
