"""The ICC rules a reviewer checks by eye, as plain functions over resource property dicts.

Properties are plain values with the wire names (camelCase), as policy/wire.py describes; a value
unknown during a preview is `wire.UNKNOWN`, and rules never guess about it.

Resource rules take one `Resource` and the stack's `Facts` and return violation messages; stack
rules take every resource. policy/pack.py wraps each in a pulumi_policy policy; the tests call
them directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from facts import Facts
from pod_rules import (
    gpu_tolerates_v100,
    images_pinned,
    no_gpu_on_minikube,
    requests_within_limits,
)
from quota import quota_fits
from stack_rules import default_deny, webui_auth
from wire import (
    HELM_TYPES,
    SECRET_ANNOTATION,
    SECRET_NAME,
    Resource,
    containers,
    get,
    is_unknown,
    items,
    pod_spec,
)

from components.kube_facts import CLUSTER_SCOPED

# Parents whose Secrets the Kubernetes provider marks secret itself: Chart v4, kustomize v2 and
# the yaml/v2 groups register every Secret they render with its data and stringData as secrets,
# without additional_secret_outputs (pulumi-kubernetes provider v4.25.0, checked).
SECRET_MARKING_PARENTS = (
    "kubernetes:helm.sh/v4:Chart",
    "kubernetes:yaml/v2:ConfigGroup",
    "kubernetes:yaml/v2:ConfigFile",
    "kubernetes:kustomize/v2:Directory",
)

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
    holder = resource.props if resource.type in HELM_TYPES else resource.props.get("metadata")
    raw = holder.get("namespace") if isinstance(holder, Mapping) else None
    if is_unknown(raw):
        return []
    namespace = raw or resource.provider_namespace
    if namespace != wanted:
        shown = namespace or "(none: the kubeconfig context's namespace)"
        return [
            f"{resource.label} goes to namespace {shown}, outside the configured {wanted}; "
            f"the ICC allows only your own namespace (`pulumi config set namespace {wanted}`)"
        ]
    return []


def rendered_by_the_provider(resource: Resource) -> bool:
    """Rendered by a Chart v4 or yaml/v2 group: the URN's type chain names that parent."""
    chain = resource.urn.split("::")[2] if resource.urn.count("::") >= 3 else ""
    return any(parent in chain.split("$")[:-1] for parent in SECRET_MARKING_PARENTS)


def plain_secret_envs(resource: Resource) -> list[str]:
    """A literal `value` of a secret-looking env var is in the object for anyone who may read it
    (a Pulumi secret would not change that): it belongs in a Secret, read through secretKeyRef."""
    names = []
    for container in containers(pod_spec(resource)):
        for env in items(container.get("env")):
            name = get(env, "name") or ""
            value = env.get("value") if isinstance(env, Mapping) else None
            if SECRET_NAME.search(name) and value not in (None, "") and not is_unknown(value):
                names.append(f"env {name} of container {container.get('name', '?')}")
    return names


def unmarked_secret_fields(resource: Resource) -> list[str]:
    """Fields holding secrets that the state would not keep secret. Public signal:
    `additional_secret_outputs` names the field (pulumi_kubernetes' Secret does for data and
    stringData; the program does for a Docker container's envs), or the provider marks it."""
    found = []
    docker = resource.type == "docker:index/container:Container"
    if docker and "envs" not in resource.secret_outputs:
        for entry in items(resource.props.get("envs")):
            name, _, value = entry.partition("=") if isinstance(entry, str) else ("", "", "")
            if SECRET_NAME.search(name) and value:
                found.append(f"envs (with {name})")
    if resource.kubernetes and resource.kind == "Secret" and not rendered_by_the_provider(resource):
        found += [
            block
            for block in ("data", "stringData")
            if resource.props.get(block) and block not in resource.secret_outputs
        ]
    return found


def no_plain_secrets(resource: Resource, facts: Facts) -> list[str]:
    found = plain_secret_envs(resource)
    annotations = get(resource.props, "metadata", "annotations", default={})
    found += [
        f"annotation {key}"
        for key, value in annotations.items()
        if SECRET_ANNOTATION.search(key) and value and not is_unknown(value)
    ]
    if resource.kubernetes and resource.kind == "ConfigMap":
        found += [
            f"ConfigMap key {key}"
            for key in get(resource.props, "data", default={})
            if SECRET_NAME.search(key)
        ]
    plain = [
        f"{resource.label}: {what} holds a plain-text value that looks secret; it would be "
        f"stored unencrypted in the state and shown in previews: keep it in a Kubernetes "
        f"Secret (env valueFrom.secretKeyRef) fed from a Pulumi secret "
        f"(`pulumi config set --secret ...`, pulumi.Output.secret)"
        for what in found
    ]
    return plain + [
        f"{resource.label}: {field} holds secrets but is not marked secret, so the state "
        f"would keep what the provider reports back unencrypted: give the resource "
        f"additional_secret_outputs=[{field.split()[0]!r}] (pulumi_kubernetes' Secret does "
        f"this for data and stringData)"
        for field in unmarked_secret_fields(resource)
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
