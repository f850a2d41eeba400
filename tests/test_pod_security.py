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
def test_open_webui_runs_as_uid_1000_in_group_0_on_a_read_only_root(stack, request):
    # Open WebUI (0.11.0 and later, 0.12.4 pinned) runs as any uid in group 0; its writable
    # directories are volumes.
    pod = dict(pod_templates(request.getfixturevalue(stack)))["open-webui"]
    assert {
        k: pod["securityContext"].get(k) for k in ("runAsNonRoot", "runAsUser", "runAsGroup")
    } == {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 0}
    for container in pod["containers"] + pod.get("initContainers", []):
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, container["name"]


def test_the_rule_check_catches_a_privileged_container():
    pod = {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}}
    container = {"securityContext": {"allowPrivilegeEscalation": True, "privileged": True}}
    assert broken_rules(pod, container) == {
        "allowPrivilegeEscalation",
        "capabilities",
        "readOnlyRootFilesystem",
    }
