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


# The provider's await on a Service (pulumi-kubernetes 4.32.0, and the v4.25.0 of the e2e tier)
# restarts a 10 s "settle" timer on every change of the Service's Endpoints and returns only once
# it ran out. Each Service here selects the pods of one StatefulSet or Deployment of the same
# component, whose own await already waits for every replica to be Ready (an Ollama replica only
# once its models are on disk): the Service await adds nothing but those 10 s to each `pulumi up`
# that creates or changes one. What it did check, that the selector finds the pods, is checked
# over the rendered objects (tests/test_services.py) and live after a real `up` (tests/e2e: ready
# endpoints per Service). In 4.32.0 the annotation skips only the wait after a create or an
# update; a Service's deletion is still awaited.
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


def pod_security(run_as_user: int | None, run_as_group: int | None = None) -> dict:
    """Pod-level context; `None` keeps the image's root user (see the caller's reason). The group
    defaults to the user's; images made for arbitrary uids want group 0 (their files' group)."""
    context: dict[str, Any] = {"seccompProfile": {"type": "RuntimeDefault"}}
    if run_as_user is not None:
        group = run_as_user if run_as_group is None else run_as_group
        context.update(
            {
                "runAsNonRoot": True,
                "runAsUser": run_as_user,
                "runAsGroup": group,
                "fsGroup": group,
                "fsGroupChangePolicy": "OnRootMismatch",
            }
        )
    return context
