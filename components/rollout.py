"""What a waiting or failing rollout is waiting for, said while `pulumi up` waits.

The Kubernetes provider waits for each StatefulSet until every replica is Ready, up to its
custom timeout, and then fails with "'ollama' timed out waiting to be Ready" and "0 out of 1
replicas succeeded readiness checks". It does not say why. Its pod check (pulumi-kubernetes
4.32, read in its source; 4.25 behaves the same in the e2e tier) keeps an unscheduled pod's
reason (Unschedulable: no node with a free GPU) as a transient status of the resource row, never
in a warning or the error; a failing container (ImagePullBackOff, an unready container) becomes
a warning that names the container, without the model loader's progress; and when the
StatefulSet controller cannot create the pod at all (quota exceeded) there is no pod to report
on. So the program looks itself, while `up` waits:

- `diagnose` (pure) reads a StatefulSet, its pods, their events and the model loader's last log
  line and says, per replica that is not Ready, its phase and the reason Kubernetes gives, what
  that means here, and the command to look further;
- `RolloutWatch` polls the API server in a background thread during `pulumi up` (never in a
  preview) until the provider reports the StatefulSet done, and logs each new finding to the
  stack's diagnostics: a warning block for a problem, an info line with the model loader's
  command as soon as a replica waits for its models, and its progress as an ephemeral status.
  The last block stands next to the provider's timeout error when `up` gives up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

GRACE = 20.0  # seconds a replica may be starting quietly before it is mentioned
# Scheduler messages in words for this project (their own text is kept in the block).
MEANINGS = (
    (
        "Insufficient nvidia.com/gpu",
        "no node has a free GPU (nvidia.com/gpu); it starts when one "
        "frees up, or lower ollama.gpu.count",
    ),
    (
        "exceeded quota",
        "the namespace's quota has no room for it (`kubectl describe "
        "resourcequota`); lower the requests or ask for more quota",
    ),
    ("Insufficient cpu", "no node has the CPU it requests; lower the resources.requests.cpu"),
    ("Insufficient memory", "no node has the memory it requests; lower resources.requests.memory"),
    (
        "untolerated taint",
        "the nodes it fits carry taints it does not tolerate (ollama.tolerations)",
    ),
    ("were unschedulable", "the nodes it fits are cordoned (`kubectl get nodes`)"),
    (
        "unbound immediate PersistentVolumeClaims",
        "its claim is not bound: check the storage class (`kubectl get pvc`)",
    ),
    (
        "ImagePull",
        "the image cannot be pulled: check the image setting and that the nodes reach the registry",
    ),
    (
        "ErrImage",
        "the image cannot be pulled: check the image setting and that the nodes reach the registry",
    ),
    (
        "CrashLoopBackOff",
        "a container keeps exiting; its last words: `kubectl logs <pod> -c <container> --previous`",
    ),
)


@dataclass(frozen=True)
class Workload:
    title: str  # "Ollama"
    statefulset: str
    selector: Mapping[str, str]
    timeout: str  # how long `up` waits: "30 minutes (ollama.rolloutTimeoutMinutes)"
    loader: str | None = None  # the sidecar whose log shows the progress


@dataclass(frozen=True)
class Finding:
    subject: str  # "ollama-0", or the StatefulSet when it has no pod
    state: str  # "Pending, Unschedulable: 0/2 nodes are available: ..."
    meaning: str
    look: str  # the next command
    problem: bool  # a warning; otherwise progress worth knowing
    progress: str = ""  # the model loader's last line (changes often: not part of the key)

    @property
    def key(self) -> tuple[str, str]:
        return self.subject, self.state


def condition(pod: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return {}


def _first_sentence(text: str) -> str:
    """The scheduler's verdict without its notes on claims and preemption that follow it."""
    return text.split(". ")[0].strip().rstrip(".") + "."


def meaning(text: str) -> str:
    return next((words for marker, words in MEANINGS if marker in text), "")


