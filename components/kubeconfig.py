"""Which kubeconfig and context a Kubernetes stack uses: the provider's own choice, made visible.

The Kubernetes provider is given `kubeconfig=settings.kubeconfig` (see `__main__.py`). When that is
unset, the pulumi_kubernetes Python SDK (4.x) fills it from the KUBECONFIG environment variable,
and the provider takes the value as a path when a file of that name exists and as a kubeconfig's
contents otherwise; an empty value means ~/.kube/config. So a KUBECONFIG naming a missing file or
a list of files (`a:b`, which kubectl merges) gives the provider no usable kubeconfig, and it
then works as if no cluster existed (provider 4.32: "unreachable" mode, where a preview passes
and an `up` without changes "succeeds"). `choose` and `read` follow the same rules and name
each such case, so the program can show where the cluster comes from and stop on them.

Standard library and PyYAML only (both already loaded with pulumi): this runs on every preview.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MINIKUBE_PROVIDER = "minikube.sigs.k8s.io"  # what minikube writes into its kubeconfig entries


class KubeconfigProblem(Exception):
    """No usable kubeconfig or context; `kind` says which (the caller adds the fix)."""

    def __init__(self, kind: str, detail: str, contexts: tuple[str, ...] = ()):
        super().__init__(detail)
        self.kind, self.detail, self.contexts = kind, detail, contexts


@dataclass(frozen=True)
class Source:
    """Where the kubeconfig comes from, as the user would recognise it."""

    shown: str
    path: Path | None = None  # a file
    text: str | None = None  # contents given in the `kubeconfig` setting
    ignored_env: str | None = None  # a KUBECONFIG that the setting overrides


@dataclass(frozen=True)
class Context:
    """One context of a kubeconfig, with the entries it points at."""

    name: str
    cluster_name: str
    server: str
    minikube: bool
    cluster: Mapping[str, Any]
    user: Mapping[str, Any]
    base_dir: Path | None  # relative certificate paths are relative to the kubeconfig's folder


def _expand(path: str) -> str:
    # The provider expands a leading "~/" itself (the shell usually did already).
    return str(Path(path).expanduser()) if path == "~" or path.startswith("~/") else path


def choose(setting: str | None, environ: Mapping[str, str], home: Path) -> Source:
    """The kubeconfig the provider will use, following the rules in the module docstring."""
    env = environ.get("KUBECONFIG", "")
    if setting:
        ignored = env or None
        path = Path(_expand(setting))
        if "\n" not in setting and path.is_file():
            return Source(setting, path=path, ignored_env=ignored)
        return Source("the kubeconfig setting's contents", text=setting, ignored_env=ignored)
    if env:
        if os.pathsep in env:
            raise KubeconfigProblem("list", env)
        return Source(f"{env} from KUBECONFIG", path=Path(_expand(env)))
    return Source("~/.kube/config", path=home / ".kube" / "config")


def read(source: Source) -> dict[str, Any]:
    """The parsed kubeconfig; a missing or broken file is a KubeconfigProblem."""
    if source.path is not None:
        try:
            text = source.path.read_text()
        except FileNotFoundError:
            raise KubeconfigProblem("missing", source.shown) from None
        except OSError as error:
            raise KubeconfigProblem("unreadable", f"{source.shown}: {error.strerror}") from None
    else:
        text = source.text or ""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise KubeconfigProblem("unreadable", f"{source.shown}: not YAML{where}") from None
    if not isinstance(data, dict):
        raise KubeconfigProblem("unreadable", f"{source.shown}: not a kubeconfig")
    return data


def _named(data: Mapping[str, Any], section: str) -> dict[str, Mapping[str, Any]]:
    entries = data.get(section) or []
    key = section[:-1]  # clusters -> cluster
    return {
        str(entry.get("name")): entry.get(key) or {}
        for entry in entries
        if isinstance(entry, Mapping) and entry.get("name") is not None
    }


def _from_minikube(entry: Mapping[str, Any]) -> bool:
    return any(
        isinstance(ext, Mapping)
        and isinstance(ext.get("extension"), Mapping)
        and ext["extension"].get("provider") == MINIKUBE_PROVIDER
        for ext in entry.get("extensions") or []
    )


def context(data: Mapping[str, Any], wanted: str | None, source: Source) -> Context:
    """The named context, or the kubeconfig's current one, as the provider picks it."""
    contexts = _named(data, "contexts")
    names = tuple(sorted(contexts))
    name = wanted or data.get("current-context") or ""
    if not name:
        raise KubeconfigProblem("no-current-context", source.shown, names)
    if name not in contexts:
        raise KubeconfigProblem("unknown-context", name, names)
    entry = contexts[name]
    cluster_name = str(entry.get("cluster") or "")
    cluster = _named(data, "clusters").get(cluster_name)
    if cluster is None or not cluster.get("server"):
        raise KubeconfigProblem("no-server", f"{name} (cluster {cluster_name or '?'})", names)
    return Context(
        name=name,
        cluster_name=cluster_name,
        server=str(cluster["server"]),
        minikube=name == "minikube" or _from_minikube(entry) or _from_minikube(cluster),
        cluster=cluster,
        user=_named(data, "users").get(str(entry.get("user") or ""), {}),
        base_dir=source.path.parent if source.path is not None else None,
    )
