"""The rollout watch: polls the StatefulSets while `pulumi up` waits for them and logs what
components/rollout.py finds (see its docstring). Runs only in `up`, in a background thread.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from components.cluster import ClusterTarget
from components.kube_api import KubeApi, Unreachable
from components.rollout import GRACE, Finding, Workload, block, condition, diagnose, is_ready

if TYPE_CHECKING:
    from components.ollama import OllamaServer
    from components.webui import OpenWebUI
    from settings import Settings

POLL = 5.0  # seconds between looks
# Open WebUI's StatefulSet timeout (components/webui.py; tests/test_cluster.py keeps them equal).
WEBUI_ROLLOUT = 15


def _last_warnings(api: KubeApi, namespace: str, uids: set[str]) -> dict[str, str]:
    """The newest Warning event's message per object (FailedCreate, FailedScheduling, Unhealthy),
    for the objects with these uids only: a replaced pod's old events do not count."""
    selector = quote("type=Warning")
    status, body = api.get(f"/api/v1/namespaces/{namespace}/events?fieldSelector={selector}", 5)
    items = body.get("items", []) if status == 200 and isinstance(body, dict) else []
    newest: dict[str, tuple[str, str]] = {}
    for event in items:
        about = event.get("involvedObject") or {}
        name, when = about.get("name", ""), event.get("lastTimestamp") or event.get("eventTime")
        if about.get("uid") in uids and (when or "") >= newest.get(name, ("", ""))[0]:
            newest[name] = (when or "", " ".join(str(event.get("message", "")).split()))
    return {name: message for name, (_, message) in newest.items()}


Log = Callable[..., None]


class RolloutWatch:
    """Polls the StatefulSets while `up` waits for them; logs what it finds (see the module
    docstring). Ends per StatefulSet when `done` is called, and with the program."""

    def __init__(
        self,
        api: KubeApi,
        namespace: str,
        kubectl: str,
        workloads: Sequence[Workload],
        warn: Log,
        info: Log,
    ):
        self._api, self._namespace, self._kubectl = api, namespace, kubectl
        self._workloads = list(workloads)
        self._done = {w.statefulset: threading.Event() for w in workloads}
        self._warn, self._info = warn, info
        self._since: dict[str, float] = {}
        self._said: dict[str, frozenset[tuple[str, str]]] = {}
        self._progress: dict[str, str] = {}

    def done(self, statefulset: str) -> None:
        self._done[statefulset].set()

    def start(self) -> None:
        # The SDK keeps its engine connection in context variables: run in a copy of them.
        run = contextvars.copy_context().run
        threading.Thread(target=run, args=(self._run,), name="rollout-watch", daemon=True).start()

    def _run(self) -> None:
        while not all(event.is_set() for event in self._done.values()):
            for workload in self._workloads:
                if not self._done[workload.statefulset].is_set():
                    try:
                        self.look(workload)
                    except Exception:  # noqa: BLE001  a watch must never break `up`
                        pass
            time.sleep(POLL)

    def _get(self, path: str) -> Any:
        status, body = self._api.get(path, 5)
        return body if status == 200 and isinstance(body, dict) else None

    def look(self, workload: Workload) -> None:
        base = f"/namespaces/{self._namespace}"
        try:
            statefulset = self._get(f"/apis/apps/v1{base}/statefulsets/{workload.statefulset}")
            if statefulset is None or is_ready(statefulset):
                self._since.pop(workload.statefulset, None)
                return
            selector = quote(",".join(f"{k}={v}" for k, v in workload.selector.items()))
            pods = (self._get(f"/api/v1{base}/pods?labelSelector={selector}") or {}).get(
                "items", []
            )
            uids = {(o.get("metadata") or {}).get("uid", "") for o in (statefulset, *pods)}
            events = _last_warnings(self._api, self._namespace, uids)
            lines = {name: self._loader_line(workload, name) for name in _loading(pods, workload)}
        except Unreachable:
            return
        findings = diagnose(workload, statefulset, pods, self._kubectl, events, lines)
        self.report(workload, statefulset, findings)

    def _loader_line(self, workload: Workload, pod: str) -> str:
        path = f"/api/v1/namespaces/{self._namespace}/pods/{pod}/log?container={workload.loader}"
        status, body = self._api.get(path + "&tailLines=1", 5)
        return body.strip() if status == 200 and isinstance(body, str) else ""

    def report(
        self, workload: Workload, statefulset: Mapping[str, Any], findings: Sequence[Finding]
    ) -> None:
        """Log a block when the findings change (problems and model loading at once, quiet
        starts after GRACE), and each new model loader line as an ephemeral status."""
        now = time.monotonic()
        since = self._since.setdefault(workload.statefulset, now)
        keys = frozenset(finding.key for finding in findings)
        problem = any(finding.problem for finding in findings)
        loading = any(finding.progress or "models" in finding.state for finding in findings)
        if findings and keys != self._said.get(workload.statefulset):
            if problem or loading or now - since >= GRACE:
                text = block(workload, statefulset, findings)
                (self._warn if problem else self._info)(text)
                self._said[workload.statefulset] = keys
        for finding in findings:
            if finding.progress and self._progress.get(finding.subject) != finding.progress:
                self._progress[finding.subject] = finding.progress
                self._info(
                    f"{finding.subject} {workload.loader}: {finding.progress}", ephemeral=True
                )


def _loading(pods: Sequence[Mapping[str, Any]], workload: Workload) -> list[str]:
    """Replicas whose model loader is worth reading: running, not Ready."""
    if not workload.loader:
        return []
    return [
        (pod.get("metadata") or {}).get("name", "")
        for pod in pods
        if (pod.get("status") or {}).get("phase") == "Running"
        and condition(pod, "Ready").get("status") != "True"
    ]


def watch_rollouts(
    settings: Settings, target: ClusterTarget, ollama: OllamaServer, webui: OpenWebUI
) -> None:
    """During `up`, say what the StatefulSets wait for while the provider waits (rollout.py)."""
    import pulumi

    if target.api is None or pulumi.runtime.is_dry_run():
        return
    minutes = settings.ollama.rollout_timeout_minutes
    workloads = [
        Workload(
            "Ollama",
            ollama.service_name,  # the StatefulSet's name too
            ollama.selector,
            f"{minutes} minutes (ollama.rolloutTimeoutMinutes)",
            loader="model-loader" if settings.ollama.models else None,
        ),
        Workload("Open WebUI", webui.service_name, webui.selector, f"{WEBUI_ROLLOUT} minutes"),
    ]
    watch = RolloutWatch(
        target.api, settings.namespace, target.kubectl, workloads, pulumi.log.warn, pulumi.log.info
    )
    for workload, statefulset in zip(
        workloads, (ollama.statefulset, webui.statefulset), strict=True
    ):
        statefulset.id.apply(partial(_finished, watch, workload.statefulset))
    watch.start()


def _finished(watch: RolloutWatch, statefulset: str, _: Any) -> None:
    watch.done(statefulset)
