"""The `quota` and `nodeCapacity` sections: what the namespace and the one node can hold.

Only the blocks themselves live here; whether the release fits them is settings/budget.py, which
sees the sections whose pods and claims it counts.
"""

from __future__ import annotations

from pydantic import Field

from settings.base import Cpu, Memory, Model, StorageSize


class QuotaAmounts(Model):
    cpu: Cpu | None = None
    memory: Memory | None = None


class Quota(Model):
    """The namespace's ResourceQuota as far as it is known (`kubectl describe resourcequota`).
    Unset amounts are not checked; the ICC standard numbers are not public."""

    requests: QuotaAmounts = QuotaAmounts()
    limits: QuotaAmounts = QuotaAmounts()
    gpu: int | None = Field(default=None, ge=0, le=64)
    storage: StorageSize | None = None


class NodeCapacity(Model):
    """What the one node of a single-node cluster offers (Minikube: `minikube start --cpus
    --memory --disk-size`). Pods that ask for more stay Pending and `pulumi up` waits until it
    times out; claims larger than the disk fill it and stop the node."""

    cpu: Cpu | None = None
    memory: Memory | None = None
    storage: StorageSize | None = None


# (quota key, side of the pods' resources it bounds, resource); the order of the checks.
QUOTA_CHECKS = (
    ("quota.gpu", "requests", "gpu"),
    ("quota.requests.cpu", "requests", "cpu"),
    ("quota.requests.memory", "requests", "memory"),
    ("quota.limits.cpu", "limits", "cpu"),
    ("quota.limits.memory", "limits", "memory"),
    ("quota.storage", "requests", "storage"),
)
