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

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Optional

from settings.quantity import format_amount, parse_quantity

# The wire form of a secret (pulumi/runtime/rpc.py _special_sig_key, _special_secret_sig).
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
# What the engine sends for a value unknown during preview (pulumi_policy/proxy.py).
UNKNOWN_VALUES = frozenset({
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7", "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
    "030794c1-ac77-496b-92df-f27374a8bd58", "e48ece36-62e2-4504-bad9-02848725956a",
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"})

V100_TAINT = "gpu-tesla-v100"
FLOATING_TAGS = frozenset({"latest", "main", "master", "dev", "develop", "edge", "nightly",
                           "stable", "cuda", "rocm"})
SECRET_NAME = re.compile(r"(^|[_.-])(KEY|API_?KEY|PASSWORD|PASSWD|PASS|TOKEN|SECRET|CREDENTIALS?)$",
                         re.IGNORECASE)
SECRET_ANNOTATION = re.compile(r"(password|passwd|token|secret|api[_-]?key|credential)",
                               re.IGNORECASE)
# Kinds the API server keeps outside any namespace (kubectl api-resources --namespaced=false).
CLUSTER_SCOPED = frozenset({
    "Namespace", "Node", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding",
    "CustomResourceDefinition", "PriorityClass", "IngressClass", "RuntimeClass", "CSIDriver",
    "CSINode", "VolumeAttachment", "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "APIService", "FlowSchema", "PriorityLevelConfiguration",
    "CertificateSigningRequest", "ComponentStatus", "PodSecurityPolicy", "VolumeAttributesClass",
    "IPAddress", "ServiceCIDR", "DeviceClass"})
WORKLOAD_KINDS = frozenset({"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
                            "ReplicationController", "Job", "CronJob"})
# Namespaced Kubernetes resources Pulumi models outside a `metadata` block.
HELM_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart",
              "kubernetes:yaml/v2:ConfigGroup", "kubernetes:kustomize/v2:Directory")


@dataclass(frozen=True)
class Facts:
    """What the pack must know about the stack: the validated settings that rules depend on.

    Written by scripts/policy_config.py into the pack's config (`--policy-pack-config`); `known`
    is False when the pack runs without it, and the rules that need a fact then say so."""

    target: Optional[str] = None
    namespace: Optional[str] = None
    keep_data_on_destroy: bool = True
    quota: Mapping[str, Any] = field(default_factory=dict)
    known: bool = False

    @classmethod
    def from_config(cls, config: Optional[Mapping[str, Any]]) -> "Facts":
        if not config or "target" not in config:
            return cls()
        return cls(target=config["target"], namespace=config.get("namespace"),
                   keep_data_on_destroy=bool(config.get("keepDataOnDestroy", True)),
                   quota=config.get("quota") or {}, known=True)

    @property
    def kubernetes(self) -> Optional[bool]:
        return None if self.target is None else self.target in ("icc", "minikube")


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    # The Kubernetes provider's default namespace (where an object without one lands).
    provider_namespace: Optional[str] = None
    # retainOnDelete when the caller knows it (the analyzer protocol does not carry it).
    retain_on_delete: Optional[bool] = None

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]

    @property
    def kubernetes(self) -> bool:
        return self.type.startswith("kubernetes:") and self.type not in HELM_TYPES

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


# --------------------------------------------------------------------------- value helpers


