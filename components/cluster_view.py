"""What a Kubernetes stack's cluster looks like from here: its kubeconfig, and one answer from its
API server. Everything the pre-flight (components/cluster.py) decides on comes from `observe`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from components import kubeconfig
from components.kube_api import KubeApi, Unreachable
from settings import Settings
from settings.cluster import api_server_address

PROBE_TIMEOUT = 3.0  # seconds; an API server in reach answers in milliseconds


@dataclass(frozen=True)
class Observation:
    """What the stack's kubeconfig says and what its API server answered."""

    source: str  # the kubeconfig, as shown to the user
    context: kubeconfig.Context | None = None
    problem: kubeconfig.KubeconfigProblem | None = None  # no usable kubeconfig or context
    ignored_env: str | None = None  # a KUBECONFIG that the kubeconfig setting overrides
    unreachable: str | None = None  # why the API server did not answer (None: it did)
    status: int | None = None  # the answer's HTTP status
    # Minikube's namespace: None = not asked or no answer; {} = absent; else its labels.
    namespace: dict[str, str] | None = None
    namespace_unknown: str | None = None  # why it could not be told (no credentials, 403)
    api: KubeApi | None = field(default=None, compare=False)


def server_matches(server: str, expected: str) -> bool:
    host, port = api_server_address(expected)
    parts = urlsplit(server if "://" in server else f"https://{server}")
    return (parts.hostname or "").lower() == host and (port is None or parts.port == port)


def identity_ok(settings: Settings, ctx: kubeconfig.Context) -> bool:
    if settings.target == "icc":
        return server_matches(ctx.server, settings.icc_api_server or "")
    return ctx.minikube or settings.other_local_cluster


def observe(settings: Settings) -> Observation:
    """The stack's kubeconfig and one request to its API server (the real cluster)."""
    try:
        source = kubeconfig.choose(settings.kubeconfig, os.environ, Path.home())
    except kubeconfig.KubeconfigProblem as problem:
        return Observation(source=f"KUBECONFIG={problem.detail}", problem=problem)
    try:
        ctx = kubeconfig.context(kubeconfig.read(source), settings.kube_context, source)
    except kubeconfig.KubeconfigProblem as problem:
        return Observation(source.shown, problem=problem, ignored_env=source.ignored_env)
    seen = Observation(source.shown, context=ctx, ignored_env=source.ignored_env)
    if not identity_ok(settings, ctx):
        return seen  # refused from the kubeconfig alone; nothing is sent to that server
    api = KubeApi(ctx)
    ask_namespace = settings.target == "minikube"
    path = f"/api/v1/namespaces/{settings.namespace}" if ask_namespace else "/version"
    try:
        status, body = api.get(path, PROBE_TIMEOUT)
    except Unreachable as error:
        return replace(seen, unreachable=str(error))
    if status == 401 and not api.authenticated:
        # Nothing was sent that it could refuse: whether the namespace is ours stays unknown.
        status = 403
    seen = replace(seen, status=status, api=api)
    if not ask_namespace or status == 401:
        return seen
    if status == 404:
        return replace(seen, namespace={})
    if status == 200 and isinstance(body, dict):
        labels = (body.get("metadata") or {}).get("labels") or {}
        return replace(seen, namespace=dict(labels))
    why = api.credentials_problem or f"the API server answered {status}"
    return replace(seen, namespace_unknown=why)
