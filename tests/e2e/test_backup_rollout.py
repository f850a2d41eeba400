"""Backups on a real control plane: a stack deployed before backups gains them, and an image change
rolls out a pod whose last init container is the snapshot step for the new image.

With the real CLI and Kubernetes provider (v4.25.0, D7) against kube-apiserver, the StatefulSet
and PV controllers and kube-scheduler (kwok simulates the nodes), this proves:
  * the API server takes the pod template (init container, sidecar, a second claim template);
  * adding the backup claim template replaces the `open-webui` StatefulSet (the preview says so),
    delete-first, and the chats' claim `data-open-webui-0` is the same object afterwards (its
    UID), while the controller makes and binds `backups-open-webui-0`;
  * after a `webui.image` change, `up` returns with the new pod Ready at the StatefulSet's update
    revision, and that pod runs `seed-static`, then `backup-before-start` with the new image;
  * `pulumi destroy` keeps both claims.
What it cannot prove: kwok runs no containers, so neither that Kubernetes really starts
`open-webui` only after the init container exited 0 (the init-container contract of Kubernetes,
which the Docker engine tier mirrors with the real script: tests/e2e/test_docker_engine.py) nor
the failure path (a pod held in Init:CrashLoopBackOff with the script's message; its text is
tested in tests/test_backup_payload.py). The v4.25 StatefulSet await does not check
observedGeneration (fixed in 4.26): the revision check below is what shows that `up` waited.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import backups as backups_script  # scripts/ (on sys.path: conftest.py imports e2e_support)
import pytest
from test_engine import claim_uids, pods, ready, stack_settings

from e2e_support import (
    TEST_ADMIN_PASSWORD,
    TEST_SECRET_KEY,
    claim_volumes,
    create_stack,
    project_copy,
)
from settings import parse_settings

HELPER = "open-webui-restore"

pytestmark = pytest.mark.e2e

NAMESPACE = "wbackup-default"
STATEFULSET_URN = "kubernetes:apps/v1:StatefulSet::open-webui"
# How provider v4.25 (this tier) previews a claim-template change: its dry run of the
# replacement is a server-side apply onto the old object, which the API server refuses
# (pulumi/pulumi-kubernetes#4328, fixed in 4.29 by creating with a client-side create; users get
# 4.32.0, whose preview shows the replacement). `up --skip-preview` replaces it on both.
PREVIEW_4_25 = "updates to statefulset spec for fields other than"


def webui_pod(cluster) -> dict:
    (pod,) = pods(cluster, NAMESPACE, "open-webui")
    return pod


def replaced(preview: dict) -> set[str]:
    """The URNs the preview replaces (any of the replacement step kinds)."""
    kinds = {"replace", "create-replacement", "delete-replaced"}
    return {step["urn"] for step in preview.get("steps", []) if step.get("op") in kinds}


def test_an_existing_stack_gains_backups_and_an_image_change_rolls_out_the_snapshot_step(
    cluster, engine_env, e2e_tmp, monkeypatch
):
    cluster.apply(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
            *claim_volumes("icc", NAMESPACE),
        ]
    )
    settings = {
        **stack_settings("icc", cluster),
        "namespace": NAMESPACE,
        "webui": {"backup": {"enabled": False}},  # as a stack from before backups
    }
    workdir = project_copy(e2e_tmp / "project-backup", Path(engine_env["E2E_STATE_DIR"]))
    stack = create_stack("e2e-backup", workdir, engine_env, cluster.bin_dir, settings)
    stack.pulumi("up", "--yes", "--skip-preview")
    before = claim_uids(cluster, NAMESPACE)
    assert "data-open-webui-0" in before and "backups-open-webui-0" not in before

    stack.config("webui.backup.enabled", "true", path=True)
    shown = stack.pulumi("preview", "--json", check=False)
    preview = json.loads(shown.stdout)
    # Either way the engine plans a replacement of the StatefulSet and of nothing else.
    urns = replaced(preview)
    assert [urn for urn in urns if urn.endswith(STATEFULSET_URN)], preview.get("steps")
    assert not [urn for urn in urns if "PersistentVolumeClaim" in urn or "Volume" in urn]
    if shown.returncode != 0:  # v4.25 only, see PREVIEW_4_25
        assert PREVIEW_4_25 in shown.stdout, shown.stdout[-3000:]
        print("\n[backup] preview failed as v4.25 does (#4328); up --skip-preview replaces")
    stack.pulumi("up", "--yes", "--skip-preview")
    after = claim_uids(cluster, NAMESPACE)
    assert after["data-open-webui-0"] == before["data-open-webui-0"]  # the same chats
    claim = cluster.get("pvc", NAMESPACE, "backups-open-webui-0")
    assert claim["status"]["phase"] == "Bound"
    assert claim["spec"]["storageClassName"] == "rook-ceph-block"
    pod = webui_pod(cluster)
    assert ready(pod)
    assert [c["name"] for c in pod["spec"]["initContainers"]] == [
        "seed-static",
        "adopt-data",
        "backup-before-start",
    ]
    assert [c["name"] for c in pod["spec"]["containers"]] == ["open-webui", "backup"]
    assert cluster.get("configmap", NAMESPACE, "open-webui-scripts")["data"]

    old_image = pod["spec"]["containers"][0]["image"]
    new_image = f"{old_image}-next"  # kwok pulls nothing: any pinned reference will do
    stack.config("webui.image", new_image, path=True)
    stack.pulumi("up", "--yes", "--skip-preview")
    statefulset = cluster.get("statefulset", NAMESPACE, "open-webui")
    status = statefulset["status"]
    pod = webui_pod(cluster)
    assert ready(pod), pod["status"]
    # `up` returned with the new revision's pod Ready, not the old one's.
    assert pod["metadata"]["labels"]["controller-revision-hash"] == status["updateRevision"]
    step = pod["spec"]["initContainers"][-1]
    assert step["name"] == "backup-before-start" and step["image"] == new_image
    env = {e["name"]: e.get("value") for e in step["env"]}
    assert env["ICC_WEBUI_IMAGE"] == new_image
    assert step["command"] == ["python3", "/opt/icc-ollama/webui-backup.py", "prepare"]

    check_restore_steps(cluster, settings, after, monkeypatch)

    stack.pulumi("destroy", "--yes", "--skip-preview")
    kept = claim_uids(cluster, NAMESPACE)
    assert kept["data-open-webui-0"] == before["data-open-webui-0"]
    assert kept["backups-open-webui-0"] == after["backups-open-webui-0"]


SNAPSHOT = "webui-20261202T023000Z-scheduled"


def check_restore_steps(cluster, settings: dict, claims: dict, monkeypatch) -> None:
    """scripts/backups.py's Kubernetes steps with the real kubectl against the real API server:
    Open WebUI scaled to 0 and gone, the one-off pod from the deployed template accepted and
    scheduled with both claims, Open WebUI scaled back and its rollout waited for. kwok runs no
    containers, so two things are stood in: the listing (`kubectl exec` into the sidecar) and the
    one-off pod's end (marked Succeeded once it is scheduled; the restore itself is the script's,
    run for real on the Docker engine tier and in tests/test_backup_payload.py)."""
    script = backups_script
    monkeypatch.setenv("PATH", f"{cluster.bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(script, "in_backup_container", lambda *args: f"{SNAPSHOT}  ...\n")
    seen: dict = {}

    def finish_helper() -> None:
        def scheduled():
            found = cluster.kubectl(
                "get", "pod", HELPER, "-n", NAMESPACE, "-o", "json", "--ignore-not-found"
            ).stdout
            pod = json.loads(found) if found.strip() else {}
            return pod if pod.get("status", {}).get("phase") == "Running" else None

        seen["pod"] = cluster.wait_for("the one-off pod scheduled", scheduled, timeout=300)
        seen["webui pods then"] = pods(cluster, NAMESPACE, "open-webui")
        cluster.kubectl(
            "patch",
            "pod",
            HELPER,
            "-n",
            NAMESPACE,
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": {"phase": "Succeeded"}}),
        )

    helper = threading.Thread(target=finish_helper)
    helper.start()
    try:
        secrets = {"webuiSecretKey": TEST_SECRET_KEY, "webuiAdminPassword": TEST_ADMIN_PASSWORD}
        parsed = parse_settings({**settings, **secrets}, frozenset(secrets))
        script.kubernetes(parsed, "restore", SNAPSHOT)
    finally:
        helper.join(timeout=600)
    pod = seen["pod"]
    assert seen["webui pods then"] == []  # Open WebUI was stopped while it ran
    claimed = {
        v["persistentVolumeClaim"]["claimName"]
        for v in pod["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claimed == {"data-open-webui-0", "backups-open-webui-0"}
    assert pod["spec"]["containers"][0]["command"][-2:] == ["restore", SNAPSHOT]
    assert ready(webui_pod(cluster))  # scaled back, rollout waited for
    assert claim_uids(cluster, NAMESPACE)["data-open-webui-0"] == claims["data-open-webui-0"]
    assert (
        cluster.kubectl(
            "get", "pod", HELPER, "-n", NAMESPACE, "--ignore-not-found", "-o", "name"
        ).stdout.strip()
        == ""
    )