def _container_trouble(pod: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(container, reason, message) of the first container that is waiting or exited badly."""
    status = pod.get("status") or {}
    for entry in (status.get("initContainerStatuses") or []) + (
        status.get("containerStatuses") or []
    ):
        waiting = (entry.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason") or ""
        if reason and reason not in ("ContainerCreating", "PodInitializing"):
            return entry.get("name", "?"), reason, waiting.get("message") or ""
    return None


def pod_finding(
    pod: Mapping[str, Any], workload: Workload, kubectl: str, event: str, loader_line: str
) -> Finding | None:
    """The one thing to say about a replica that is not Ready (None if it is Ready)."""
    name = (pod.get("metadata") or {}).get("name", "?")
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    if condition(pod, "Ready").get("status") == "True":
        return None
    describe = f"{kubectl} describe pod {name}"
    scheduled = condition(pod, "PodScheduled")
    if scheduled.get("status") == "False" and scheduled.get("reason"):
        text = _first_sentence(scheduled.get("message") or "")
        state = f"{phase}, {scheduled['reason']}: {text}"
        return Finding(name, state, meaning(text), describe, problem=True)
    trouble = _container_trouble(pod)
    if trouble is not None:
        container, reason, message = trouble
        state = f"{phase}, {reason} (container {container}){': ' + message if message else ''}"
        look = describe
        if reason == "CrashLoopBackOff":
            look = f"{kubectl} logs {name} -c {container} --previous"
        return Finding(name, state, meaning(reason), look, problem=True)
    if phase == "Running" and workload.loader:
        follow = f"{kubectl} logs -f {name} -c {workload.loader}"
        return Finding(name, "Running, waiting for its models", "", follow, False, loader_line)
    if phase == "Running":
        state = "Running, not Ready" + (f": {event}" if event else "")
        return Finding(name, state, "", f"{kubectl} logs {name}", problem=bool(event))
    state = f"{phase}, starting" + (
        f": {event}" if event else " (pulling the image, mounting claims)"
    )
    return Finding(name, state, meaning(event), describe, problem=bool(event))


def is_ready(statefulset: Mapping[str, Any]) -> bool:
    spec, status = statefulset.get("spec") or {}, statefulset.get("status") or {}
    wanted = spec.get("replicas", 1)
    generation = (statefulset.get("metadata") or {}).get("generation", 0)
    return (
        status.get("observedGeneration", 0) >= generation
        and status.get("readyReplicas", 0) == wanted
        and status.get("updatedReplicas", wanted) == wanted
        and status.get("currentRevision") == status.get("updateRevision")
    )


def diagnose(
    workload: Workload,
    statefulset: Mapping[str, Any],
    pods: Sequence[Mapping[str, Any]],
    kubectl: str,
    events: Mapping[str, str],
    loader_lines: Mapping[str, str],
) -> list[Finding]:
    """Findings for one StatefulSet: one per replica that is not Ready, or one for the set."""
    if is_ready(statefulset):
        return []
    found = []
    for pod in sorted(pods, key=lambda p: (p.get("metadata") or {}).get("name", "")):
        name = (pod.get("metadata") or {}).get("name", "")
        finding = pod_finding(
            pod, workload, kubectl, events.get(name, ""), loader_lines.get(name, "")
        )
        if finding is not None:
            found.append(finding)
    wanted = (statefulset.get("spec") or {}).get("replicas", 1)
    missing = wanted - len(pods)
    event = events.get(workload.statefulset, "")
    if missing > 0 and event:  # the controller could not make a pod (quota, admission)
        look = f"{kubectl} describe statefulset {workload.statefulset}"
        state = f"{missing} of {wanted} pods not created: {event}"
        found.append(Finding(workload.statefulset, state, meaning(event), look, True))
    return found


def block(workload: Workload, statefulset: Mapping[str, Any], findings: Sequence[Finding]) -> str:
    """One readable block. Its first line names the first replica's state: a live `pulumi up`
    shows only that line (the whole block comes again under Diagnostics at the end)."""
    status = statefulset.get("status") or {}
    wanted = (statefulset.get("spec") or {}).get("replicas", 1)
    head = (
        f"{workload.title} is not Ready ({status.get('readyReplicas', 0)} of {wanted} replicas; "
        f"`pulumi up` waits up to {workload.timeout}): "
    )
    lines: list[str] = []
    for finding in findings:
        progress = f" ({workload.loader}: {finding.progress})" if finding.progress else ""
        lines.append(f"{'  ' if lines else head}{finding.subject}: {finding.state}{progress}")
        if finding.meaning:
            lines.append(f"    means: {finding.meaning}")
        lines.append(f"    look further: {finding.look}")
    return "\n".join(lines)
