"""Small builders shared by the Kubernetes components: objects, labels, probes, claims.

Every Kubernetes object is a `KubeObject` (below), not a class of `pulumi_kubernetes`: the Docker
target shares the labels, ports and environment builders and must not load the Kubernetes SDK at
all (tests/test_startup.py), and the Kubernetes targets need only its Provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi

from components.kube_facts import MANAGED_BY, PART_OF
from settings.base import Storage

if TYPE_CHECKING:
    import pulumi_kubernetes as k8s


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


class KubeObject(pulumi.CustomResource):
    """One Kubernetes object from a plain manifest, registered under the provider's own type
    (`kubernetes:apps/v1:StatefulSet`), as the classes of `pulumi_kubernetes` register it: the
    state, previews and the policy pack see the same resource, and a stack made with those
    classes sees no change.

    Why not those classes: the manifests here are camelCase dicts already, so all they would add
    is Python-name translation, and that costs start time. Importing one API group loads every
    class of it (core/v1 alone ~0.3 s on the bench machine, more than the rest of the program), and
    each object's inputs are walked along their type hints. `make bench` shows the difference in
    "program evaluation"; every preview and `up` pays it.
    """

    metadata: pulumi.Output[Any]

    def __init__(
        self,
        logical: str,
        api_version: str,
        kind: str,
        opts: pulumi.ResourceOptions,
        **fields: Any,
    ):
        group_version = api_version if "/" in api_version else f"core/{api_version}"
        if kind == "Secret":
            # As pulumi_kubernetes' Secret: all its data is secret (also a key without a secret
            # value in it), and so is what the provider reads back.
            for key in ("data", "stringData"):
                if key in fields:
                    fields[key] = pulumi.Output.secret(fields[key])
            secret = pulumi.ResourceOptions(additional_secret_outputs=["data", "stringData"])
            opts = pulumi.ResourceOptions.merge(opts, secret)
        super().__init__(
            f"kubernetes:{group_version}:{kind}",
            logical,
            {"apiVersion": api_version, "kind": kind, **fields},
            opts,
        )


def service_account(logical: str, metadata: dict, opts: pulumi.ResourceOptions) -> KubeObject:
    """One identity per workload, without an API token: nothing here talks to the API server."""
    return KubeObject(
        logical, "v1", "ServiceAccount", opts, metadata=metadata, automountServiceAccountToken=False
    )


def config_map(
    logical: str, metadata: dict, data: dict[str, str], opts: pulumi.ResourceOptions
) -> KubeObject:
    return KubeObject(logical, "v1", "ConfigMap", opts, metadata=metadata, data=data)


def secret(
    logical: str, metadata: dict, string_data: dict, opts: pulumi.ResourceOptions
) -> KubeObject:
    return KubeObject(
        logical, "v1", "Secret", opts, metadata=metadata, type="Opaque", stringData=string_data
    )


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


def service(logical: str, metadata: dict, spec: dict, opts: pulumi.ResourceOptions) -> KubeObject:
    """A Service in front of one workload's pods, without the provider's Service await."""
    annotations = {**metadata.get("annotations", {}), **SKIP_AWAIT}
    return KubeObject(
        logical, "v1", "Service", opts, metadata={**metadata, "annotations": annotations}, spec=spec
    )


def namespace_options(adopting_provider: k8s.Provider) -> pulumi.ResourceOptions:
    """A namespace we create is never deleted by Pulumi: that would delete the data claims in it.
    The adopting provider lets the next `pulumi up` take it over instead of failing."""
    return pulumi.ResourceOptions(provider=adopting_provider, retain_on_delete=True)


def rollout_timeouts(minutes: int) -> pulumi.CustomTimeouts:
    return pulumi.CustomTimeouts(create=f"{minutes}m", update=f"{minutes}m")


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
