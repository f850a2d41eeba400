"""The ICC rules about pods: GPUs and the V100 taint, pinned images, requests within limits."""

from __future__ import annotations

import re

from facts import Facts
from wire import (
    FLOATING_TAGS,
    V100_TAINT,
    Resource,
    containers,
    get,
    gpu_amounts,
    pod_spec,
    quantity,
    tolerates_v100,
)


def gpu_tolerates_v100(resource: Resource, facts: Facts) -> list[str]:
    spec = pod_spec(resource)
    if not spec:
        return []
    gpu = [c.get("name", "?") for c in containers(spec) if gpu_amounts(c)]
    if not gpu or tolerates_v100(spec):
        return []
    return [
        f"{resource.label}: container {', '.join(gpu)} requests a GPU but the pod does not "
        f"tolerate the V100 taint {V100_TAINT}:NoSchedule, so it never schedules; add "
        f"{{key: {V100_TAINT}, operator: Exists, effect: NoSchedule}} to "
        f"`ollama.tolerations` (the icc default)"
    ]


def no_gpu_on_minikube(resource: Resource, facts: Facts) -> list[str]:
    if facts.target != "minikube":
        return []
    asked = [
        f"{c.get('name', '?')} ({', '.join(gpu_amounts(c))})"
        for c in containers(pod_spec(resource))
        if gpu_amounts(c)
    ]
    if not asked:
        return []
    return [
        f"{resource.label}: container {', '.join(asked)} requests a GPU, and the minikube "
        f"target has none, so the pod stays Pending; set `ollama.gpu.enabled` to false"
    ]


def floating(image: str) -> str | None:
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
    return [
        (f"container {c.get('name', '?')}", get(c, "image"))
        for c in containers(pod_spec(resource))
        if get(c, "image")
    ]


def images_pinned(resource: Resource, facts: Facts) -> list[str]:
    problems = []
    for where, image in images_of(resource):
        reason = floating(image)
        if reason:
            problems.append(
                f"{resource.label}: {where} image {image} {reason}; a restart may "
                f"pull another version: pin a version tag or a digest (ollama.image, "
                f"webui.image)"
            )
    return problems


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
                    f"refuses such a pod: raise the limit or lower the request"
                )
    return problems
