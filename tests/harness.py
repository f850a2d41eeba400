"""Runs the real `__main__.py` under Pulumi mocks and records what it registers.

The recording mocks emulate what the engine would add at check time (Kubernetes autonaming,
a Docker image id), so code that reads `metadata.name` or `image_id` behaves as under the CLI.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml

from components import cluster, kubeconfig
from components.cluster_view import Observation

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "icc-ollama"
TEST_SECRET_KEY = "t" * 64  # a test value; never a real key
TEST_GRAFANA_PASSWORD = "grafana-test-" + "g" * 16  # likewise
TEST_ADMIN_PASSWORD = "admin-test-" + "a" * 16  # likewise
# What a stack made by `make up` holds as secrets (monitoring on Minikube needs the password).
TEST_SECRETS = {
    "webuiSecretKey": TEST_SECRET_KEY,
    "grafanaAdminPassword": TEST_GRAFANA_PASSWORD,
    "webuiAdminPassword": TEST_ADMIN_PASSWORD,
}
# Wire-level marker the SDK puts around a secret value (rpc.py _special_secret_sig).
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SECRET_MARK = "4dabf18193072939515e22adb298388d"


@dataclass
class Registered:
    typ: str
    name: str
    inputs: dict
    provider: str
    custom: bool


@dataclass
class ProgramRun:
    resources: list[Registered] = field(default_factory=list)
    exports: dict[str, Any] = field(default_factory=dict)
    urns: list[str] = field(default_factory=list)
    # URN -> URNs it waits for (explicit depends_on and every Output it takes as input).
    dependencies: dict[str, set[str]] = field(default_factory=dict)
    # URN -> the resource options the engine would enforce (the mocks never see them).
    options: dict[str, Options] = field(default_factory=dict)

    def urn_of(self, typ: str, name: str) -> str:
        """The URN encodes the parent chain: `...icc:ollama:OllamaServer$kubernetes:...::name`."""
        found = [u for u in self.urns if u.endswith(f"{typ}::{name}")]
        assert len(found) == 1, f"no single URN for {typ} {name}: {found}"
        return found[0]

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.typ == typ]

    def options_of(self, typ: str, name: str) -> Options:
        return self.options[self.urn_of(typ, name)]

    def one(self, typ: str, name: str | None = None) -> Registered:
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {typ} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def kubernetes_objects(self) -> list[dict]:
        """Every Kubernetes object as it would be sent to the API server (secrets unwrapped)."""
        return [
            unwrap_secrets(r.inputs)
            for r in self.resources
            if r.custom
            and r.typ.startswith("kubernetes:")
            and "helm.sh" not in r.typ
            and not r.typ.startswith("pulumi:providers:")
        ]


@dataclass(frozen=True)
class Options:
    """What a RegisterResource request asks of the engine beyond the inputs."""

    retain_on_delete: bool
    protect: bool
    ignore_changes: tuple[str, ...]
    custom_timeouts: dict[str, str]
    additional_secret_outputs: tuple[str, ...] = ()


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, run: ProgramRun):
        self.run = run

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.run.resources.append(
            Registered(args.typ, args.name, args.inputs, args.provider or "", bool(args.custom))
        )
        state = dict(args.inputs)
        if (
            args.typ.startswith("kubernetes:")
            and "metadata" in state
            or (args.typ.startswith("kubernetes:") and "helm.sh" not in args.typ)
        ):
            metadata = dict(state.get("metadata") or {})
            metadata.setdefault("name", f"{args.name}-5a1e7c0d")  # autonaming, as the provider does
            state["metadata"] = metadata
        if args.typ == "docker:index/remoteImage:RemoteImage":
            state["imageId"] = mock_image_id(args.inputs.get("name", ""))
            state["repoDigest"] = f"{args.inputs.get('name', 'image')}@sha256:{'1' * 64}"
        if args.typ.startswith("docker:") and args.typ.endswith(("Volume", "Network")):
            state.setdefault("name", args.name)
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def mock_image_id(image: str) -> str:
    """The image id the mocks give a RemoteImage: one per image, so tests can tell them apart."""
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_MARK) == SECRET_SIG


def unwrap_secrets(value: Any) -> Any:
    if is_secret(value):
        return unwrap_secrets(value["value"])
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf Structs carry every number as a float
    return value


def stack_config(stack: str) -> dict[str, str]:
    """The committed `Pulumi.<stack>.yaml`, as the CLI would pass it: strings, objects as JSON."""
    data = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    prefix = f"{PROJECT}:"
    return {
        key[len(prefix) :]: value if isinstance(value, str) else json.dumps(value)
        for key, value in data.items()
        if key.startswith(prefix)
    }


def encode(config: dict[str, Any]) -> dict[str, str]:
    return {
        key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()
    }


class RecordingMonitor(pulumi.runtime.mocks.MockMonitor):
    """The SDK's mock monitor, also noting what each resource waits for."""

    def __init__(self, mocks: RecordingMocks, run: ProgramRun):
        super().__init__(mocks)
        self._run = run

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        waits = set(request.dependencies)
        for deps in request.propertyDependencies.values():
            waits.update(deps.urns)
        self._run.dependencies[response.urn] = waits
        timeouts = request.customTimeouts
        self._run.options[response.urn] = Options(
            retain_on_delete=bool(request.retainOnDelete),
            protect=bool(request.protect),
            ignore_changes=tuple(request.ignoreChanges),
            custom_timeouts={
                key: value
                for key, value in (
                    ("create", timeouts.create),
                    ("update", timeouts.update),
                    ("delete", timeouts.delete),
                )
                if value
            },
            additional_secret_outputs=tuple(request.additionalSecretOutputs),
        )
        return response


