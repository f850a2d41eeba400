"""The cluster pre-flight: the cluster a Kubernetes stack changes, checked before anything exists.

`observe` (cluster_view.py) reads the kubeconfig the provider will use (kubeconfig.py) and asks
the API server one question (kube_api.py); `decide` turns what it saw into the target line,
warnings or one refusal (its words: cluster_lines.py). They are apart so that tests give
`decide` any observation, and the program's runs under mocks replace `OBSERVE` (the seam; no
cluster, no ~/.kube there).

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

from components import cluster_lines as lines
from components.cluster_view import Observation, identity_ok, observe
from components.kube_api import KubeApi
from settings import Settings


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
        line = lines.problem_line(settings, seen.problem)
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
        raise Refused(lines.identity_refusal(settings, seen))
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
    answer = lines.answer_line(settings, seen)
    if answer is not None:
        if not dry_run:
            raise Refused(answer)
        return replace(target, warnings=(*notices, answer + offline))
    namespace = lines.namespace_line(settings, seen) if settings.target == "minikube" else None
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
