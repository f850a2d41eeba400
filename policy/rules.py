"""The ICC rules a reviewer checks by eye, as plain functions over resource property dicts.

Properties use the wire names (camelCase) and the wire form of a secret (a dict with the
signature key), exactly as the Pulumi engine hands them to a policy pack and as the recording
mocks in tests/harness.py see them. A value the engine cannot know during a preview arrives as an
"unknown" sentinel string; rules never guess about it.

Resource rules take one `Resource` and the stack's `Facts` and return violation messages; stack
rules take every resource. policy/__main__.py wraps each in a pulumi_policy policy; the tests call
them directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pod_rules import (
    gpu_tolerates_v100,
    images_pinned,
    no_gpu_on_minikube,
    requests_within_limits,
)
from stack_rules import default_deny, quota_fits, webui_auth
from wire import (
    HELM_TYPES,
    SECRET_ANNOTATION,
    SECRET_NAME,
    Facts,
    Resource,
    containers,
    get,
    is_secret,
    is_unknown,
    items,
    pod_spec,
    reveal,
)

from components.kube_facts import CLUSTER_SCOPED

# --------------------------------------------------------------------------- resource rules


def icc_namespace_only(resource: Resource, facts: Facts) -> list[str]:
    if facts.target != "icc" or not resource.type.startswith(
        ("kubernetes:", "pulumi:providers:kubernetes")
    ):
        return []
    wanted = facts.namespace
    if resource.type == "pulumi:providers:kubernetes":
        namespace = get(resource.props, "namespace")
        if namespace is not None and namespace != wanted:
            return [
                f"the Kubernetes provider {resource.name} defaults to namespace {namespace}, "
                f"not the configured {wanted}; objects without a namespace would land there"
            ]
        return []
    if resource.kind in CLUSTER_SCOPED or resource.kind.removesuffix("List") in CLUSTER_SCOPED:
        return [
            f"{resource.label} is cluster-scoped: an ICC user may create objects only inside "
            f"{wanted}; remove it (e.g. monitoring.scope must be namespace on icc)"
        ]
    holder = (
        resource.props if resource.type in HELM_TYPES else reveal(resource.props.get("metadata"))
    )
    raw = holder.get("namespace") if isinstance(holder, Mapping) else None
    if is_unknown(raw):
        return []
    namespace = reveal(raw) or resource.provider_namespace
    if namespace != wanted:
        shown = namespace or "(none: the kubeconfig context's namespace)"
        return [
            f"{resource.label} goes to namespace {shown}, outside the configured {wanted}; "
            f"the ICC allows only your own namespace (`pulumi config set namespace {wanted}`)"
        ]
    return []


def plain_secret_envs(resource: Resource) -> list[str]:
    names = []
    for container in containers(pod_spec(resource)):
        for env in items(container.get("env")):
            name = get(env, "name") or ""
            value = env.get("value") if isinstance(env, Mapping) else None
            if (
                SECRET_NAME.search(name)
                and value not in (None, "")
                and not is_secret(value)
                and not is_unknown(value)
            ):
                names.append(f"env {name} of container {container.get('name', '?')}")
    if resource.type == "docker:index/container:Container":
        envs = resource.props.get("envs")
        if not is_secret(envs):
            for entry in items(envs):
                name, _, value = str(entry).partition("=") if not is_secret(entry) else ("", "", "")
                if SECRET_NAME.search(name) and value:
                    names.append(f"env {name}")
    return names


def no_plain_secrets(resource: Resource, facts: Facts) -> list[str]:
    found = plain_secret_envs(resource)
    annotations = get(resource.props, "metadata", "annotations", default={})
    found += [
        f"annotation {key}"
        for key, value in annotations.items()
        if SECRET_ANNOTATION.search(key) and value and not is_secret(value)
    ]
    if resource.kubernetes and resource.kind == "ConfigMap":
        found += [
            f"ConfigMap key {key}"
            for key in get(resource.props, "data", default={})
            if SECRET_NAME.search(key)
        ]
    if resource.kubernetes and resource.kind == "Secret":
        for block in ("data", "stringData"):
            value = resource.props.get(block)
            if (
                value
                and not is_secret(value)
                and any(not is_secret(v) for v in reveal(value).values())
            ):
                found.append(f"Secret {block} not marked as a Pulumi secret")
    return [
        f"{resource.label}: {what} holds a plain-text value that looks secret; it would be "
        f"stored unencrypted in the state and shown in previews: keep it in a Kubernetes "
        f"Secret (env valueFrom.secretKeyRef) fed from a Pulumi secret "
        f"(`pulumi config set --secret ...`, pulumi.Output.secret)"
        for what in found
    ]


def data_retained(resource: Resource, facts: Facts) -> list[str]:
    if not facts.keep_data_on_destroy:
        return []  # the stack opted out with keepDataOnDestroy=false
    fix = (
        "the data would be lost on `pulumi destroy`; keep keepDataOnDestroy true (or set it to "
        "false on purpose)"
    )
    if (
        resource.kubernetes
        and resource.kind == "StatefulSet"
        and items(get(resource.props, "spec", "volumeClaimTemplates"))
    ):
        # Without a policy Kubernetes retains the claims (whenDeleted defaults to Retain).
        when = get(resource.props, "spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted")
        if when == "Delete":
            return [
                f"{resource.label}: persistentVolumeClaimRetentionPolicy.whenDeleted is "
                f"Delete, so its claims go with it; {fix}"
            ]
        return []
    holds_data = (
        resource.kubernetes and resource.kind == "PersistentVolumeClaim"
    ) or resource.type == "docker:index/volume:Volume"
    if holds_data and resource.retain_on_delete is False:
        return [f"{resource.label}: not retainOnDelete; {fix}"]
    return []


def ingress_tls(resource: Resource, facts: Facts) -> list[str]:
    if not (resource.kubernetes and resource.kind == "Ingress"):
        return []
    tls = items(get(resource.props, "spec", "tls"))
    covered = {h for entry in tls for h in items(get(entry, "hosts"))}
    hosts = [get(rule, "host") for rule in items(get(resource.props, "spec", "rules"))]
    bare = [h or "(any host)" for h in hosts if h not in covered]
    if tls and not bare:
        return []
    what = "has no TLS" if not tls else f"has no TLS for {', '.join(bare)}"
    return [
        f"{resource.label} {what}: passwords and chats would cross the network in clear "
        f"text; set `ingress.tls.enabled` true (with a tls.secretName or tls.clusterIssuer)"
    ]


RESOURCE_RULES: dict[str, Callable[[Resource, Facts], list[str]]] = {
    "gpu-tolerates-v100": gpu_tolerates_v100,
    "no-gpu-on-minikube": no_gpu_on_minikube,
    "icc-namespace-only": icc_namespace_only,
    "images-pinned": images_pinned,
    "no-plain-secrets": no_plain_secrets,
    "data-retained": data_retained,
    "requests-within-limits": requests_within_limits,
    "ingress-tls": ingress_tls,
}


STACK_RULES: dict[str, Callable[[list[Resource], Facts], list[str]]] = {
    "default-deny-network-policy": default_deny,
    "webui-auth-behind-ingress": webui_auth,
    "quota-fits": quota_fits,
}


def check_all(resources: list[Resource], facts: Facts) -> dict[str, list[str]]:
    """Every rule over a whole stack: rule name -> violation messages (empty when clean)."""
    results = {
        name: [m for r in resources for m in rule(r, facts)]
        for name, rule in RESOURCE_RULES.items()
    }
    results.update({name: rule(resources, facts) for name, rule in STACK_RULES.items()})
    return results