def is_secret(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get(SIG_KEY) == SECRET_SIG


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in UNKNOWN_VALUES


def reveal(value: Any) -> Any:
    """The value inside a secret marker (for structure, never for printing)."""
    while is_secret(value):
        value = value.get("value")
    return value


def get(props: Any, *path: str, default: Any = None) -> Any:
    value = reveal(props)
    for key in path:
        if not isinstance(value, Mapping):
            return default
        value = reveal(value.get(key, default))
    return default if value is None or is_unknown(value) else value


def items(value: Any) -> list:
    value = reveal(value)
    return [reveal(v) for v in value] if isinstance(value, list) else []


# --------------------------------------------------------------------------- pods


def pod_spec(resource: Resource) -> Optional[Mapping[str, Any]]:
    """The pod template of a workload (or a Pod's own spec)."""
    if not resource.kubernetes or resource.kind not in WORKLOAD_KINDS:
        return None
    if resource.kind == "Pod":
        return get(resource.props, "spec")
    if resource.kind == "CronJob":
        return get(resource.props, "spec", "jobTemplate", "spec", "template", "spec")
    return get(resource.props, "spec", "template", "spec")


def pod_labels(resource: Resource) -> Mapping[str, str]:
    if resource.kind == "Pod":
        return get(resource.props, "metadata", "labels", default={})
    if resource.kind == "CronJob":
        return get(resource.props, "spec", "jobTemplate", "spec", "template", "metadata",
                   "labels", default={})
    return get(resource.props, "spec", "template", "metadata", "labels", default={})


def containers(spec: Optional[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    if not spec:
        return []
    return [c for key in ("initContainers", "containers") for c in items(spec.get(key))
            if isinstance(c, Mapping)]


def gpu_amounts(container: Mapping[str, Any]) -> dict[str, Any]:
    """GPU resources (nvidia.com/gpu, amd.com/gpu, ...) a container asks for."""
    found: dict[str, Any] = {}
    for side in ("requests", "limits"):
        for name, amount in get(container, "resources", side, default={}).items():
            if name.endswith("/gpu") and str(reveal(amount)) not in ("0", ""):
                found[name] = amount
    return found


def tolerates_v100(spec: Mapping[str, Any]) -> bool:
    for toleration in items(spec.get("tolerations")):
        key, effect = get(toleration, "key"), get(toleration, "effect") or ""
        operator = get(toleration, "operator") or "Equal"
        if key == V100_TAINT and effect in ("", "NoSchedule") and operator in ("Exists", "Equal"):
            return True
        if key is None and operator == "Exists" and effect in ("", "NoSchedule"):
            return True  # tolerates every taint
    return False


# --------------------------------------------------------------------------- resource rules


def gpu_tolerates_v100(resource: Resource, facts: Facts) -> list[str]:
    spec = pod_spec(resource)
    if not spec:
        return []
    gpu = [c.get("name", "?") for c in containers(spec) if gpu_amounts(c)]
    if not gpu or tolerates_v100(spec):
        return []
    return [f"{resource.label}: container {', '.join(gpu)} requests a GPU but the pod does not "
            f"tolerate the V100 taint {V100_TAINT}:NoSchedule, so it never schedules; add "
            f"{{key: {V100_TAINT}, operator: Exists, effect: NoSchedule}} to "
            f"`ollama.tolerations` (the icc default)"]


def no_gpu_on_minikube(resource: Resource, facts: Facts) -> list[str]:
    if facts.target != "minikube":
        return []
    asked = [f"{c.get('name', '?')} ({', '.join(gpu_amounts(c))})"
             for c in containers(pod_spec(resource)) if gpu_amounts(c)]
    if not asked:
        return []
    return [f"{resource.label}: container {', '.join(asked)} requests a GPU, and the minikube "
            f"target has none, so the pod stays Pending; set `ollama.gpu.enabled` to false"]


def icc_namespace_only(resource: Resource, facts: Facts) -> list[str]:
    if facts.target != "icc" or not resource.type.startswith(
            ("kubernetes:", "pulumi:providers:kubernetes")):
        return []
    wanted = facts.namespace
    if resource.type == "pulumi:providers:kubernetes":
        namespace = get(resource.props, "namespace")
        if namespace is not None and namespace != wanted:
            return [f"the Kubernetes provider {resource.name} defaults to namespace {namespace}, "
                    f"not the configured {wanted}; objects without a namespace would land there"]
        return []
    if resource.kind in CLUSTER_SCOPED or resource.kind.removesuffix("List") in CLUSTER_SCOPED:
        return [f"{resource.label} is cluster-scoped: an ICC user may create objects only inside "
                f"{wanted}; remove it (e.g. monitoring.scope must be namespace on icc)"]
    holder = (resource.props if resource.type in HELM_TYPES
              else reveal(resource.props.get("metadata")))
    raw = holder.get("namespace") if isinstance(holder, Mapping) else None
    if is_unknown(raw):
        return []
    namespace = reveal(raw) or resource.provider_namespace
    if namespace != wanted:
        shown = namespace or "(none: the kubeconfig context's namespace)"
        return [f"{resource.label} goes to namespace {shown}, outside the configured {wanted}; "
                f"the ICC allows only your own namespace (`pulumi config set namespace {wanted}`)"]
    return []


def floating(image: str) -> Optional[str]:
    """Why an image reference floats, or None when it is pinned."""
    if "@sha256:" in image or re.fullmatch(r"sha256:[0-9a-f]{64}", image):
        return None
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return "has no tag (means :latest)"
    if tag.lower() in FLOATING_TAGS or not re.search(r"[0-9]", tag):
        return f"uses the floating tag :{tag}"
    return None


def images_of(resource: Resource) -> list[tuple[str, str]]:
    """(where, image) for every image reference of a workload or a Docker image/container."""
    if resource.type == "docker:index/remoteImage:RemoteImage":
        return [("name", get(resource.props, "name"))] if get(resource.props, "name") else []
    if resource.type == "docker:index/container:Container":
        return [("image", get(resource.props, "image"))] if get(resource.props, "image") else []
    return [(f"container {c.get('name', '?')}", get(c, "image"))
            for c in containers(pod_spec(resource)) if get(c, "image")]


def images_pinned(resource: Resource, facts: Facts) -> list[str]:
    problems = []
    for where, image in images_of(resource):
        reason = floating(image)
        if reason:
            problems.append(f"{resource.label}: {where} image {image} {reason}; a restart may "
                            f"pull another version: pin a version tag or a digest (ollama.image, "
                            f"webui.image)")
    return problems


def plain_secret_envs(resource: Resource) -> list[str]:
    names = []
    for container in containers(pod_spec(resource)):
        for env in items(container.get("env")):
            name = get(env, "name") or ""
            value = env.get("value") if isinstance(env, Mapping) else None
            if SECRET_NAME.search(name) and value not in (None, "") and not is_secret(value) \
                    and not is_unknown(value):
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
    found += [f"annotation {key}" for key, value in annotations.items()
              if SECRET_ANNOTATION.search(key) and value and not is_secret(value)]
    if resource.kubernetes and resource.kind == "ConfigMap":
        found += [f"ConfigMap key {key}" for key in get(resource.props, "data", default={})
                  if SECRET_NAME.search(key)]
    if resource.kubernetes and resource.kind == "Secret":
        for block in ("data", "stringData"):
            value = resource.props.get(block)
            if value and not is_secret(value) and any(
                    not is_secret(v) for v in reveal(value).values()):
                found.append(f"Secret {block} not marked as a Pulumi secret")
    return [f"{resource.label}: {what} holds a plain-text value that looks secret; it would be "
            f"stored unencrypted in the state and shown in previews: keep it in a Kubernetes "
            f"Secret (env valueFrom.secretKeyRef) fed from a Pulumi secret "
            f"(`pulumi config set --secret ...`, pulumi.Output.secret)" for what in found]


def data_retained(resource: Resource, facts: Facts) -> list[str]:
    if not facts.keep_data_on_destroy:
        return []  # the stack opted out with keepDataOnDestroy=false
    fix = ("the data would be lost on `pulumi destroy`; keep keepDataOnDestroy true (or set it to "
           "false on purpose)")
    if resource.kubernetes and resource.kind == "StatefulSet" and items(
            get(resource.props, "spec", "volumeClaimTemplates")):
        # Without a policy Kubernetes retains the claims (whenDeleted defaults to Retain).
        when = get(resource.props, "spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted")
        if when == "Delete":
            return [f"{resource.label}: persistentVolumeClaimRetentionPolicy.whenDeleted is "
                    f"Delete, so its claims go with it; {fix}"]
        return []
    holds_data = (resource.kubernetes and resource.kind == "PersistentVolumeClaim") or \
        resource.type == "docker:index/volume:Volume"
    if holds_data and resource.retain_on_delete is False:
        return [f"{resource.label}: not retainOnDelete; {fix}"]
    return []


def quantity(value: Any) -> Optional[Decimal]:
    try:
        return parse_quantity(reveal(value))
    except (ValueError, TypeError):
        return None


def requests_within_limits(resource: Resource, facts: Facts) -> list[str]:
    problems = []
    for container in containers(pod_spec(resource)):
        requests = get(container, "resources", "requests", default={})
        limits = get(container, "resources", "limits", default={})
        for name in sorted(set(requests) & set(limits)):
            asked, cap = quantity(requests[name]), quantity(limits[name])
            if asked is not None and cap is not None and asked > cap:
                problems.append(
                    f"{resource.label}: container {container.get('name', '?')} requests "
                    f"{requests[name]} {name} but is limited to {limits[name]}; the API server "
                    f"refuses such a pod: raise the limit or lower the request")
    return problems


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
    return [f"{resource.label} {what}: passwords and chats would cross the network in clear "
            f"text; set `ingress.tls.enabled` true (with a tls.secretName or tls.clusterIssuer)"]


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


# --------------------------------------------------------------------------- stack rules


def workloads(resources: Iterable[Resource]) -> list[Resource]:
    return [r for r in resources if pod_spec(r) is not None]


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    if get(selector, "matchExpressions"):
        return False  # not evaluated: only label equality counts as selecting here
    match = get(selector, "matchLabels", default={})
    return all(labels.get(key) == value for key, value in match.items())


def network_policies(resources: Iterable[Resource]) -> list[Resource]:
    return [r for r in resources if r.kubernetes and r.kind == "NetworkPolicy"
            and "Ingress" in items(get(r.props, "spec", "policyTypes", default=["Ingress"]))]


def default_deny(resources: list[Resource], facts: Facts) -> list[str]:
    pods = workloads(resources)
    kubernetes = facts.kubernetes if facts.kubernetes is not None else bool(pods)
    if not kubernetes:
        return []
    policies = network_policies(resources)
    denies = [p for p in policies if not items(get(p.props, "spec", "ingress"))]
    if not denies:
        return ["no default-deny NetworkPolicy (policyTypes [Ingress], no ingress rules): every "
                "pod, Ollama's unauthenticated API included, is open to the whole cluster; keep "
                "`networkPolicies.enabled` true"]
    open_pods = [w.label for w in pods
                 if not any(selects(get(p.props, "spec", "podSelector", default={}), pod_labels(w))
                            for p in policies)]
    if open_pods:
        return [f"{', '.join(open_pods)}: no NetworkPolicy selects these pods, so they accept "
                f"traffic from the whole cluster; label them app.kubernetes.io/part-of: "
                f"icc-ollama (what the default-deny policy selects)"]
    return []


def env_value(container: Mapping[str, Any], name: str) -> Any:
    for env in items(container.get("env")):
        if get(env, "name") == name:
            return env.get("value") if isinstance(env, Mapping) else None
    return None


def webui_auth(resources: list[Resource], facts: Facts) -> list[str]:
    if not any(r.kubernetes and r.kind == "Ingress" for r in resources):
        return []
    problems = []
    for workload in workloads(resources):
        for container in containers(pod_spec(workload)):
            if "open-webui" not in str(get(container, "image") or ""):
                continue
            auth = reveal(env_value(container, "WEBUI_AUTH"))
            if is_unknown(auth):
                continue
            if str(auth).lower() != "true":
                problems.append(f"{workload.label}: Open WebUI is published through an Ingress "
                                f"with WEBUI_AUTH={auth}: anyone on the network could chat and "
                                f"read chats; set `webui.auth` true")
    return problems


QUOTA_LINES = (("gpu", "requests", "gpu"), ("requests.cpu", "requests", "cpu"),
               ("requests.memory", "requests", "memory"), ("limits.cpu", "limits", "cpu"),
               ("limits.memory", "limits", "memory"), ("storage", "requests", "storage"))


def replica_counts(resources: list[Resource]) -> dict[tuple[str, str], int]:
    """The most pods each workload can have: spec.replicas, or its HPA's maxReplicas."""
    counts = {}
    for workload in workloads(resources):
        name = get(workload.props, "metadata", "name") or workload.name
        replicas = get(workload.props, "spec", "replicas", default=1)
        counts[(workload.kind, name)] = 1 if workload.kind == "Pod" else int(replicas)
    for hpa in resources:
        if hpa.kubernetes and hpa.kind == "HorizontalPodAutoscaler":
            ref = get(hpa.props, "spec", "scaleTargetRef", default={})
            key = (ref.get("kind"), ref.get("name"))
            if key in counts and get(hpa.props, "spec", "maxReplicas") is not None:
                counts[key] = max(counts[key], int(get(hpa.props, "spec", "maxReplicas")))
    return counts


def add(totals: dict, key: tuple[str, str], amount: Optional[Decimal]) -> None:
    totals[key] = totals.get(key, Decimal(0)) + (amount or Decimal(0))


def pod_amounts(workload: Resource) -> dict[tuple[str, str], Decimal]:
    """One pod's (side, resource) sums over its containers, claim templates as storage."""
    totals: dict[tuple[str, str], Decimal] = {}
    for container in items(pod_spec(workload).get("containers")):  # type: ignore[union-attr]
        for side in ("requests", "limits"):
            for name, amount in get(container, "resources", side, default={}).items():
                key = (side, "gpu" if name.endswith("/gpu") else name)
                add(totals, key, quantity(amount))
    for claim in items(get(workload.props, "spec", "volumeClaimTemplates")):
        size = quantity(get(claim, "spec", "resources", "requests", "storage"))
        add(totals, ("requests", "storage"), size)
    return totals


def quota_fits(resources: list[Resource], facts: Facts) -> list[str]:
    if not facts.quota or not facts.kubernetes:
        return []
    counts = replica_counts(resources)
    need: dict[tuple[str, str], Decimal] = {}
    for workload in workloads(resources):
        name = get(workload.props, "metadata", "name") or workload.name
        for key, amount in pod_amounts(workload).items():
            add(need, key, counts[(workload.kind, name)] * amount)
    for claim in resources:
        if claim.kubernetes and claim.kind == "PersistentVolumeClaim":
            size = quantity(get(claim.props, "spec", "resources", "requests", "storage"))
            add(need, ("requests", "storage"), size)
    problems = []
    for key, side, resource in QUOTA_LINES:
        budget = get(facts.quota, *key.split("."))
        if budget is None:
            continue
        total = need.get((side, resource), Decimal(0))
        if total > quantity(budget):
            problems.append(f"the release's worst case needs {format_amount(resource, total)} "
                            f"{resource} ({side}) but quota.{key} is {budget}: pods beyond it are "
                            f"refused; lower the replicas or resources, or raise quota.{key} if "
                            f"the namespace quota allows it")
    return problems


STACK_RULES: dict[str, Callable[[list[Resource], Facts], list[str]]] = {
    "default-deny-network-policy": default_deny,
    "webui-auth-behind-ingress": webui_auth,
    "quota-fits": quota_fits,
}


def check_all(resources: list[Resource], facts: Facts) -> dict[str, list[str]]:
    """Every rule over a whole stack: rule name -> violation messages (empty when clean)."""
    results = {name: [m for r in resources for m in rule(r, facts)]
               for name, rule in RESOURCE_RULES.items()}
    results.update({name: rule(resources, facts) for name, rule in STACK_RULES.items()})
    return results
