"""Autoscaling of the Ollama StatefulSet: the HPA spec and how the StatefulSet yields to it.

The HPA is a child of OllamaServer (built there from these functions), because it and the
StatefulSet's `spec.replicas` are one decision: while the HPA is on, Pulumi creates the StatefulSet
with `minReplicas` and then ignores `spec.replicas`, otherwise every `pulumi up` would reset the
count the HPA chose. A separate component would have to reach into OllamaServer's options.

Consistency with the model storage: each replica owns its claim and turns Ready only once its
models are there (model-loader sidecar). Open WebUI therefore talks to the ClusterIP Service while
autoscaling is on: it routes only to Ready replicas, so a new replica gets traffic only after its
pull; a fixed list of per-replica URLs would name replicas that do not exist. The HPA also treats
a not-yet-Ready pod's CPU as zero when scaling up, so a pull does not trigger more scale-ups.
CPU utilisation needs metrics-server (`minikube addons enable metrics-server`; on the ICC check
that `kubectl top pod` works). On GPU replicas CPU is a weak signal of load; the HPA there is
opt-in and bounded by the GPU quota (see settings/budget.py).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from settings.ollama import Autoscaling, Ollama

# Scale up without waiting, but one replica a minute: each new one pulls its models first.
# Scale down only after 10 quiet minutes, one replica per 5 minutes: a replica that has loaded
# a model is costly to get back (cold load), and its claim stays (whenScaled: Retain), so a later
# scale-up finds the models already on disk.
BEHAVIOR = {
    "scaleUp": {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
    },
    "scaleDown": {
        "stabilizationWindowSeconds": 600,
        "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 300}],
    },
}


def initial_replicas(ollama: Ollama) -> int:
    """The StatefulSet's `spec.replicas`; with the HPA on, the count it starts from."""
    return ollama.autoscaling.min_replicas if ollama.autoscaling.enabled else ollama.replicas


def statefulset_options(
    ollama: Ollama, parent: pulumi.Resource, timeouts: pulumi.CustomTimeouts | None = None
) -> pulumi.ResourceOptions:
    """The HPA owns `spec.replicas` while it is on; Pulumi must not set it back on each update."""
    ignore = ["spec.replicas"] if ollama.autoscaling.enabled else None
    return pulumi.ResourceOptions(parent=parent, custom_timeouts=timeouts, ignore_changes=ignore)


def hpa_spec(target_name: str, scaling: Autoscaling) -> dict:
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": target_name},
        "minReplicas": scaling.min_replicas,
        "maxReplicas": scaling.max_replicas,
        # Pod-level CPU against the pods' requests; the idle model-loader adds only 10m.
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {
                        "type": "Utilization",
                        "averageUtilization": scaling.target_cpu_utilization,
                    },
                },
            }
        ],
        "behavior": BEHAVIOR,
    }


def ollama_autoscaler(
    logical: str,
    metadata: dict,
    target_name: str,
    scaling: Autoscaling,
    opts: pulumi.ResourceOptions,
) -> k8s.autoscaling.v2.HorizontalPodAutoscaler:
    return k8s.autoscaling.v2.HorizontalPodAutoscaler(
        logical, metadata=metadata, spec=hpa_spec(target_name, scaling), opts=opts
    )