@contextlib.contextmanager
def capturing_exports(exported: dict[str, Any]):
    real = pulumi.export
    pulumi.export = lambda key, value: exported.__setitem__(key, value)
    try:
        yield
    finally:
        pulumi.export = real


def recording(run: ProgramRun, stack: str) -> RecordingMonitor:
    """Mocks that note every resource, its options and its dependencies into `run`."""
    mocks = RecordingMocks(run)
    monitor = RecordingMonitor(mocks, run)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    return monitor


def fitting_cluster(settings) -> Observation:
    """What the cluster pre-flight sees under mocks: a cluster the stack accepts, reachable. No
    file or network is read (tests/test_cluster.py covers the real look and every other case)."""
    server = (
        f"https://{settings.icc_api_server}:443"
        if settings.target == "icc"
        else "https://192.168.49.2:8443"
    )
    context = kubeconfig.Context(
        name=settings.kube_context or settings.target,
        cluster_name=settings.target,
        server=server,
        minikube=True,
        cluster={"server": server},
        user={},
        base_dir=None,
    )
    # Minikube's namespace: absent when the stack creates it, there (someone's) when it shares it.
    namespace = None
    if settings.target == "minikube":
        namespace = {} if settings.create_namespace else {"team": "someone-else"}
    return Observation("~/.kube/config", context=context, status=200, namespace=namespace)


def run_program(
    config: dict[str, Any],
    secret_keys: tuple[str, ...] = ("webuiSecretKey", "grafanaAdminPassword", "webuiAdminPassword"),
    stack: str = "test",
    monkeypatch=None,
    run: ProgramRun | None = None,
    cluster_view=fitting_cluster,
) -> ProgramRun:
    """Run __main__.py with this config (keys without prefix) and wait for every RPC.
    `cluster_view` stands in for the cluster pre-flight's look (components/cluster.py's seam).
    (`monkeypatch` is accepted for older call sites; nothing needs it any more.)"""
    run = run if run is not None else ProgramRun()
    cluster.OBSERVE = cluster_view
    monitor = recording(run, stack)
    pulumi.runtime.set_all_config(
        {f"{PROJECT}:{key}": value for key, value in encode(config).items()},
        [f"{PROJECT}:{key}" for key in secret_keys if key in config],
    )
    exported: dict[str, Any] = {}

    @pulumi.runtime.test
    def program():
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        return pulumi.Output.from_input(exported).apply(run.exports.update)

    with capturing_exports(exported):
        program()
    run.urns = list(monitor.get_registered_resources())
    return run


def run_components(build, monkeypatch=None) -> ProgramRun:
    """Build components directly (no config, no __main__) and wait for every RPC."""
    run = ProgramRun()
    monitor = recording(run, "unit")
    pulumi.runtime.set_all_config({})

    @pulumi.runtime.test
    def program():
        result = build()
        run.exports["component"] = result
        return pulumi.Output.from_input(None)

    program()
    run.urns = list(monitor.get_registered_resources())
    return run


_RUNS: dict[str, ProgramRun] = {}


def run_stack(stack: str, monkeypatch=None, cached: bool = True, **overrides: Any) -> ProgramRun:
    """Run a committed stack file plus the values a user sets on the command line.

    The program is deterministic, so one run per (stack, overrides) serves every test that reads
    it: tests must treat the returned run as read-only. `cached=False` runs the program again,
    for tests that watch side effects of the run itself (warnings).
    """
    config: dict[str, Any] = {**stack_config(stack), **TEST_SECRETS}
    config.update(overrides)
    key = json.dumps([stack, config], sort_keys=True)
    if not cached or key not in _RUNS:
        _RUNS[key] = run_program(config, stack=stack)
    return _RUNS[key]
