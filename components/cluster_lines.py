"""The pre-flight's refusals and warnings, one line each: what was found, where, and the command
that fixes it (`pulumi config set ...`, `minikube start ...`, the ICC login portal or VPN).
Which line applies is decided in components/cluster.py.
"""

from __future__ import annotations

from components import kubeconfig
from components.cluster_view import Observation
from components.kube_facts import OWNED_LABELS
from settings import Settings
from settings.cluster import ICC_LOGIN_PORTAL, MINIKUBE_START

PROJECT = "icc-ollama"
ICC_NETWORK = "connect to the HAW network or VPN"


def _where(ctx: kubeconfig.Context, source: str) -> str:
    return f"{ctx.server} (context {ctx.name}, kubeconfig {source})"  # what the user checks


def identity_refusal(settings: Settings, seen: Observation) -> str:
    ctx = seen.context
    assert ctx is not None
    if settings.target == "icc":
        return (
            f"{PROJECT}:kubeContext (given: {ctx.name}): the icc stack would change the cluster at "
            f"{_where(ctx, seen.source)}, which is not the ICC ({settings.icc_api_server}); choose "
            f"the ICC's context with `pulumi config set kubeContext <context>`, or download the "
            f"ICC kubeconfig at {ICC_LOGIN_PORTAL} and name it with `pulumi config set kubeconfig "
            f"<path>` (`pulumi config set iccApiServer <host>` only if the ICC's address changed)"
        )
    return (
        f"{PROJECT}:kubeContext (given: {ctx.name}): the minikube stack would change the cluster "
        f"at {_where(ctx, seen.source)}, which is not a minikube context; use minikube's with "
        f"`pulumi config set kubeContext minikube`, or for another local cluster (kind, Docker "
        f"Desktop, k3d) say so with `pulumi config set otherLocalCluster true`"
    )


def _start_cluster(settings: Settings) -> str:
    if settings.target == "icc":
        return f"{ICC_NETWORK} and check `kubectl cluster-info`"
    if settings.other_local_cluster:
        return "start that cluster and check `kubectl cluster-info`"
    return f"start it with `{MINIKUBE_START}`"


def problem_line(settings: Settings, problem: kubeconfig.KubeconfigProblem) -> str:
    """A missing kubeconfig or context: where it was looked for and how to get one."""
    icc = settings.target == "icc"
    get_config = (
        f"download the kubeconfig at {ICC_LOGIN_PORTAL} ({ICC_NETWORK}) and save it as "
        f"~/.kube/config or name it with `pulumi config set kubeconfig <path>`"
        if icc
        else _start_cluster(settings) + " (it writes the kubeconfig and its context)"
    )
    known = ", ".join(problem.contexts) or "none"
    if problem.kind == "list":
        return (
            f"{PROJECT}:kubeconfig: KUBECONFIG={problem.detail} names several files, and the "
            f"Kubernetes provider reads one; name it with `pulumi config set kubeconfig <path>` "
            f"(KUBECONFIG is then ignored)"
        )
    if problem.kind == "missing":
        return f"{PROJECT}:kubeconfig: no kubeconfig at {problem.detail}; {get_config}"
    if problem.kind == "unreadable":
        return f"{PROJECT}:kubeconfig: {problem.detail}; {get_config}"
    if problem.kind == "no-current-context":
        return (
            f"{PROJECT}:kubeContext: not set, and {problem.detail} has no current context; "
            f"choose one with `pulumi config set kubeContext <name>` (contexts there: {known})"
        )
    if problem.kind == "no-server":
        return f"{PROJECT}:kubeContext: context {problem.detail} names no API server; {get_config}"
    fix = f"choose one with `pulumi config set kubeContext <name>` (contexts there: {known})"
    if settings.target == "minikube" and not settings.other_local_cluster:
        fix = f"{_start_cluster(settings)}, or {fix}"
    elif icc:
        fix = f"{fix}, or {get_config}"
    return f"{PROJECT}:kubeContext (given: {problem.detail}): no such context; {fix}"


def answer_line(settings: Settings, seen: Observation) -> str | None:
    """The API server did not answer, or refused the credentials."""
    ctx = seen.context
    assert ctx is not None
    where = _where(ctx, seen.source)
    fresh = (
        f"download a fresh kubeconfig at {ICC_LOGIN_PORTAL}"
        if settings.target == "icc"
        else "refresh it with `minikube update-context`"
    )
    if seen.unreachable is not None:
        if seen.unreachable.startswith("cannot load"):
            context = f"context {ctx.name} of {seen.source}"
            return f"{PROJECT}:kubeconfig: {context}: {seen.unreachable}; {fresh}"
        if seen.unreachable.startswith("TLS"):
            return (
                f"{PROJECT}: the API server at {where}: {seen.unreachable}; the kubeconfig does "
                f"not match this server: {fresh}"
            )
        return (
            f"{PROJECT}: the API server at {where} does not answer ({seen.unreachable}); "
            f"{_start_cluster(settings)}"
        )
    if seen.status == 401:
        fix = (
            f"your ICC token has expired: download a fresh kubeconfig at {ICC_LOGIN_PORTAL}"
            if settings.target == "icc"
            else "refresh the context's credentials (`minikube update-context`)"
        )
        return f"{PROJECT}: the API server at {where} refused the credentials (401); {fix}"
    return None


def namespace_line(settings: Settings, seen: Observation) -> str | None:
    """Minikube: a namespace we would create, adopt or label must be absent or ours."""
    name, labels = settings.namespace, seen.namespace
    if not settings.create_namespace:  # used as it is; it must exist
        if labels != {}:
            return None
        return (
            f"{PROJECT}:createNamespace (given: false): namespace {name} does not exist; create "
            f"it with `kubectl create namespace {name}`, or let this stack make its own with "
            f"`pulumi config set createNamespace true`"
        )
    share = (
        "`pulumi config set createNamespace false` (then it is used as it is: never labelled, "
        "adopted or deleted)"
    )
    if seen.namespace_unknown is not None:
        return (
            f"{PROJECT}:namespace (given: {name}): cannot tell whether it is ours "
            f"({seen.namespace_unknown}); use a context with a certificate or token, or {share}"
        )
    if not labels or all(labels.get(key) == value for key, value in OWNED_LABELS.items()):
        return None  # absent (created), or ours (kept from an earlier destroy: adopted)
    return (
        f"{PROJECT}:namespace (given: {name}): it exists and is not ours (no "
        f"app.kubernetes.io/part-of={OWNED_LABELS['app.kubernetes.io/part-of']} label), and this "
        f"stack never labels, adopts or deletes such a namespace; choose another with "
        f"`pulumi config set namespace <name>`, or share it with {share}"
    )
