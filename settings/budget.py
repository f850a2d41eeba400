"""Does the release fit where it runs? Its worst case against the namespace quota, the one node's
size and, where neither bounds the claims, a ceiling for them.

Worst case means every pod kind at its highest count (the HPA's maxReplicas when autoscaling)
times what one such pod requests and may use (settings/pods.py). StatefulSets update one pod at
a time without a surge pod, and Ollama claims are kept when scaling down (`whenScaled: Retain`),
so this is the most the release ever holds.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from settings.base import KeyedError
from settings.pods import PodBudget, Release, release_pods
from settings.quantity import format_amount, parse_quantity
from settings.quota import QUOTA_CHECKS, Quota

# Claims of one release when no quota.storage or nodeCapacity.storage says more: room for the
# largest models of Ollama's library on a few replicas. More than this is a typo (999Ti) far more
# often than a namespace that really has it; such a namespace states it with quota.storage.
STORAGE_CEILING = "1Ti"
# What else the user can lower, per resource, besides the replica count.
_SMALLER = {
    "gpu": "ollama.gpu.count",
    "cpu": "the pods' resources.{side}.cpu",
    "memory": "the pods' resources.{side}.memory",
    "storage": "the storage sizes",
}


def quota_amount(quota: Quota, quota_key: str) -> Decimal | None:
    value: Any = quota
    for part in quota_key.split(".")[1:]:
        value = getattr(value, part)
    return None if value is None else parse_quantity(value)


def check_budget(
    pods: list[PodBudget],
    quota_key: str,
    side: str,
    resource: str,
    budget: Decimal,
    allows: str = "if the namespace quota allows it",
    bound: str | None = None,
    verb: str = "raise",
) -> KeyedError | None:
    """The one message for a budget the pods exceed, pinned to the setting of its biggest
    consumer: the replica count, or for storage the size of the biggest claims."""
    shares = [(pod, getattr(pod, side).get(resource, Decimal(0))) for pod in pods]
    shares = [(pod, amount) for pod, amount in shares if amount > 0]
    need = sum((pod.replicas * amount for pod, amount in shares), Decimal(0))
    if need <= budget:
        return None
    terms = " + ".join(f"{_pods(pod)} × {amount_text(resource, amount)}" for pod, amount in shares)
    biggest = max(shares, key=lambda share: share[0].replicas * share[1])[0]
    counted = biggest.replicas_key.lower().endswith("replicas")
    given: object
    if resource == "storage" and biggest.claims_key:
        key, given = biggest.claims_key, biggest.claim_size
        lower = biggest.claims_key + (f" or {biggest.replicas_key}" if counted else "")
    else:
        key, given = biggest.replicas_key, biggest.replicas if counted else None
        lower = f"{key} or " + _SMALLER.get(resource, "the pods' {side}").format(side=side)
    if bound is None:
        bound = f"{quota_key} = {amount_text(resource, budget)}"
    fix = key if counted or resource == "storage" else f"{key}.{side}.{resource}"
    message = (
        f"worst case {terms} = {amount_text(resource, need)}{_of(resource, side)}, more "
        f"than {bound}; lower {lower}, or {verb} {quota_key} {allows}; fix with "
        f"`pulumi config set --path {fix} <value>`"
    )
    return KeyedError(key, given, message)


def amount_text(resource: str, value: Decimal) -> str:
    text = format_amount(resource, value)
    if resource == "gpu":
        return f"{text} GPU" + ("" if value == 1 else "s")
    return f"{text} CPU" if resource == "cpu" else text


def _pods(pod: PodBudget) -> str:
    return f"{pod.replicas} {pod.name} pod" + ("" if pod.replicas == 1 else "s")


def _of(resource: str, side: str) -> str:
    if resource == "gpu":
        return ""
    if resource == "storage":
        return " of claims"
    return f" of {side}" if resource == "cpu" else f" of memory {side}"


def budget_overrun(release: Release, pods: list[PodBudget] | None = None) -> KeyedError | None:
    """The first configured quota the release's worst case exceeds, or None."""
    pods = release_pods(release) if pods is None else pods
    for quota_key, side, resource in QUOTA_CHECKS:
        budget = quota_amount(release.quota, quota_key)
        if budget is not None:
            overrun = check_budget(pods, quota_key, side, resource, budget)
            if overrun is not None:
                return overrun
    return None


def node_overrun(release: Release, pods: list[PodBudget]) -> KeyedError | None:
    """Does the release's worst case fit the one node (single-node targets): its CPUs and memory
    for the requests, its disk for the claims?"""
    for resource in ("cpu", "memory", "storage"):
        amount = getattr(release.node_capacity, resource)
        if amount is not None:
            overrun = check_budget(
                pods,
                f"nodeCapacity.{resource}",
                "requests",
                resource,
                parse_quantity(amount),
                allows="if your node is bigger (`minikube start --cpus --memory --disk-size`)",
            )
            if overrun is not None:
                return overrun
    return None


def storage_ceiling_overrun(release: Release, pods: list[PodBudget]) -> KeyedError | None:
    """Claims beyond any plausible namespace, where nothing else bounds them."""
    if release.quota.storage is not None or release.node_capacity.storage is not None:
        return None
    return check_budget(
        pods,
        "quota.storage",
        "requests",
        "storage",
        parse_quantity(STORAGE_CEILING),
        allows="to your namespace's storage quota (`kubectl describe resourcequota`) if it "
        "really holds more",
        bound=f"{STORAGE_CEILING}, the most accepted while quota.storage is unset",
        verb="set",
    )


def check_fit(release: Release) -> None:
    """Raise the first budget the release's worst case does not fit (Kubernetes targets)."""
    if release.target == "docker":
        return
    scaling, gpu = release.ollama.autoscaling, release.ollama.gpu
    if release.target == "icc" and scaling.enabled and gpu.enabled and release.quota.gpu is None:
        raise KeyedError(
            "quota.gpu",
            None,
            f"required while ollama.autoscaling is on with GPUs: the HPA may ask "
            f"for maxReplicas × gpu.count = {scaling.max_replicas * gpu.count} "
            f"GPUs; set your namespace's GPU quota (`kubectl describe "
            f"resourcequota`) with `pulumi config set --path quota.gpu <n>`",
        )
    pods = release_pods(release)
    overrun = (
        budget_overrun(release, pods)
        or node_overrun(release, pods)
        or storage_ceiling_overrun(release, pods)
    )
    if overrun is not None:
        raise overrun
