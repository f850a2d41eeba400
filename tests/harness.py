"""Runs the real `__main__.py` under Pulumi mocks and records what it registers.

The recording mocks emulate what the engine would add at check time (Kubernetes autonaming,
a Docker image id) and what the cluster reports back (a Service's cluster IP, the address an
ingress controller publishes), so code that reads `metadata.name`, `image_id`, `spec.clusterIP`
or `status` behaves as under the CLI after an `up`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format

from components import cluster, kubeconfig
from components.cluster_view import Observation

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "icc-ollama"
TEST_SECRET_KEY = "t" * 64  # a test value; never a real key
TEST_GRAFANA_PASSWORD = "grafana-test-" + "g" * 16  # likewise
TEST_ADMIN_PASSWORD = "admin-test-" + "a" * 16  # likewise
# Secrets a user may set with `pulumi config set --secret` (a fresh stack holds none: the program
# makes them, see GENERATED below).
TEST_SECRETS = {
    "webuiSecretKey": TEST_SECRET_KEY,
    "grafanaAdminPassword": TEST_GRAFANA_PASSWORD,
    "webuiAdminPassword": TEST_ADMIN_PASSWORD,
}
# Wire-level marker the SDK puts around a secret value (rpc.py _special_secret_sig).
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SECRET_MARK = "4dabf18193072939515e22adb298388d"
# The harness's own component: the program's exports are registered as its outputs, so they reach
# the mock monitor serialized as the engine gets a stack's outputs (secrets marked).
EXPORTS_TYPE = "harness:index:Exports"
# What the mocked cluster reports: an ingress controller's published address (a Minikube node's).
INGRESS_ADDRESS = "192.168.49.2"


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
        if args.typ == EXPORTS_TYPE:
            return f"{args.name}-id", {}
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
        if args.typ == "kubernetes:core/v1:Service":
            state["spec"] = {"clusterIP": mock_cluster_ip(args.name), **(state.get("spec") or {})}
        if args.typ == "kubernetes:networking.k8s.io/v1:Ingress" and not skips_await(state):
            # Pulumi waits for the controller to publish an address, unless told not to.
            state["status"] = {"loadBalancer": {"ingress": [{"ip": INGRESS_ADDRESS}]}}
        if args.typ == "docker:index/remoteImage:RemoteImage":
            state["imageId"] = mock_image_id(args.inputs.get("name", ""))
            state["repoDigest"] = f"{args.inputs.get('name', 'image')}@sha256:{'1' * 64}"
        if args.typ.startswith("docker:") and args.typ.endswith(("Volume", "Network")):
            state.setdefault("name", args.name)
        if args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = generated_secret(args.name, int(args.inputs["length"]))
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def generated_secret(name: str, length: int) -> str:
    """What the mocks' RandomPassword `name` yields: fixed per name, so tests can look for it."""
    return hashlib.sha256(name.encode()).hexdigest()[:length].ljust(length, "x")


# What a fresh stack's program makes (components/secrets.py), as the mocks above yield it.
GENERATED = {
    "webuiSecretKey": generated_secret("secrets-webui-secret-key", 64),
    "webuiAdminPassword": generated_secret("secrets-webui-admin-password", 24),
    "grafanaAdminPassword": generated_secret("secrets-grafana-admin-password", 24),
}


def mock_cluster_ip(logical: str) -> str:
    """The cluster IP the mocked API server assigns: one per Service, from the service CIDR."""
    number = int(hashlib.sha256(logical.encode()).hexdigest(), 16) % 65_000 + 10
    return f"10.96.{number // 256}.{number % 256}"


def skips_await(state: dict) -> bool:
    annotations = (state.get("metadata") or {}).get("annotations") or {}
    return annotations.get("pulumi.com/skipAwait") == "true"


def mock_image_id(image: str) -> str:
    """The image id the mocks give a RemoteImage: one per image, so tests can tell them apart."""
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_MARK) == SECRET_SIG


def whole_numbers(value: Any) -> Any:
    """Protobuf Structs carry every number as a float: back to int where it is one."""
    if isinstance(value, dict):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


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
        if request.type == EXPORTS_TYPE:
            return response
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

    def RegisterResourceOutputs(self, request):
        if request.urn.endswith(f"{EXPORTS_TYPE}::exports"):
            self._run.exports.update(whole_numbers(json_format.MessageToDict(request.outputs)))
        return super().RegisterResourceOutputs(request)


@contextlib.contextmanager
def host_config(config: dict[str, str], secret_keys: list[str]):
    """The stack's config as the language host hands it to a program: the PULUMI_CONFIG and
    PULUMI_CONFIG_SECRET_KEYS environment, which the exec shim also loads with set_all_config."""
    saved = {key: os.environ.get(key) for key in ("PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS")}
    os.environ["PULUMI_CONFIG"] = json.dumps(config)
    os.environ["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(secret_keys)
    pulumi.runtime.set_all_config(config, secret_keys)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


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
    root: Path = ROOT,
    cluster_view=fitting_cluster,
) -> ProgramRun:
    """Run __main__.py with this config (keys without prefix) and wait for every RPC.
    `root` may be the folder of another version of the program (then put first on sys.path).
    `cluster_view` stands in for the cluster pre-flight's look (components/cluster.py's seam).
    (`monkeypatch` is accepted for older call sites; nothing needs it any more.)"""
    run = run if run is not None else ProgramRun()
    cluster.OBSERVE = cluster_view
    monitor = recording(run, stack)
    # pulumi.export() keeps each output on the root stack resource, which the mocks make once
    # and never register; they are registered here instead, secrets marked as the engine sees them.
    exported = pulumi.runtime.get_root_resource().outputs
    exported.clear()

    @pulumi.runtime.test
    def program():
        runpy.run_path(str(root / "__main__.py"), run_name="__main__")
        pulumi.ComponentResource(EXPORTS_TYPE, "exports").register_outputs(dict(exported))
        return pulumi.Output.from_input(None)

    with host_config(
        {f"{PROJECT}:{key}": value for key, value in encode(config).items()},
        [f"{PROJECT}:{key}" for key in secret_keys if key in config],
    ):
        program()
    run.urns = [urn for urn in monitor.get_registered_resources() if EXPORTS_TYPE not in urn]
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
    config: dict[str, Any] = {**stack_config(stack), **overrides}
    key = json.dumps([stack, config], sort_keys=True)
    if not cached or key not in _RUNS:
        _RUNS[key] = run_program(config, stack=stack)
    return _RUNS[key]
