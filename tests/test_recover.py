"""scripts/recover.py: the plan for an interrupted run (locks, pending creates), and its wiring.

The planning core is pure (state JSON + lock facts + looked-up objects in, steps out). The last
tests run main() against stand-in `pulumi` and `kubectl` commands that record their calls, so
the order export -> import -> refresh and the state handed to `pulumi stack import` are checked
without an engine; tests/e2e/test_recovery.py runs the same script against the real CLI.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import recover  # noqa: E402  (scripts/recover.py and its parts, as the script imports them)
import recover_lookup  # noqa: E402
import recover_plan  # noqa: E402
from recover_plan import Live, Lock, PendingCreate, Process  # noqa: E402

STACK = "urn:pulumi:minikube::icc-ollama"
PROVIDER_URN = f"{STACK}::pulumi:providers:kubernetes::k8s"
PROVIDER_REF = f"{PROVIDER_URN}::0b5c3c3a-5f43-4bde-9cde-2f0f1e3c9d11"
OURS = {
    "app.kubernetes.io/name": "ollama",
    "app.kubernetes.io/part-of": "icc-ollama",
    "app.kubernetes.io/managed-by": "pulumi",
}
LOCKED_AT = datetime(2026, 11, 23, 16, 0, 0, tzinfo=timezone.utc)
# A stack file as the user keeps it: comments, two-space indents, no secrets settings.
STACK_FILE = "# my stack\nconfig:\n  # where it goes\n  icc-ollama:namespace: icc-ollama\n"


def k8s_pending(
    kind: str,
    name: str,
    group_version: str = "core/v1",
    namespace="icc-ollama",
    op_type: str = "creating",
    parent: str = "icc:ollama:OllamaServer::ollama",
) -> dict:
    metadata = {"name": name, "labels": OURS}
    if namespace:
        metadata["namespace"] = namespace
    parent_type = parent.split("::")[0]
    return {
        "type": op_type,
        "resource": {
            "urn": f"{STACK}::{parent_type}$kubernetes:{group_version}:{kind}::{name}-x",
            "custom": True,
            "type": f"kubernetes:{group_version}:{kind}",
            "inputs": {"apiVersion": "v1", "kind": kind, "metadata": metadata},
            "parent": f"{STACK}::{parent}",
            "provider": PROVIDER_REF,
            "dependencies": [f"{STACK}::{parent}"],
        },
    }


def exported(*pending: dict, provider_namespace: str = "icc-ollama") -> dict:
    return {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-11-23T16:00:00Z", "version": "v3.259.0"},
            "secrets_providers": {"type": "passphrase", "state": {"salt": "v1:abc"}},
            "resources": [
                {
                    "urn": f"{STACK}::pulumi:pulumi:Stack::icc-ollama-minikube",
                    "custom": False,
                    "type": "pulumi:pulumi:Stack",
                },
                {
                    "urn": PROVIDER_URN,
                    "custom": True,
                    "id": PROVIDER_REF.rsplit("::", 1)[1],
                    "type": "pulumi:providers:kubernetes",
                    "inputs": {
                        "namespace": provider_namespace,
                        "context": "minikube",
                        "kubeconfig": {
                            "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                            "ciphertext": "v1:abc:def",
                        },
                    },
                },
                {
                    "urn": f"{STACK}::icc:ollama:OllamaServer::ollama",
                    "custom": False,
                    "type": "icc:ollama:OllamaServer",
                },
            ],
            "pending_operations": list(pending),
        },
    }


def one_pending_create(urn: str, type_token: str, inputs: dict) -> dict:
    """An exported state whose only entry is the pending create of `urn`."""
    resource = {"urn": urn, "custom": True, "type": type_token, "inputs": inputs}
    operation = {"type": "creating", "resource": resource}
    return {"version": 3, "deployment": {"resources": [], "pending_operations": [operation]}}


# --------------------------------------------------------------------------- locks


def test_go_timestamps_with_nanoseconds_and_zones_parse():
    assert recover_plan.parse_go_time("2026-11-23T16:00:00.123456789Z") == datetime(
        2026, 11, 23, 16, 0, 0, 123456, tzinfo=timezone.utc
    )
    assert recover_plan.parse_go_time("2026-11-23T17:00:00.5+01:00") == datetime(
        2026, 11, 23, 16, 0, 0, 500000, tzinfo=timezone.utc
    )
    assert recover_plan.parse_go_time("not a time") is None


def test_lock_file_contents_as_the_file_backend_writes_them():
    text = json.dumps(
        {
            "pid": 4242,
            "username": "ana",
            "hostname": "laptop",
            "timestamp": "2026-11-23T16:00:00.000000001Z",
        }
    )
    lock = recover_plan.parse_lock(
        "/state/.pulumi/locks/organization/icc-ollama/minikube/a.json", text
    )
    assert (lock.pid, lock.username, lock.hostname) == (4242, "ana", "laptop")
    assert lock.timestamp == LOCKED_AT


def lock(host: str = "laptop") -> Lock:
    return Lock(
        "/s/.pulumi/locks/organization/icc-ollama/minikube/a.json", 4242, "ana", host, LOCKED_AT
    )


def test_a_lock_of_a_process_that_is_gone_is_removed():
    step = recover_plan.lock_step(lock(), "laptop", Process(running=False))
    assert step.kind == "remove-lock"
    assert "pid 4242" in step.say and "gone" in step.say


def test_a_lock_held_by_a_running_process_is_never_removed():
    started = LOCKED_AT - timedelta(seconds=3)
    step = recover_plan.lock_step(lock(), "laptop", Process(running=True, started=started))
    assert step.kind == "stop"
    assert "running Pulumi process" in step.say and "ana@laptop (pid 4242" in step.say


def test_a_running_process_of_unknown_age_counts_as_the_holder():
    assert recover_plan.lock_step(lock(), "laptop", Process(running=True)).kind == "stop"


def test_a_pid_reused_by_a_process_started_after_the_lock_does_not_hold_it():
    reused = Process(running=True, started=LOCKED_AT + timedelta(minutes=5))
    assert recover_plan.lock_step(lock(), "laptop", reused).kind == "remove-lock"


def test_a_lock_from_another_machine_stops_and_names_pulumi_cancel():
    step = recover_plan.lock_step(lock(host="ci-runner"), "laptop", Process(running=False))
    assert step.kind == "stop"
    assert "another machine" in step.say and "pulumi cancel" in step.say


def test_lock_files_are_found_in_both_backend_layouts(tmp_path):
    project_mode = tmp_path / ".pulumi" / "locks" / "organization" / "icc-ollama" / "minikube"
    legacy = tmp_path / ".pulumi" / "locks" / "minikube"
    other_stack = tmp_path / ".pulumi" / "locks" / "organization" / "icc-ollama" / "icc"
    for folder in (project_mode, legacy, other_stack):
        folder.mkdir(parents=True)
        (folder / "x.json").write_text("{}")
    found = recover.lock_files(f"file://{tmp_path}", "icc-ollama", "minikube")
    assert found == sorted([project_mode / "x.json", legacy / "x.json"])
    assert recover.lock_files("https://api.pulumi.com", "icc-ollama", "minikube") == []


def test_the_backend_url_from_the_environment_wins_over_the_project_file(tmp_path, monkeypatch):
    project = tmp_path / "Pulumi.yaml"
    project.write_text("name: icc-ollama\nbackend:\n  url: file://~/.icc-ollama/state\n")
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    assert recover.backend_url(project) == "file://~/.icc-ollama/state"
    assert recover.project_name(project) == "icc-ollama"
    monkeypatch.setenv("PULUMI_BACKEND_URL", "file:///tmp/elsewhere")
    assert recover.backend_url(project) == "file:///tmp/elsewhere"


def test_this_process_is_seen_running_and_a_finished_child_is_not():
    me = recover.process_facts(os.getpid())
    assert me.running
    if me.started is not None:  # Linux: from /proc
        assert me.started <= datetime.now(timezone.utc) + timedelta(seconds=1)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not recover.process_facts(child.pid).running


# --------------------------------------------------------------------------- pending creates


def test_pending_creates_carry_the_names_the_program_gave():
    state = exported(
        k8s_pending("Service", "ollama"),
        k8s_pending("StatefulSet", "ollama", group_version="apps/v1"),
        k8s_pending("Namespace", "icc-ollama", namespace=None, parent="pulumi:pulumi:Stack::s"),
        k8s_pending("Secret", "open-webui-secret", op_type="updating"),
    )
    found = recover_plan.pending_creates(state)
    assert [(p.type, p.name, p.namespace) for p in found] == [
        ("kubernetes:core/v1:Service", "ollama", "icc-ollama"),
        ("kubernetes:apps/v1:StatefulSet", "ollama", "icc-ollama"),
        ("kubernetes:core/v1:Namespace", "icc-ollama", None),
    ]


def test_a_namespaced_object_without_a_namespace_gets_the_providers():
    state = exported(
        k8s_pending("ConfigMap", "ollama-scripts", namespace=None),
        provider_namespace="wabc123-default",
    )
    assert recover_plan.pending_creates(state)[0].namespace == "wabc123-default"


def test_no_pending_operations_means_an_empty_plan():
    assert recover_plan.pending_creates(exported()) == []
    assert recover_plan.pending_creates({"version": 3, "deployment": {}}) == []
    result = recover_plan.plan([], "laptop", [], {})
    assert result.steps == [] and not result.blocked


SERVICE = PendingCreate(
    f"{STACK}::x$kubernetes:core/v1:Service::ollama-service",
    "kubernetes:core/v1:Service",
    "ollama",
    "icc-ollama",
    PROVIDER_URN,
    deploys_to="icc-ollama",
)


def test_an_object_that_was_never_created_is_dropped():
    step = recover_plan.pending_step(SERVICE, None)
    assert step.kind == "drop"
    assert 'Service "ollama" in namespace icc-ollama' in step.say


def test_our_object_is_adopted_by_its_kubernetes_id():
    step = recover_plan.pending_step(SERVICE, Live("icc-ollama/ollama", OURS))
    assert (step.kind, step.id) == ("adopt", "icc-ollama/ollama")


@pytest.mark.parametrize(
    "labels",
    [
        {},  # made by hand or by another tool
        {"app.kubernetes.io/part-of": "icc-ollama"},  # managed-by missing
        {**OURS, "app.kubernetes.io/managed-by": "Helm"},  # another manager's object
        {**OURS, "app.kubernetes.io/part-of": "other-app"},  # another project's object
    ],
)
def test_an_object_we_did_not_make_stops_with_its_name_and_the_choice(labels):
    step = recover_plan.pending_step(SERVICE, Live("icc-ollama/ollama", labels))
    assert step.kind == "stop"
    assert 'Service "ollama" in namespace icc-ollama already exists' in step.say
    assert "kubectl delete service ollama -n icc-ollama" in step.say
    assert "config key namespace" in step.say and "nothing was changed" in step.say


def test_our_labels_in_a_namespace_the_stack_does_not_deploy_to_are_a_conflict():
    elsewhere = replace(SERVICE, namespace="team-b")
    step = recover_plan.pending_step(elsewhere, Live("team-b/ollama", OURS))
    assert step.kind == "stop"


def test_a_pending_create_without_a_name_is_left_to_the_user():
    nameless = replace(SERVICE, name="")
    step = recover_plan.pending_step(nameless, None)
    assert step.kind == "stop" and "--clear-pending-creates" in step.say


DOCKER = "urn:pulumi:docker::icc-ollama::icc:docker:LocalDockerStack$docker:index"
CONTAINER = PendingCreate(
    f"{DOCKER}/container:Container::local-open-webui",
    "docker:index/container:Container",
    "open-webui",
    None,
)
NETWORK = PendingCreate(
    f"{DOCKER}/network:Network::local-network", "docker:index/network:Network", "icc-ollama", None
)


def test_docker_our_container_and_network_are_adopted_by_their_docker_ids():
    container = recover_plan.pending_step(CONTAINER, Live("4f2c" * 16, OURS, status="running"))
    network = recover_plan.pending_step(NETWORK, Live("9a1b" * 16, OURS))
    assert (container.kind, container.id) == ("adopt", "4f2c" * 16)
    assert (network.kind, network.id) == ("adopt", "9a1b" * 16)


def test_docker_a_container_created_but_never_started_is_removed_not_adopted():
    """The provider creates a container, uploads its files, then starts it: stopped in between,
    the container may lack its files. Nothing of it has run, so it goes and `up` makes it."""
    created = Live("4f2c" * 16, OURS, status="created")
    step = recover_plan.pending_step(CONTAINER, created)
    assert (step.kind, step.id) == ("remove", "4f2c" * 16)
    assert "never started it" in step.say and "`up` creates it" in step.say
    assert recover_plan.pending_step(replace(CONTAINER, starts=False), created).kind == "adopt"
    for status in ("running", "restarting", "exited"):
        assert recover_plan.pending_step(CONTAINER, replace(created, status=status)).kind == "adopt"


def test_docker_removal_goes_to_the_providers_engine(tmp_path, monkeypatch):
    fake_command(
        tmp_path,
        "docker",
        f"""
        import json, os, sys
        with open({str(tmp_path / "calls")!r}, "w") as f:
            json.dump([os.environ.get("DOCKER_HOST", "")] + sys.argv[1:], f)
    """,
    )
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    recover_lookup.remove_container("ssh://me@box", "4f2c" * 16)
    called = json.loads((tmp_path / "calls").read_text())
    assert called == ["ssh://me@box", "container", "rm", "4f2c" * 16], "never forced"


def test_docker_a_foreign_container_of_that_name_stops_with_the_docker_command():
    step = recover_plan.pending_step(CONTAINER, Live("77" * 32, {}))
    assert step.kind == "stop"
    assert 'Container "open-webui" already exists' in step.say
    assert "docker container rm open-webui" in step.say and "another name" in step.say


def test_docker_images_and_volumes_are_recreated_not_adopted():
    for token, name in (
        ("docker:index/remoteImage:RemoteImage", "ollama/ollama:0.12.6"),
        ("docker:index/volume:Volume", "icc-ollama-models"),
    ):
        pending = PendingCreate(f"{DOCKER}/x::y", token, name, None)
        assert recover_plan.pending_step(pending, Live("id", {})).kind == "drop"


def test_docker_pending_creates_are_named_by_their_name_input():
    state = one_pending_create(
        CONTAINER.urn, CONTAINER.type, {"name": "open-webui", "image": "sha256:1"}
    )
    assert recover_plan.pending_creates(state) == [CONTAINER]


def test_one_conflict_blocks_the_whole_plan():
    other = replace(SERVICE, urn=SERVICE.urn + "2", name="open-webui")
    result = recover_plan.plan(
        [(lock(), Process(running=False))],
        "laptop",
        [SERVICE, other],
        {
            SERVICE.urn: Live("icc-ollama/ollama", OURS),
            other.urn: Live("icc-ollama/open-webui", {}),
        },
    )
    assert [s.kind for s in result.steps] == ["remove-lock", "adopt", "stop"]
    assert result.blocked


def test_the_kubectl_resource_names_of_the_type_tokens():
    assert recover_lookup.kubectl_kind("kubernetes:core/v1:Service") == "service"
    assert recover_lookup.kubectl_kind("kubernetes:apps/v1:StatefulSet") == "statefulset.v1.apps"
    assert (
        recover_lookup.kubectl_kind("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        == "networkpolicy.v1.networking.k8s.io"
    )


# --------------------------------------------------------------------------- the new state


def test_adopted_creates_become_resources_with_their_id_after_everything_recorded():
    service, statefulset = (
        k8s_pending("Service", "ollama"),
        k8s_pending("StatefulSet", "ollama", group_version="apps/v1"),
    )
    update = k8s_pending("ConfigMap", "ollama-scripts", op_type="updating")
    state = exported(service, statefulset, update)
    before = json.dumps(state, sort_keys=True)
    steps = [
        recover_plan.Step("adopt", service["resource"]["urn"], "", id="icc-ollama/ollama"),
        recover_plan.Step("drop", statefulset["resource"]["urn"], ""),
    ]
    new = recover_plan.apply_to_state(state, steps)

    assert json.dumps(state, sort_keys=True) == before, "the input state is not modified"
    resources = new["deployment"]["resources"]
    assert resources[:3] == state["deployment"]["resources"]
    adopted = resources[3]
    assert adopted["id"] == "icc-ollama/ollama"
    assert {k: v for k, v in adopted.items() if k not in ("id", "outputs")} == service[
        "resource"
    ], "inputs, parent, provider and dependencies are the program's, unchanged"
    assert adopted["outputs"] == {}, "the provider's Read fills them from the cluster"
    assert len(resources) == 4, "the dropped create is not a resource"
    assert new["deployment"]["pending_operations"] == [update]


def test_secret_inputs_stay_encrypted_when_adopted():
    secret = k8s_pending("Secret", "open-webui-secret")
    ciphertext = {
        "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
        "ciphertext": "v1:salt:encrypted",
    }
    secret["resource"]["inputs"]["stringData"] = ciphertext
    step = recover_plan.Step(
        "adopt", secret["resource"]["urn"], "", id="icc-ollama/open-webui-secret"
    )
    new = recover_plan.apply_to_state(exported(secret), [step])
    assert new["deployment"]["resources"][-1]["inputs"]["stringData"] == ciphertext


def test_kubernetes_adoption_keeps_the_field_manager_that_created_the_object():
    """Server-side apply: the provider keeps its manager's name in the state; a Read without it
    draws a new random one, and the creating manager's fields would never be removed."""
    service = k8s_pending("Service", "ollama")
    step = recover_plan.Step(
        "adopt", service["resource"]["urn"], "", "icc-ollama/ollama", "pulumi-kubernetes-3f9c0a1e"
    )
    adopted = recover_plan.apply_to_state(exported(service), [step])["deployment"]["resources"][-1]
    assert adopted["outputs"] == {"__fieldManager": "pulumi-kubernetes-3f9c0a1e"}


