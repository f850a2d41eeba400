"""The cluster pre-flight: which cluster a Kubernetes stack changes, checked before anything is
created.

`observe` reads the kubeconfig the provider will use (components/kubeconfig.py) and asks the API
server one question (components/kube_api.py); `decide` turns what it saw into the target line,
warnings or one refusal. They are apart so that tests give `decide` any observation, and the
program's runs under mocks replace `OBSERVE` (the seam; no cluster, no ~/.kube there).

What each stack accepts:
- icc: only the ICC, i.e. a context whose server is `iccApiServer` (the ICC's API server unless
  set). Any other server is refused, in a preview too: that is decided from the kubeconfig alone.
- minikube: a minikube context (minikube marks its entries; the context named `minikube` also
  counts), or any context with `otherLocalCluster: true` (kind, Docker Desktop, k3d).
- both: a missing kubeconfig, an unknown context, an API server that does not answer or refuses
  the credentials. `pulumi up` stops on each before anything is created. A `pulumi preview` warns
  and goes on without the cluster, as the Kubernetes provider previews offline (from the state):
  reviewers preview without VPN or without a cluster of their own; `up` refuses until it is there.
- minikube's namespace: created (or a kept one of ours adopted) only if absent or carrying our
  labels (kube_facts.OWNED_LABELS); an existing one without them (default, kube-system, any
  other) is refused unless `createNamespace` is false, which means "use it as it is": then the
  program has no Namespace resource at all, so it never labels, adopts or deletes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from components import kubeconfig
from components.cluster_view import Observation, identity_ok, observe
from components.kube_api import KubeApi
from components.kube_facts import OWNED_LABELS
from settings import Settings
from settings.cluster import ICC_LOGIN_PORTAL, MINIKUBE_START

PROJECT = "icc-ollama"
ICC_NETWORK = "connect to the HAW network or VPN"


@dataclass(frozen=True)
class ClusterTarget:
    """What the program goes on with: the cluster it changes, as shown to the user."""

    server: str | None
    context: str | None
    kubeconfig: str
    kubectl: str  # the kubectl command prefix for this cluster and namespace
    api: KubeApi | None = None  # for the rollout watch; None when offline or under mocks
    info: str = ""
    warnings: tuple[str, ...] = ()

    def outputs(self) -> dict[str, str | None]:
        """The `cluster` stack output: every preview shows what it will change."""
        return {"apiServer": self.server, "context": self.context, "kubeconfig": self.kubeconfig}


class Refused(Exception):
    """One line: what was found and the command that fixes it."""


# The seam: tests replace it (tests/harness.py gives every run under mocks a fitting cluster).
OBSERVE: Callable[[Settings], Observation] = observe


def _where(ctx: kubeconfig.Context, source: str) -> str:
    return f"{ctx.server} (context {ctx.name} in {source})"


def _identity_refusal(settings: Settings, seen: Observation) -> str:
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


def _problem_line(settings: Settings, problem: kubeconfig.KubeconfigProblem) -> str:
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


def _answer_line(settings: Settings, seen: Observation) -> str | None:
    """The API server did not answer, or refused the credentials."""
    ctx = seen.context
    assert ctx is not None
    where = _where(ctx, seen.source)
    if seen.unreachable is not None:
        if seen.unreachable.startswith("TLS"):
            fix = (
                f"the kubeconfig does not match this server; download a fresh one at "
                f"{ICC_LOGIN_PORTAL}"
                if settings.target == "icc"
                else "the kubeconfig is out of date; refresh it with `minikube update-context`"
            )
            return f"{PROJECT}: the API server at {where}: {seen.unreachable}; {fix}"
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


def _namespace_line(settings: Settings, seen: Observation) -> str | None:
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


def kubectl_for(settings: Settings, context: str | None) -> str:
    """kubectl pointed at the same kubeconfig file, context and namespace as the stack."""
    words = ["kubectl"]
    if settings.kubeconfig and "\n" not in settings.kubeconfig:
        words += ["--kubeconfig", settings.kubeconfig]
    if context:
        words += ["--context", context]
    return " ".join([*words, "-n", settings.namespace])


def decide(settings: Settings, seen: Observation, dry_run: bool) -> ClusterTarget:
    """The target, or `Refused` with one line. `dry_run`: a preview, which may go on offline."""
    offline = " (previewing without the cluster; `pulumi up` stops here)"
    notices = []
    if seen.ignored_env:
        notices.append(f"KUBECONFIG={seen.ignored_env} is ignored: the kubeconfig setting wins")
    ctx = seen.context
    if ctx is None:
        assert seen.problem is not None
        line = _problem_line(settings, seen.problem)
        if not dry_run:
            raise Refused(line)
        name = settings.kube_context
        return ClusterTarget(
            None,
            name,
            seen.source,
            kubectl_for(settings, name),
            info=f"{settings.target} stack: no usable kubeconfig or context, previewing offline",
            warnings=(*notices, line + offline),
        )
    if not identity_ok(settings, ctx):
        raise Refused(_identity_refusal(settings, seen))
    if settings.target == "icc":
        checked = f"the ICC's API server {settings.icc_api_server}"
    else:
        checked = "a minikube context" if ctx.minikube else "otherLocalCluster is true"
    target = ClusterTarget(
        ctx.server,
        ctx.name,
        seen.source,
        kubectl_for(settings, ctx.name),
        info=(
            f"{settings.target} stack: changes the cluster at {ctx.server} (context {ctx.name}, "
            f"kubeconfig {seen.source}; checked: {checked})"
        ),
        warnings=tuple(notices),
    )
    answer = _answer_line(settings, seen)
    if answer is not None:
        if not dry_run:
            raise Refused(answer)
        return replace(target, warnings=(*notices, answer + offline))
    namespace = _namespace_line(settings, seen) if settings.target == "minikube" else None
    if namespace is not None:
        raise Refused(namespace)
    return replace(target, api=seen.api)


def preflight(settings: Settings) -> ClusterTarget:
    """Check the stack's cluster before anything is created; one RunError line if it may not."""
    import pulumi

    try:
        target = decide(settings, OBSERVE(settings), pulumi.runtime.is_dry_run())
    except Refused as refusal:
        raise pulumi.RunError(str(refusal)) from None
    pulumi.log.info(target.info)
    for warning in target.warnings:
        pulumi.log.warn(warning)
    return target
