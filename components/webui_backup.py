"""Open WebUI's backups, as containers: the same script, image and environment on every target.

payloads/webui-backup.py takes the snapshots with SQLite's online backup API. It runs with the
Open WebUI image itself: that image is pinned and already on the node or host (nothing else to
pull or keep up to date), it has python3 with the sqlite3 module, runs as any uid with group 0
like Open WebUI, and writes snapshots with the same SQLite the server uses.

* Kubernetes (components/webui.py): the data claim is ReadWriteOnce (rook-ceph-block on the
  ICC), so whatever reads webui.db has to be in Open WebUI's own pod: an init container
  `backup-before-start` (before every start: a snapshot when the image changed) and a sidecar
  `backup` (the schedule). A CronJob would need the claim on the node where Open WebUI runs
  (a Multi-Attach error elsewhere); SQLite's locking also needs one kernel for both.
* Docker (components/docker_backup.py): the same `prepare` step first in Open WebUI's start
  command, and the container `open-webui-backup` for the schedule.
Pulumi runs neither a restore nor a listing: scripts/backups.py does, with these names.
"""

from __future__ import annotations

import hashlib
import shlex

from components import kube
from components.webui_env import DATA_DIR
from settings.backup import PAYLOADS, SCHEDULE_SCRIPT, SCRIPT
from settings.sidecars import BACKUP_RESOURCES
from settings.webui import WebUi

# The script and the two modules it imports, side by side in the container.
SCRIPTS = (SCRIPT, SCHEDULE_SCRIPT, PAYLOADS / "sqlite_copy.py")
SCRIPT_DIR = "/opt/icc-ollama"
SCRIPT_PATH = f"{SCRIPT_DIR}/{SCRIPT.name}"
BACKUP_DIR = "/backups"
INIT = "backup-before-start"
SIDECAR = "backup"
CLAIM = "backups"  # the claim template's name: claim backups-open-webui-0
# Written by the schedule loop once it can write the backup store (Docker's health check).
READY_FILE = "/tmp/webui-backup-ready"


def script_hash() -> str:
    return hashlib.sha256(b"".join(path.read_bytes() for path in SCRIPTS)).hexdigest()[:16]


def script_files() -> dict[str, str]:
    """The ConfigMap's data (Kubernetes; Docker uploads the same files)."""
    return {path.name: path.read_text() for path in SCRIPTS}


def backup_env(webui: WebUi) -> dict[str, str]:
    backup = webui.backup
    return {
        "ICC_BACKUP_DIR": BACKUP_DIR,
        "ICC_DATA_DIR": DATA_DIR,
        # "The image changed" means this reference changed (a digest pin counts as a new image).
        "ICC_WEBUI_IMAGE": webui.image,
        "ICC_BACKUP_SCHEDULE": backup.schedule,
        "ICC_BACKUP_RETENTION": str(backup.retention),
        "ICC_BACKUP_READY_FILE": READY_FILE,
    }


def command(*args: str) -> list[str]:
    return ["python3", SCRIPT_PATH, *args]


def prepare_shell(webui: WebUi) -> str:
    """`prepare` as a shell step with its variables on its own line: Open WebUI's environment
    stays as it is (tests/test_upstream_contract.py checks that it reads every variable)."""
    env = " ".join(f"{key}={shlex.quote(value)}" for key, value in backup_env(webui).items())
    return f"{env} {shlex.join(command('prepare'))}"


def next_steps(webui: WebUi, stack: str) -> dict[str, str]:
    """The `backups` line of the `nextSteps` output (scripts/backups.py, every target)."""
    if not webui.backup.enabled:
        return {}
    script = f".venv/bin/python scripts/backups.py {stack}"
    return {"backups": f"{script} list  # then: {script} restore <name>"}


# --- Kubernetes --------------------------------------------------------------------------------


def mounts() -> list[dict]:
    return [
        {"name": "data", "mountPath": DATA_DIR},
        {"name": CLAIM, "mountPath": BACKUP_DIR},
        {"name": "backup-script", "mountPath": SCRIPT_DIR, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]


def _container(name: str, mode: str, webui: WebUi) -> dict:
    return {
        "name": name,
        "image": webui.image,
        "imagePullPolicy": kube.PULL_POLICY,
        "command": command(mode),
        "env": [{"name": key, "value": value} for key, value in backup_env(webui).items()],
        "resources": BACKUP_RESOURCES,
        "volumeMounts": mounts(),
        "securityContext": kube.container_security(),
        # `kubectl describe pod` shows why a snapshot failed (the script also writes it there).
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def init_container(webui: WebUi) -> dict:
    """Runs before Open WebUI at every start; Kubernetes starts the pod's containers only once
    it succeeded, so a new image never runs its migrations on data without a snapshot. When the
    snapshot fails the pod stays in Init:Error / Init:CrashLoopBackOff with the reason."""
    return _container(INIT, "prepare", webui)


def sidecar(webui: WebUi) -> dict:
    """The schedule. A failed snapshot is logged and tried again at the next scheduled time; the
    loop exits (and restarts, counted in RESTARTS) only when its settings are wrong or the backup
    claim cannot be written.

    Ready once the loop runs and could write the backup claim (its ready file): a pod whose
    backups cannot be written is not rolled out as Ready. The file lives in the pod's /tmp
    emptyDir, so a failed snapshot or a restart of this container never takes Open WebUI out of
    its Service afterwards. Alive while the loop turns (it marks the file each minute)."""
    container = _container(SIDECAR, "schedule", webui)
    # `test -e` answers at once: Kubernetes' default timeout of 1 s, stated.
    ready = kube.exec_probe(["test", "-e", READY_FILE], period=10, failures=3, timeout=1)
    container["readinessProbe"] = ready
    container["livenessProbe"] = kube.exec_probe(command("alive"), period=60, failures=3)
    return container


def volume(config_map: str) -> dict:
    return {"name": "backup-script", "configMap": {"name": config_map, "defaultMode": 0o444}}


def claim_template(webui: WebUi, app: str) -> dict:
    return kube.claim_template(CLAIM, webui.backup.storage, "backup", app)