# What terraform-provider-docker v4.5.0's container Read never sets (it keeps them as the state
# has them), and must_run / networks_advanced, which it sets only when stopped / empty: listed
# from its schema and Read function, in Pulumi's names. The schema's defaults of these.
READ_KEEPS = (
    "attach", "cgroupParent", "cgroupnsMode", "containerReadRefreshTimeoutMilliseconds",
    "cpuPeriod", "cpuQuota", "destroyGraceSeconds", "envs", "labels", "logs", "removeVolumes",
    "start", "uploads", "volumes", "wait", "waitTimeout", "mustRun", "networksAdvanced",
)  # fmt: skip
TF_DEFAULTS = {
    "attach": False, "logs": False, "wait": False, "start": True, "waitTimeout": 60,
    "mustRun": True, "removeVolumes": True, "containerReadRefreshTimeoutMilliseconds": 15000,
}  # fmt: skip


def as_exported(value):
    """The mocks' secrets ({sig, value}) as `pulumi stack export` writes them (ciphertext)."""
    if isinstance(value, dict) and value.get(MOCK_SECRET_MARK) == SECRET_SIG:
        return {MOCK_SECRET_MARK: SECRET_SIG, "ciphertext": "v1:abc:" + json.dumps(value["value"])}
    if isinstance(value, dict):
        return {k: as_exported(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_exported(v) for v in value]
    return value


MOCK_SECRET_MARK = "4dabf18193072939515e22adb298388d"


def checked(inputs: dict) -> dict:
    """A model of pulumi-terraform-bridge 3.13x's Check: the schema's defaults are added, except
    falsy ones (bridge issue 2618), and listed under `__defaults`."""
    added = {k: v for k, v in TF_DEFAULTS.items() if v and k not in inputs}
    return {**inputs, **added, "__defaults": sorted(added)}


@pytest.mark.parametrize("container", ["ollama", "ollama-model-loader", "open-webui"])
def test_docker_adoption_records_what_the_create_would_have(monkeypatch, container):
    """MODEL, not the provider (pulumi-docker cannot be built here): after the targeted refresh,
    every attribute the Terraform Read keeps must hold what the create's plan gave it (the
    input, or the schema default), or the next diff adds it, and attach, envs, labels, volumes,
    uploads are ForceNew: the issue's `replace [diff: +attach,...,envs,labels,ports,volumes]`.
    Outputs present also make the bridge's Read a refresh, not an import (inputs kept); secret
    inputs (Open WebUI's envs) are copied as the ciphertext they are."""
    from harness import run_stack

    run = run_stack("docker", monkeypatch)
    [rendered] = [r for r in run.of_type(CONTAINER.type) if r.inputs["name"] == container]
    inputs = checked(as_exported(rendered.inputs))
    op = one_pending_create(CONTAINER.urn, CONTAINER.type, inputs)
    step = recover_plan.Step("adopt", CONTAINER.urn, "", id="4f2c" * 16)
    adopted = recover_plan.apply_to_state(op, [step])["deployment"]["resources"][0]

    assert adopted["inputs"] == inputs and adopted["outputs"], "a refresh, with the inputs kept"
    planned = {**TF_DEFAULTS, **inputs}
    # The schema's nested default too: an upload's `executable` (false) when it is not given.
    if "uploads" in inputs:
        planned["uploads"] = [{"executable": False, **item} for item in inputs["uploads"]]
    for key in READ_KEEPS:
        assert adopted["outputs"].get(key) == planned.get(key), key
    assert "__defaults" not in json.dumps(adopted["outputs"])


def test_docker_network_adoption_records_its_inputs_as_outputs():
    inputs = {"name": "icc-ollama", "labels": [{"label": "a", "value": "b"}], "__defaults": []}
    op = one_pending_create(NETWORK.urn, NETWORK.type, inputs)
    step = recover_plan.Step("adopt", NETWORK.urn, "", id="9a1b" * 16)
    adopted = recover_plan.apply_to_state(op, [step])["deployment"]["resources"][0]
    assert adopted["outputs"] == {"name": "icc-ollama", "labels": [{"label": "a", "value": "b"}]}


# --------------------------------------------------------------------------- this machine


@pytest.fixture
def plugin_binary(tmp_path) -> Path:
    """`sleep` under a provider's name: /proc shows it as `pulumi-resource` (15 characters)."""
    binary = tmp_path / "pulumi-resource-fake"
    binary.write_bytes(
        Path(
            subprocess.check_output(["sh", "-c", "command -v sleep"], text=True).strip()
        ).read_bytes()
    )
    binary.chmod(0o755)
    return binary


def test_a_provider_left_by_a_killed_cli_is_found_and_stopped(tmp_path, plugin_binary):
    """The CLI starts each plugin in a process group of its own: killing the CLI leaves it."""
    project = tmp_path / "project"
    project.mkdir()
    cli = tmp_path / "pulumi"  # a stand-in CLI: /proc names a script after its file
    cli.write_text(f"#!/bin/sh\nsetsid {plugin_binary} 300 &\necho $!\nwait\n")
    cli.chmod(0o755)
    run = subprocess.Popen([str(cli)], cwd=project, stdout=subprocess.PIPE, text=True)
    plugin = int(run.stdout.readline())
    try:
        while recover.command_name(plugin) != "pulumi-resource":  # setsid, until it execs
            time.sleep(0.01)
        assert recover.leftover_plugins(project) == [], "its CLI runs: a live run's provider"
        run.kill()
        run.wait()
        assert recover.leftover_plugins(project) == [(plugin, "pulumi-resource")]
        (tmp_path / "other").mkdir()
        assert recover.leftover_plugins(tmp_path / "other") == [], "another project's"
        os.kill(plugin, signal.SIGSTOP)  # even a stopped one ends
        recover.stop([plugin])
        assert recover.gone(plugin)
    finally:
        for pid in (plugin, run.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# --------------------------------------------------------------------------- main(), wired


def fake_command(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def fakes(tmp_path, monkeypatch):
    """`pulumi` and `kubectl` stand-ins: each call is logged; `stack import` keeps its input."""
    bin_dir, state_dir = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    (state_dir / ".pulumi" / "locks" / "organization" / "icc-ollama" / "minikube").mkdir(
        parents=True
    )
    log = tmp_path / "calls.jsonl"
    fake_command(
        bin_dir,
        "pulumi",
        f"""
        import json, sys
        from pathlib import Path
        args = sys.argv[1:]
        with open({str(log)!r}, "a") as f:
            f.write(json.dumps(["pulumi"] + args) + "\\n")
        if args[:2] == ["stack", "export"]:
            plain = "--show-secrets" in args and Path("export-plain.json").exists()
            print(Path("export-plain.json" if plain else "export.json").read_text())
        elif args[:2] == ["stack", "import"]:
            Path("imported.json").write_text(sys.stdin.read())
        elif args[0] == "refresh":
            # As Pulumi does with no secrets settings: writes them into the file it read.
            config = args[args.index("--config-file") + 1] if "--config-file" in args else None
            with open(config or "Pulumi.minikube.yaml", "a") as f:
                f.write("encryptionsalt: v1:new\\n")
    """,
    )
    fake_command(
        bin_dir,
        "kubectl",
        f"""
        import json, sys
        with open({str(log)!r}, "a") as f:
            f.write(json.dumps(["kubectl"] + sys.argv[1:]) + "\\n")
        name = sys.argv[sys.argv.index("get") + 2]
        labels = {json.dumps(OURS)} if name == "ollama" else {{}}
        managers = [
            {{"manager": "pulumi-kubernetes-3f9c0a1e", "operation": "Update"}},  # 4.29+
            {{"manager": "kube-controller-manager", "operation": "Update"}},
        ]
        metadata = {{"name": name, "labels": labels, "managedFields": managers}}
        if name != "missing":
            print(json.dumps({{"metadata": metadata}}))
    """,
    )
    (tmp_path / "Pulumi.yaml").write_text("name: icc-ollama\n")
    (tmp_path / "Pulumi.minikube.yaml").write_text(STACK_FILE)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{state_dir}")
    monkeypatch.chdir(tmp_path)

    def calls() -> list[list[str]]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return tmp_path, state_dir, calls


def stale_lock(state_dir: Path) -> Path:
    """A lock file of this machine whose process has exited, as a killed `pulumi up` leaves."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = state_dir / ".pulumi/locks/organization/icc-ollama/minikube/stale.json"
    holder = {"pid": dead.pid, "username": "ana", "hostname": recover.socket.gethostname()}
    stale.write_text(json.dumps({**holder, "timestamp": "2026-11-23T16:00:00Z"}))
    return stale


def plain_secret(value: str) -> dict:
    """A secret as `pulumi stack export --show-secrets` prints it."""
    return {"4dabf18193072939515e22adb298388d": SECRET_SIG, "plaintext": json.dumps(value)}


SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
KUBECONFIG = "apiVersion: v1\nkind: Config\n"


def write_exports(tmp_path: Path, state: dict) -> None:
    """export.json as `pulumi stack export` prints it, export-plain.json with --show-secrets."""
    (tmp_path / "export.json").write_text(json.dumps(state))
    plain = json.loads(json.dumps(state))
    plain["deployment"]["resources"][1]["inputs"]["kubeconfig"] = plain_secret(KUBECONFIG)
    (tmp_path / "export-plain.json").write_text(json.dumps(plain))


def test_main_adopts_drops_then_refreshes_only_what_it_adopted(fakes, capsys):
    tmp_path, state_dir, calls = fakes
    service = k8s_pending("Service", "ollama")
    missing = k8s_pending("ServiceAccount", "missing")
    write_exports(tmp_path, exported(service, missing))
    stale = stale_lock(state_dir)
    attributes = stale.with_name(stale.name + ".attrs")  # what gocloud's fileblob writes beside
    attributes.write_text("{}")

    assert recover.main(["minikube"]) == 0

    assert not stale.exists() and not attributes.exists()
    imported = json.loads((tmp_path / "imported.json").read_text())
    adopted = imported["deployment"]["resources"][-1]
    assert adopted["id"] == "icc-ollama/ollama"
    assert adopted["outputs"] == {"__fieldManager": "pulumi-kubernetes-3f9c0a1e"}
    assert imported["deployment"]["pending_operations"] == []
    assert imported["deployment"]["resources"][1]["inputs"]["kubeconfig"]["ciphertext"], (
        "the state goes back as it was exported, secrets encrypted"
    )
    pulumi_calls = [c[1:3] for c in calls() if c[0] == "pulumi"]
    assert pulumi_calls == [
        ["stack", "export"],
        ["stack", "export"],  # --show-secrets: the provider's kubeconfig, for kubectl
        ["stack", "import"],
        ["refresh", "--yes"],
    ]
    refresh = next(c for c in calls() if c[:2] == ["pulumi", "refresh"])
    assert refresh[refresh.index("--target") + 1] == service["resource"]["urn"]
    assert refresh.count("--target") == 1
    assert (tmp_path / "Pulumi.minikube.yaml").read_text() == STACK_FILE, (
        "the refresh reads (and may write) a copy of the stack file, never the checkout's"
    )
    kubectl = [c for c in calls() if c[0] == "kubectl"]
    assert kubectl[0][1] == "--kubeconfig" and kubectl[0][3:5] == ["--context", "minikube"]
    out = capsys.readouterr().out
    assert "removed the stale lock" in out and "taken into the state as icc-ollama/ollama" in out
    assert 'ServiceAccount "missing"' in out and "`up` creates it" in out


def test_main_changes_nothing_when_an_object_is_not_ours(fakes, capsys):
    tmp_path, _, calls = fakes
    write_exports(
        tmp_path, exported(k8s_pending("Service", "ollama"), k8s_pending("Service", "open-webui"))
    )
    assert recover.main(["minikube"]) == 1
    assert not (tmp_path / "imported.json").exists()
    assert not [c for c in calls() if c[:2] in (["pulumi", "refresh"], ["pulumi", "import"])]
    err = capsys.readouterr().err
    assert 'STOP: Service "open-webui" in namespace icc-ollama already exists' in err


def test_main_stops_at_a_live_lock_before_reading_the_state(fakes, capsys):
    tmp_path, state_dir, calls = fakes
    live = state_dir / ".pulumi/locks/organization/icc-ollama/minikube/live.json"
    live.write_text(
        json.dumps(
            {
                "pid": os.getpid(),
                "username": "ana",
                "hostname": recover.socket.gethostname(),
                "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
            }
        )
    )
    assert recover.main(["minikube"]) == 1
    assert live.exists()
    assert calls() == []
    assert "locked by a running Pulumi process" in capsys.readouterr().err


def test_main_with_nothing_interrupted_is_silent_and_changes_nothing(fakes, capsys):
    tmp_path, _, calls = fakes
    (tmp_path / "export.json").write_text(json.dumps(exported()))
    assert recover.main(["minikube"]) == 0
    assert [c[1:3] for c in calls()] == [["stack", "export"]]
    assert capsys.readouterr().out == ""


def test_docker_lookup_reads_ids_and_labels_and_knows_not_found(tmp_path, monkeypatch):
    """`docker container inspect` keeps labels under Config, `docker network inspect` at the
    top; a missing object is an error whose text says so (exit status 1 either way)."""
    fake_command(
        tmp_path,
        "docker",
        f"""
        import json, os, sys
        kind, name = sys.argv[1], sys.argv[3]
        with open({str(tmp_path / "host")!r}, "w") as f:
            f.write(os.environ.get("DOCKER_HOST", ""))
        if name == "missing":
            print(f"Error: No such {{kind}}: {{name}}", file=sys.stderr)
            sys.exit(1)
        labels = {json.dumps(OURS)}
        found = {{"Id": kind[0] * 64, "Name": name}}
        where = {{"Labels": labels}}
        if kind == "container":
            where = {{"Config": {{"Labels": labels}}, "State": {{"Status": "created"}}}}
        found.update(where)
        print(json.dumps([found]))
    """,
    )
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    lookup = recover_lookup.docker_lookup("unix:///run/user/1000/docker.sock")
    assert lookup(CONTAINER) == Live("c" * 64, OURS, status="created")
    assert lookup(NETWORK) == Live("n" * 64, OURS)
    assert (tmp_path / "host").read_text() == "unix:///run/user/1000/docker.sock"
    assert lookup(PendingCreate(CONTAINER.urn, CONTAINER.type, "missing", None)) is None


CHART_CHILD = PendingCreate(
    f"{STACK}::x$kubernetes:apps/v1:Deployment::monitoring-grafana",
    "kubernetes:apps/v1:Deployment",
    "grafana",
    "icc-ollama",
    PROVIDER_URN,
    deploys_to="icc-ollama",
)
HELM_LABELS = {"app.kubernetes.io/managed-by": "Helm", "helm.sh/chart": "grafana-12.11.1"}


@pytest.mark.parametrize("manager", ["pulumi-kubernetes-9e1c2f", "pulumi-resource-kubernetes"])
def test_a_chart_object_first_written_by_a_pulumi_provider_is_ours(manager):
    live = Live("icc-ollama/grafana", HELM_LABELS, (manager, "kube-controller-manager"))
    assert recover_plan.pending_step(CHART_CHILD, live).kind == "adopt"


def test_a_chart_object_installed_by_helm_itself_is_a_conflict():
    live = Live("icc-ollama/grafana", HELM_LABELS, ("helm", "pulumi-kubernetes-9e1c2f"))
    assert recover_plan.pending_step(CHART_CHILD, live).kind == "stop"


def test_a_pending_provider_is_dropped_without_a_lookup():
    state = one_pending_create(
        PROVIDER_URN, "pulumi:providers:kubernetes", {"namespace": "icc-ollama"}
    )
    [provider] = recover_plan.pending_creates(state)
    assert recover_lookup.look_up([provider], state, scratch=Path(".")) == {}
    assert recover_plan.pending_step(provider, None).kind == "drop"


def test_before_a_preview_a_stale_lock_goes_but_the_state_is_left_alone(fakes, capsys):
    """`pulumi preview` takes the lock too, but a preview must not change the state."""
    tmp_path, state_dir, calls = fakes
    write_exports(tmp_path, exported(k8s_pending("Service", "ollama")))
    stale = stale_lock(state_dir)

    assert recover.main(["minikube", "preview"]) == 0

    assert not stale.exists()
    assert not (tmp_path / "imported.json").exists()
    assert not [c for c in calls() if c[:2] == ["pulumi", "refresh"]]
    out = capsys.readouterr().out
    assert "recover: removed the stale lock" in out
    assert 'recover (`up` will do this): Service "ollama"' in out


def test_dry_run_changes_nothing_at_all(fakes, capsys):
    tmp_path, state_dir, calls = fakes
    write_exports(tmp_path, exported(k8s_pending("Service", "ollama")))
    stale = stale_lock(state_dir)
    assert recover.main(["minikube", "--dry-run"]) == 0
    assert stale.exists() and not (tmp_path / "imported.json").exists()
    assert "--dry-run, would have" in capsys.readouterr().out


def test_recover_needs_only_the_standard_library_and_the_shared_kube_facts():
    """`make up` runs recover before anything else; it must not pull in pulumi or pydantic."""
    root = Path(__file__).resolve().parents[1]
    sources = [*sorted((root / "scripts").glob("recover*.py")), root / "components/kube_facts.py"]
    ours = {"recover", "recover_lookup", "recover_plan", "components"}
    imports: dict[str, set[str]] = {}
    for source in sources:
        modules = set()
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules.add(node.module.split(".")[0])
        assert modules - ours <= set(sys.stdlib_module_names), (source.name, modules)
        imports[source.stem] = modules & ours
    # One way only: recover -> recover_lookup -> recover_plan -> components (no circle).
    assert imports == {
        "recover": {"recover_lookup", "recover_plan"},
        "recover_lookup": {"recover_plan"},
        "recover_plan": {"components"},
        "kube_facts": set(),
    }
