"""Sizes of the small containers the program adds by itself (no setting changes them).

They live in the settings layer because the namespace quota check must count them exactly as the
components render them.
"""

LOADER_RESOURCES = {
    "requests": {"cpu": "10m", "memory": "32Mi"},
    "limits": {"cpu": "200m", "memory": "128Mi"},
}
# Open WebUI's backup sidecar and its init container (components/webui_backup.py): python3
# sleeping between snapshots; a snapshot streams pages through SQLite's small page cache.
BACKUP_RESOURCES = {
    "requests": {"cpu": "10m", "memory": "32Mi"},
    "limits": {"cpu": "200m", "memory": "128Mi"},
}
EXPORTER_RESOURCES = {
    "requests": {"cpu": "10m", "memory": "32Mi"},
    "limits": {"cpu": "200m", "memory": "128Mi"},
}
# Prometheus' config reloader and kube-state-metrics, sized through the chart values.
RELOADER_RESOURCES = {
    "requests": {"cpu": "10m", "memory": "32Mi"},
    "limits": {"cpu": "100m", "memory": "64Mi"},
}
KSM_RESOURCES = {
    "requests": {"cpu": "10m", "memory": "64Mi"},
    "limits": {"cpu": "200m", "memory": "256Mi"},
}
