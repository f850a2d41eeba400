"""Small builders shared by the Kubernetes components: labels, probes, claims, security contexts.

They make the camelCase parts of manifests that the components pass to the `pulumi_kubernetes`
classes. This module imports no provider SDK: the Docker target shares its labels and must not
load the Kubernetes SDK (tests/test_startup.py).
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.kube_facts import MANAGED_BY, PART_OF
from settings.base import Storage


def labels(app: str, component: str) -> dict[str, str]:
    """Selector-safe labels: only stable values, so a Deployment selector never has to change."""
    return {
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
    }


def with_managed_by(selector: dict[str, str]) -> dict[str, str]:
    return {**selector, "app.kubernetes.io/managed-by": MANAGED_BY}


def http_probe(path: str, port: int, period: int, failures: int, timeout: int = 5) -> dict:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def exec_probe(command: list[str], period: int, failures: int, timeout: int = 10) -> dict:
    return {
        "exec": {"command": command},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def claim_template(name: str, storage: Storage, component: str, app: str) -> dict:
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage.size}},
    }
    if storage.storage_class:
        spec["storageClassName"] = storage.storage_class
    return {"metadata": {"name": name, "labels": labels(app, component)}, "spec": spec}


def claim_retention(keep_data: bool) -> dict:
    """StatefulSet claims are made by the controller, not by Pulumi: this decides their fate."""
    when_deleted = "Retain" if keep_data else "Delete"
    return {"whenDeleted": when_deleted, "whenScaled": "Retain"}


# The provider's await on a Service (pulumi-kubernetes 4.32.0, and 4.25.0 in the e2e tier) restarts
# a 10 s "settle" timer on every change of the Service's endpoints and returns only once it ran
# out. Each Service here selects the pods of one StatefulSet or Deployment of the same component,
# whose own await already waits for every replica to be Ready (an Ollama replica only once its
# models are on disk): the Service await adds nothing but those 10 s to each `pulumi up` that
# creates or changes one. What it did check, that the selector finds the pods, is checked over the
# rendered objects (tests/test_services.py) and live after a real `up` (tests/e2e: each Service
# selects one workload and has its Ready pods as endpoints). The charts' Services get the same
# annotation through their values (components/monitoring_values.py). It skips only the wait on
# create and update; the provider still awaits a Service's deletion.
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}


def skip_await(metadata: dict) -> dict:
    """`metadata` with the annotation that skips the provider's await (see SKIP_AWAIT)."""
    return {**metadata, "annotations": {**metadata.get("annotations", {}), **SKIP_AWAIT}}


def namespace_options(adopting_provider: pulumi.ProviderResource) -> pulumi.ResourceOptions:
    """A namespace we create is never deleted by Pulumi: that would delete the data claims in it.
    The adopting provider lets the next `pulumi up` take it over instead of failing."""
    return pulumi.ResourceOptions(provider=adopting_provider, retain_on_delete=True)


def rollout_timeouts(minutes: int) -> pulumi.CustomTimeouts:
    return pulumi.CustomTimeouts(create=f"{minutes}m", update=f"{minutes}m")


def assigned_cluster_ip(spec: Any) -> str:
    """A Service's cluster IP as the cluster assigned it. A first preview has none yet (the
    provider previews a create with the spec as given), so it says when it comes."""
    return (spec.cluster_ip if spec is not None else None) or "assigned when the Service is created"


def service_dns(name: str, namespace: str) -> str:
    return f"{name}.{namespace}.svc.cluster.local"


def container_security(read_only_root: bool = True) -> dict:
    """Pod Security Standards "restricted" for one container (runAsNonRoot is set per pod)."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": read_only_root,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security(
    run_as_user: int | None, run_as_group: int | None = None, fs_group: int | None = None
) -> dict:
    """Pod-level context; `None` keeps the image's root user (see the caller's reason). The group
    defaults to the user's and the volumes' group (fsGroup) to that group; images made for
    arbitrary uids want group 0 (their files' group), their volumes another."""
    context: dict[str, Any] = {"seccompProfile": {"type": "RuntimeDefault"}}
    if run_as_user is not None:
        group = run_as_user if run_as_group is None else run_as_group
        context.update(
            {
                "runAsNonRoot": True,
                "runAsUser": run_as_user,
                "runAsGroup": group,
                "fsGroup": group if fs_group is None else fs_group,
                "fsGroupChangePolicy": "OnRootMismatch",
            }
        )
    return context


# Until this release the Ollama and Open WebUI pods ran as uid 1000 (group 1000 and 0); the data
# that uid wrote (models, Ollama's key, webui.db) is 0644/0755, so the new uid could not write it.
# Where the kubelet applies fsGroup to a volume (the ICC's rook-ceph-block claims) the new fsGroup
# regroups everything once (OnRootMismatch). Minikube's hostPath claims get no fsGroup, so this
# init container, the one process that still runs as the old uid (it owns those files, and the
# pod's fsGroup is one of its groups), hands them to the new group. It touches only files of the
# old uid and finds none on a new claim. checkov's high-UID check (CKV_K8S_40) reads only the
# regular containers.
LEGACY_UID = 1000
ADOPT_RESOURCES = {
    "requests": {"cpu": "10m", "memory": "16Mi"},
    "limits": {"cpu": "200m", "memory": "64Mi"},
}


def adopt_legacy_data(image: str, volume: str, path: str, group: int) -> dict:
    """An init container that gives files of LEGACY_UID under `path` to `group`, rw."""
    script = (
        f'find "$0" -user {LEGACY_UID} \\( ! -group {group} -o ! -perm -g=rw \\) '
        f"-exec chgrp {group} {{}} + -exec chmod g+rwX {{}} +"
    )
    return {
        "name": "adopt-data",
        "image": image,
        "imagePullPolicy": PULL_POLICY,
        "command": ["/bin/sh", "-c", script, path],
        "resources": ADOPT_RESOURCES,
        "volumeMounts": [{"name": volume, "mountPath": path}],
        "securityContext": {**container_security(), "runAsUser": LEGACY_UID},
    }


# The images are pinned by version tag by default, not by digest (checkov CKV_K8S_43): a digest
# cannot be resolved where the program runs (no registry access at preview), so the user pins one
# in the setting for production (README, "Pinning images for production"). Ollama's and Open
# WebUI's images run to gigabytes: IfNotPresent starts a pod from the node's copy without asking
# the registry, so a restart or a move to a node that has the image never waits for, or fails on,
# Docker Hub or ghcr.io. checkov's CKV_K8S_15 wants Always, which guards a private image cached
# on a shared node; these images are public.
PULL_POLICY = "IfNotPresent"
