"""Pod Security Standards "restricted", resources and identities for every rendered pod template.

An image that cannot meet a rule is listed in EXCEPTIONS with its reason; any other container
that breaks a rule fails here, and so does an exception that is no longer needed.
"""

import pytest

# container name -> rules it may break, and why (the reason is also a comment in its component).
EXCEPTIONS: dict[str, set[str]] = {}
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
FLOATING = (":latest", ":main", ":dev", ":nightly")


def pod_templates(run):
    for obj in run.kubernetes_objects():
        if obj["kind"] in POD_KINDS:
            yield obj["metadata"]["name"], obj["spec"]["template"]["spec"]


def broken_rules(pod: dict, container: dict) -> set[str]:
    pod_ctx, ctx = pod.get("securityContext", {}), container.get("securityContext", {})
    broken = set()
    if not (ctx.get("runAsNonRoot") or pod_ctx.get("runAsNonRoot")):
        broken.add("runAsNonRoot")
    if ctx.get("allowPrivilegeEscalation") is not False:
        broken.add("allowPrivilegeEscalation")
    if "ALL" not in ctx.get("capabilities", {}).get("drop", []):
        broken.add("capabilities")
    seccomp = ctx.get("seccompProfile") or pod_ctx.get("seccompProfile") or {}
    if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
        broken.add("seccompProfile")
    if ctx.get("readOnlyRootFilesystem") is not True:
        broken.add("readOnlyRootFilesystem")
    return broken


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_containers_meet_restricted_or_are_documented_exceptions(stack, request):
    run = request.getfixturevalue(stack)
    seen = set()
    for workload, pod in pod_templates(run):
        for container in pod["containers"] + pod.get("initContainers", []):
            seen.add(container["name"])
            allowed = EXCEPTIONS.get(container["name"], set())
            assert broken_rules(pod, container) == allowed, f"{workload}/{container['name']}"
    assert seen >= {"ollama", "model-loader", "open-webui", "seed-static"}


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_every_container_has_requests_and_limits(stack, request):
    run = request.getfixturevalue(stack)
    for workload, pod in pod_templates(run):
        for container in pod["containers"] + pod.get("initContainers", []):
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(kind, {})), (
                    f"{workload}/{container['name']} lacks {kind}"
                )


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_every_workload_has_its_own_identity_without_a_token(stack, request):
    run = request.getfixturevalue(stack)
    accounts = {
        o["metadata"]["name"]: o for o in run.kubernetes_objects() if o["kind"] == "ServiceAccount"
    }
    used = []
    for workload, pod in pod_templates(run):
        assert pod["automountServiceAccountToken"] is False, workload
        assert pod["serviceAccountName"] in accounts, workload
        assert accounts[pod["serviceAccountName"]]["automountServiceAccountToken"] is False
        used.append(pod["serviceAccountName"])
    assert len(used) == len(set(used)), "workloads share a ServiceAccount"


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_images_are_pinned(stack, request):
    run = request.getfixturevalue(stack)
    for _workload, pod in pod_templates(run):
        for container in pod["containers"] + pod.get("initContainers", []):
            image = container["image"]
            assert "@sha256:" in image or (
                ":" in image.rsplit("/", 1)[-1] and not image.endswith(FLOATING)
            ), image


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_open_webui_runs_as_a_high_uid_in_group_0_on_a_read_only_root(stack, request):
    # Open WebUI (0.11.0 and later, 0.12.4 pinned) runs as any uid in group 0; its writable
    # directories are volumes.
    pod = dict(pod_templates(request.getfixturevalue(stack)))["open-webui"]
    assert {
        k: pod["securityContext"].get(k)
        for k in ("runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup")
    } == {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 0, "fsGroup": 10001}
    for container in pod["containers"] + pod.get("initContainers", []):
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, container["name"]


def run_as(pod: dict, container: dict) -> int | None:
    return container.get("securityContext", {}).get(
        "runAsUser", pod.get("securityContext", {}).get("runAsUser")
    )


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_containers_run_as_high_uids_and_only_adopt_data_as_the_old_one(stack, request):
    """A uid >= 10000 collides with no user of the node. The one exception hands the files the
    old uid 1000 wrote to the pod's fsGroup, and runs before the workload."""
    for workload, pod in pod_templates(request.getfixturevalue(stack)):
        for container in pod["containers"]:
            assert run_as(pod, container) >= 10000, f"{workload}/{container['name']}"
        for container in pod.get("initContainers", []):
            if container["name"] == "adopt-data":
                assert run_as(pod, container) == 1000
                script = container["command"][2]
                assert (
                    "-user 1000" in script
                    and f"chgrp {pod['securityContext']['fsGroup']}" in script
                )
                assert container["volumeMounts"][0]["name"] in {"models", "data"}
            else:
                assert run_as(pod, container) >= 10000, f"{workload}/{container['name']}"


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_every_container_has_readiness_and_liveness_and_a_pull_policy(stack, request):
    for workload, pod in pod_templates(request.getfixturevalue(stack)):
        for container in pod["containers"]:
            where = f"{workload}/{container['name']}"
            assert "readinessProbe" in container and "livenessProbe" in container, where
            assert container["imagePullPolicy"] in ("IfNotPresent", "Always"), where


def test_the_rule_check_catches_a_privileged_container():
    pod = {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}}
    container = {"securityContext": {"allowPrivilegeEscalation": True, "privileged": True}}
    assert broken_rules(pod, container) == {
        "allowPrivilegeEscalation",
        "capabilities",
        "readOnlyRootFilesystem",
    }
