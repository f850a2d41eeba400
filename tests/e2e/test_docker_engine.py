"""The docker target on real Docker Engines: 28.5.2 (built from the Go module proxy) and 20.10
(Debian 12's docker.io), each private to this test (tests/e2e/docker_engine_support.py).

The container inputs come from the real __main__.py under the unit tests' mocks; they are sent
to the engine in the provider's create sequence. Stand-in images under the pinned names carry the
real images' ENTRYPOINT/CMD, a busybox userland and an `ollama` script answering the CLI verbs
the stack uses, so the health checks and the unmodified model-loader.sh run for real. The Open
WebUI stand-in has a real python3 (this interpreter) and a stand-in `open_webui` package, so the
unmodified admin bootstrap and backup script run in it too.

What this proves and what not: the engine accepts the rendered specs, the loader runs with the
image's entrypoint, the health checks pass, and what the engine stores reads back (through the
provider's read-back code, mirrored in tests/docker_read_back.py) exactly as written. The
pulumi-docker provider binary itself cannot be built here, so its diff is not run.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import backups as backups_script  # scripts/ (on sys.path: conftest.py imports e2e_support)
import docker_engine_support as support
import docker_preflight
import docker_read_back as read_back
import pytest

from harness import mock_image_id, run_stack, unwrap_secrets

CONTAINER, VOLUME, NETWORK = (
    "docker:index/container:Container",
    "docker:index/volume:Volume",
    "docker:index/network:Network",
)
# As the dependencies require (the backup container needs nothing else running).
DEPLOY_ORDER = ("ollama", "ollama-model-loader", "open-webui", "open-webui-backup")
MODEL = "llama3.2:1b"  # Pulumi.docker.yaml's model


def rendered(**overrides) -> dict:
    with pytest.MonkeyPatch.context() as monkeypatch:
        run = run_stack("docker", monkeypatch, **overrides)
    return {
        "containers": {r.inputs["name"]: unwrap_secrets(r.inputs) for r in run.of_type(CONTAINER)},
        "volumes": [unwrap_secrets(r.inputs) for r in run.of_type(VOLUME)],
        "network": unwrap_secrets(run.one(NETWORK).inputs),
        "images": {r.inputs["name"] for r in run.of_type("docker:index/remoteImage:RemoteImage")},
    }


@pytest.fixture(scope="module")
def stack() -> dict:
    return rendered()


def _engine(binary_name: str, stack: dict):
    if not support.is_root():
        pytest.skip("the Docker engine tier needs root (dockerd, namespaces, cgroups)")
    missing = support.missing_host_tools()
    if missing:
        pytest.skip(f"host tools missing: {', '.join(missing)}")
    bin_dir = support.engine_bin()
    missing = support.missing_engine_tools(bin_dir)
    if missing:
        pytest.skip(
            f"Docker engines not built in {bin_dir} (missing: {', '.join(missing)}); "
            f"run scripts/docker-engine.sh"
        )
    binary = bin_dir / binary_name
    workdir = Path(tempfile.mkdtemp(prefix="icc-dkr-")) / binary_name
    engine = support.start_engine(binary, workdir)
    try:
        ollama_image, webui_image = sorted(stack["images"], key=lambda i: "webui" in i)
        ids = support.import_standins(engine, ollama_image, webui_image)
        # The mocks give each RemoteImage a fake id; map it to the stand-in's real id.
        engine.image_ids = {mock_image_id(name): ids[name] for name in ids}
        yield engine
    finally:
        support.stop_engine(engine)
        workdir.parent.rmdir()


@pytest.fixture(scope="module")
def engine(stack):
    yield from _engine("dockerd", stack)


@pytest.fixture(scope="module")
def old_engine(stack):
    yield from _engine("dockerd-20.10", stack)


def deploy(engine, stack: dict) -> dict[str, dict]:
    """The stack as `pulumi up` creates it: network, volumes, then each container, waiting for
    health where `wait` is set. Name -> {id, healthy, seconds, state}."""
    support.create_network(engine.api, stack["network"])
    for volume in stack["volumes"]:
        support.create_volume(engine.api, volume)
    return {name: start(engine, stack["containers"][name]) for name in DEPLOY_ORDER}


def start(engine, inputs: dict) -> dict:
    began = time.monotonic()
    created = support.create_container(engine.api, inputs, engine.image_ids)
    healthy, state = support.wait_healthy(engine.api, created, inputs["waitTimeout"])
    return {
        "id": created,
        "healthy": healthy,
        "seconds": round(time.monotonic() - began, 1),
        "state": state,
    }


def remove_all(engine) -> None:
    for found in engine.api.containers(all=True, quiet=True):
        engine.api.remove_container(found["Id"], force=True)


def assert_deployed(engine, stack: dict, deployed: dict) -> str:
    """Every container healthy; returns the loader's log."""
    for name, result in deployed.items():
        assert result["healthy"], (name, result["state"], support.logs(engine.api, result["id"]))
    loader = deployed["ollama-model-loader"]["id"]
    return support.wait_for_log(engine.api, loader, f"all models present: {MODEL}", 30)


def assert_reads_back_as_written(engine, stack: dict, deployed: dict) -> None:
    swap_accounting = engine.api.info().get("SwapLimit", False)
    for name, result in deployed.items():
        inputs = stack["containers"][name]
        read = read_back.from_engine(engine.api.inspect_container(result["id"]))
        expected = read_back.as_diffed(inputs)
        if not swap_accounting:  # -1 there: the in-place update docker_preflight.py warns of
            assert read["memorySwap"] == -1
            read["memorySwap"] = expected["memorySwap"]
        assert read == expected, name


# --- Docker 28.5.2 -----------------------------------------------------------------------------


def test_the_stack_runs_and_reads_back_unchanged_on_a_current_engine(engine, stack):
    deployed = deploy(engine, stack)
    log = assert_deployed(engine, stack, deployed)
    # The loader ran model-loader.sh with the image's ENTRYPOINT replaced by the shell.
    assert f"model-loader: pulling {MODEL}" in log and f"pulled {MODEL} after 1 attempt" in log
    inspect = engine.api.inspect_container(deployed["ollama-model-loader"]["id"])
    assert inspect["Config"]["Entrypoint"] == ["/bin/sh"] and inspect["HostConfig"]["Init"]
    assert_reads_back_as_written(engine, stack, deployed)
    # Open WebUI started through the admin bootstrap, and its server never saw the password.
    webui = support.logs(engine.api, deployed["open-webui"]["id"])
    assert "icc-ollama: created the admin account admin@localhost" in webui, webui
    assert "no WEBUI_ADMIN_PASSWORD in the server's environment" in webui, webui
    print({name: result["seconds"] for name, result in deployed.items()})

    # The next `up` after a replacement finds the model in the kept volume: nothing pulled.
    remove_all(engine)
    again = {name: start(engine, stack["containers"][name]) for name in DEPLOY_ORDER}
    log = assert_deployed(engine, stack, again)
    assert "pulling" not in log, log
    remove_all(engine)


def test_the_old_loader_form_never_runs_and_is_never_healthy(engine, stack):
    loader = dict(stack["containers"]["ollama-model-loader"])
    script = loader["uploads"][0]["file"]
    loader.update(name="old-loader", command=["/bin/sh", script], networksAdvanced=None)
    del loader["entrypoints"]
    created = support.create_container(engine.api, loader, engine.image_ids)
    # A crash-looping container reports Running while it restarts: must_run would not notice.
    restarting = None
    deadline = time.monotonic() + 30
    while restarting is None and time.monotonic() < deadline:
        state = engine.api.inspect_container(created)["State"]
        if state["Restarting"]:
            restarting = state
        time.sleep(0.2)
    assert restarting is not None and restarting["Running"] is True
    healthy, state = support.wait_healthy(engine.api, created, 20)
    assert not healthy and state["Health"]["Status"] != "healthy"
    assert 'unknown command "/bin/sh" for "ollama"' in support.logs(engine.api, created)
    engine.api.remove_container(created, force=True)


def test_a_cpu_limit_above_the_host_is_refused_by_docker_and_caught_by_the_preflight(engine, stack):
    facts = preflight_facts(engine)
    too_many = str(facts.cpus + 2)
    ollama = {
        **stack["containers"]["ollama"],
        "name": "too-many-cpus",
        "volumes": None,
        "networksAdvanced": None,
        "cpus": f"{too_many}.0",
    }
    with pytest.raises(Exception, match="range of CPUs is from 0.01 to"):
        support.create_container(engine.api, ollama, engine.image_ids)
    preflight = docker_preflight
    settings = preflight_settings(
        preflight, ollama={"resources": {"requests": {"cpu": "1"}, "limits": {"cpu": too_many}}}
    )
    problems, _ = preflight.check(settings, facts)
    assert [line.split(" (")[0] for line in problems] == ["icc-ollama:ollama.resources.limits.cpu"]
    assert preflight.check(preflight_settings(preflight), facts)[0] == []  # the defaults fit


def test_start_interval_is_kept_by_a_current_engine(engine, stack):
    # The field the stack leaves out for older engines works here (API 1.44 and newer).
    import docker

    api = docker.APIClient(base_url=engine.host, version="1.44")
    try:
        inputs = {
            **stack["containers"]["ollama"],
            "name": "start-interval",
            "volumes": None,
            "networksAdvanced": None,
        }
        inputs["healthcheck"] = {**inputs["healthcheck"], "startInterval": "5s"}
        created = support.create_container(api, inputs, engine.image_ids, start=False)
        stored = api.inspect_container(created)["Config"]["Healthcheck"]
        assert stored["StartInterval"] == 5 * read_back.NANO
        api.remove_container(created, force=True)
    finally:
        api.close()


def with_start_interval(inputs: dict, name: str) -> dict:
    health = {**inputs["healthcheck"], "startInterval": "5s"}
    return {**inputs, "name": name, "healthcheck": health}


def test_the_provider_client_creates_the_rendered_spec_and_start_interval_on_28(engine, stack):
    ollama = {**stack["containers"]["ollama"], "volumes": None, "networksAdvanced": None}
    for inputs in ({**ollama, "name": "go-client"}, with_start_interval(ollama, "go-client-si")):
        created = support.create_with_go_client(engine, inputs, engine.image_ids)
        assert "id" in created, created
        assert float(created["apiVersion"]) >= 1.44
        engine.api.remove_container(created["id"], force=True)


# --- Docker 20.10 (Debian 12) ------------------------------------------------------------------


def test_the_provider_client_refuses_start_interval_on_20_10_and_takes_the_rendered_spec(
    old_engine, stack
):
    # Defect 3 as the provider meets it: its client negotiates API 1.41 and then refuses every
    # container with a start_interval. The stack's spec (none) is created.
    ollama = {**stack["containers"]["ollama"], "volumes": None, "networksAdvanced": None}
    refused = support.create_with_go_client(
        old_engine, with_start_interval(ollama, "go-si"), old_engine.image_ids
    )
    assert refused["apiVersion"] == "1.41"
    assert 'specify health-check start interval" requires API version 1.44' in refused["error"]
    created = support.create_with_go_client(
        old_engine, {**ollama, "name": "go-client"}, old_engine.image_ids
    )
    assert "id" in created, created
    old_engine.api.remove_container(created["id"], force=True)


def test_the_stack_runs_unchanged_on_debian_12_docker(old_engine, stack):
    facts = preflight_facts(old_engine)
    assert facts.version.startswith("20.10.") and facts.api_version == "1.41"
    deployed = deploy(old_engine, stack)
    log = assert_deployed(old_engine, stack, deployed)
    assert f"pulled {MODEL} after 1 attempt" in log
    assert_reads_back_as_written(old_engine, stack, deployed)
    preflight = docker_preflight
    assert preflight.check(preflight_settings(preflight), facts)[0] == []
    remove_all(old_engine)


def test_debian_12_docker_speaks_no_api_1_44(old_engine):
    # The provider's Docker client negotiates down to 1.41 here and then refuses any
    # start_interval ("requires API version 1.44"); asked for 1.44, the engine refuses itself.
    import docker

    api = docker.APIClient(base_url=old_engine.host, version="1.44")
    try:
        with pytest.raises(docker.errors.APIError, match="1.44 is too new"):
            api.containers()
    finally:
        api.close()


# --- preflight helpers -------------------------------------------------------------------------


def preflight_facts(engine):
    return docker_preflight.engine_facts(engine.host)


def preflight_settings(preflight, **raw):
    import json

    from settings import parse_settings

    return parse_settings(
        {
            "target": "docker",
            "webuiSecretKey": "k" * 40,
            "webuiAdminPassword": "a" * 24,
            **{key: json.dumps(value) for key, value in raw.items()},
        },
        frozenset({"webuiSecretKey", "webuiAdminPassword"}),
    )


# --- the pre-flight script as `make up` runs it: real Pulumi CLI, real engine -------------------


def test_preflight_script_with_the_real_cli_stops_a_too_large_limit(engine, tmp_path):
    import os
    import shutil
    import subprocess
    import sys

    pulumi_bin = Path(
        subprocess.run(
            ["bash", str(support.ROOT / "scripts" / "e2e-tools.sh"), "--print"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    if not (pulumi_bin / "pulumi").exists():
        pytest.skip(f"no Pulumi CLI in {pulumi_bin}; run scripts/e2e-tools.sh")
    # A copy of the project: the repository's Pulumi.docker.yaml is never written.
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    for name in ("Pulumi.yaml", "Pulumi.docker.yaml"):
        shutil.copy(support.ROOT / name, project / name)
    for folder in ("components", "settings", "payloads"):
        shutil.copytree(support.ROOT / folder, project / folder)
    shutil.copy(support.ROOT / "scripts" / "docker_preflight.py", project / "scripts")
    env = {
        **os.environ,
        "PATH": f"{pulumi_bin}:{os.environ['PATH']}",
        "PULUMI_HOME": str(tmp_path / "home"),
        "PULUMI_CONFIG_PASSPHRASE": "e2e-test",
        "PULUMI_BACKEND_URL": f"file://{tmp_path}",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }

    def pulumi(*args, stdin=None):
        subprocess.run(
            ["pulumi", *args],
            cwd=project,
            env=env,
            check=True,
            input=stdin,
            capture_output=True,
            text=True,
        )

    def preflight():
        return subprocess.run(
            [sys.executable, "scripts/docker_preflight.py", "docker"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
        )

    pulumi("stack", "init", "docker")
    pulumi("config", "set", "--secret", "webuiSecretKey", stdin="s" * 48)
    pulumi("config", "set", "--secret", "webuiAdminPassword", stdin="a" * 24)
    pulumi("config", "set", "--path", "docker.host", engine.host)
    cpus = preflight_facts(engine).cpus
    pulumi("config", "set", "--path", "ollama.resources.limits.cpu", str(cpus + 2))
    refused = preflight()
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr == (
        f"icc-ollama:ollama.resources.limits.cpu (given: {cpus + 2}): the Docker host "
        f"{engine.host} has {cpus} CPUs and refuses a larger limit; lower it with "
        f"`pulumi config set --path ollama.resources.limits.cpu {cpus}`\n"
    )
    pulumi("config", "set", "--path", "ollama.resources.limits.cpu", str(cpus))
    accepted = preflight()
    assert accepted.returncode == 0, accepted.stderr


# --- backups: the snapshot before a new image, a failed one, a restore --------------------------
# Open WebUI here is a stand-in with a real python3 (docker_engine_support.import_python_webui):
# the unmodified backup script and admin bootstrap run in it, and its stand-in `open_webui`
# package records each version that "migrates" webui.db, as the real one migrates at start.

WEBUI_CONTAINERS = ("open-webui", "open-webui-backup")


def standin_images(engine, stack: dict) -> tuple[str, str]:
    """Two stand-in Open WebUI versions under the pinned repository, the old and the new."""
    webui = next(name for name in stack["images"] if "webui" in name)
    repository = webui.rpartition(":")[0]
    old, new = f"{repository}:v1.0.0-standin", f"{repository}:v2.0.0-standin"
    busybox = engine.binary.parent / "busybox"
    for image, version in ((old, "1.0.0"), (new, "2.0.0")):
        if mock_image_id(image) not in engine.image_ids:
            real = support.import_python_webui(engine.api, busybox, image, version)
            engine.image_ids[mock_image_id(image)] = real
    return old, new


def fresh_backup_volumes(engine, stack: dict, tiny_backups: bool = False) -> None:
    """No containers; the network; empty data and backup volumes (a 64 KiB one on request)."""
    remove_all(engine)
    for name in ("open-webui-data", "open-webui-backups"):
        if name in {v["Name"] for v in engine.api.volumes().get("Volumes") or []}:
            engine.api.remove_volume(name, force=True)
    if not engine.api.networks(names=[stack["network"]["name"]]):
        support.create_network(engine.api, stack["network"])
    for volume in stack["volumes"]:
        if volume["name"] == "open-webui-backups" and tiny_backups:
            engine.api.create_volume(
                volume["name"],
                driver="local",
                driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=64k"},
                labels=support.labels(volume.get("labels")),
            )
        elif volume["name"] in ("open-webui-data", "open-webui-backups"):
            support.create_volume(engine.api, volume)


def start_webui(engine, stack: dict) -> dict[str, dict]:
    """Open WebUI and its backup container as `up` creates them (both wait for health)."""
    return {name: start(engine, stack["containers"][name]) for name in WEBUI_CONTAINERS}


def replace_webui(engine, stack: dict) -> dict[str, dict]:
    """A new image replaces both containers, delete-first, as the provider does."""
    for name in WEBUI_CONTAINERS:
        engine.api.remove_container(name, force=True)
    return start_webui(engine, stack)


def python_in(engine, container: str, code: str) -> str:
    done = engine.api.exec_create(container, ["python3", "-c", code])
    output = engine.api.exec_start(done["Id"]).decode(errors="replace")
    assert engine.api.exec_inspect(done["Id"])["ExitCode"] == 0, output
    return output


def query(engine, container: str, db: str, sql: str) -> list:
    code = (
        "import sqlite3, json\n"
        f"print(json.dumps(sqlite3.connect({db!r}).execute({sql!r}).fetchall()))"
    )
    return json.loads(python_in(engine, container, code).strip().splitlines()[-1])


def add_chats(engine, count: int, prefix: str) -> None:
    python_in(
        engine,
        "open-webui",
        "import sqlite3\n"
        "db = sqlite3.connect('/app/backend/data/webui.db', timeout=30)\n"
        f"db.executemany('INSERT INTO chat VALUES (?, ?, ?)', "
        f"[('{prefix}-%d' % i, 'admin', 'x' * 200) for i in range({count})])\n"
        "db.commit()",
    )


LIVE = "/app/backend/data/webui.db"


def snapshots_in(engine) -> list[dict]:
    code = (
        "import json, pathlib\n"
        "print(json.dumps([json.loads(p.read_text()) for p in "
        "pathlib.Path('/backups').glob('webui-*.json')]))"
    )
    found = json.loads(python_in(engine, "open-webui-backup", code).strip().splitlines()[-1])
    return sorted(found, key=lambda meta: meta["created"])


def test_a_new_image_starts_after_its_snapshot_and_a_restore_brings_the_chats_back(engine, capsys):
    base = rendered()
    old, new = standin_images(engine, base)
    before, after = rendered(webui={"image": old}), rendered(webui={"image": new})
    fresh_backup_volumes(engine, before)
    for name, result in start_webui(engine, before).items():
        assert result["healthy"], (name, support.logs(engine.api, result["id"]))
    add_chats(engine, 3, "kept")
    assert query(engine, "open-webui", LIVE, "SELECT version FROM standin_migrations") == [
        ["1.0.0"]
    ]
    assert snapshots_in(engine) == []  # a fresh volume: nothing to keep before the first start

    # webui.image changes: the new container snapshots the old data before it migrates.
    replaced = replace_webui(engine, after)
    for name, result in replaced.items():
        assert result["healthy"], (name, support.logs(engine.api, result["id"]))
    log = support.logs(engine.api, replaced["open-webui"]["id"])
    snapshot_at = log.index("webui-backup: snapshot webui-")
    assert log.index(f"the data was last run by {old}; now {new}") < snapshot_at
    assert snapshot_at < log.index("stand-in Open WebUI 2.0.0: migrated webui.db")
    (upgrade,) = snapshots_in(engine)
    assert (upgrade["kind"], upgrade["image"], upgrade["chats"]) == ("pre-upgrade", old, 3)
    saved = f"/backups/{upgrade['name']}.db"
    assert query(engine, "open-webui-backup", saved, "SELECT version FROM standin_migrations") == [
        ["1.0.0"]
    ]
    assert query(engine, "open-webui", LIVE, "SELECT version FROM standin_migrations") == [
        ["1.0.0"],
        ["2.0.0"],
    ]

    # A mistake under the new version, then the README's restore command (scripts/backups.py).
    add_chats(engine, 2, "later")
    python_in(
        engine,
        "open-webui",
        f"import sqlite3\ndb = sqlite3.connect({LIVE!r})\n"
        "db.execute(\"DELETE FROM chat WHERE id LIKE 'kept-%'\")\ndb.commit()",
    )
    script = backups_script
    script.docker_target(engine.host, "list", None)
    assert upgrade["name"] in capsys.readouterr().out
    script.docker_target(engine.host, "restore", upgrade["name"])
    out = capsys.readouterr().out
    assert "stopping Open WebUI: docker stop open-webui" in out
    assert f"restored {upgrade['name']}" in out
    state = engine.api.inspect_container("open-webui")["State"]
    assert state["Health"]["Status"] == "healthy"
    chats = query(engine, "open-webui", LIVE, "SELECT id FROM chat ORDER BY id")
    assert chats == [["kept-0"], ["kept-1"], ["kept-2"]]
    # The restored copy came from 1.0.0: the new version snapshotted it and migrated it again.
    assert query(engine, "open-webui", LIVE, "SELECT version FROM standin_migrations") == [
        ["1.0.0"],
        ["2.0.0"],
    ]
    kinds = [meta["kind"] for meta in snapshots_in(engine)]
    assert kinds == ["pre-upgrade", "pre-restore", "pre-upgrade"]
    remove_all(engine)


def test_a_failed_snapshot_keeps_the_new_image_from_starting(engine):
    base = rendered()
    old, new = standin_images(engine, base)
    before, after = rendered(webui={"image": old}), rendered(webui={"image": new})
    fresh_backup_volumes(engine, before, tiny_backups=True)  # a full backup store
    for name, result in start_webui(engine, before).items():
        assert result["healthy"], (name, support.logs(engine.api, result["id"]))
    add_chats(engine, 2000, "big")  # far more than 64 KiB
    for name in WEBUI_CONTAINERS:
        engine.api.remove_container(name, force=True)
    inputs = after["containers"]["open-webui"]
    created = support.create_container(engine.api, inputs, engine.image_ids)
    healthy, state = support.wait_healthy(engine.api, created, 45)
    assert not healthy
    assert state["Restarting"] or state["ExitCode"] == 1, state  # `docker ps`: Restarting (1)
    log = support.logs(engine.api, created)
    assert "webui-backup prepare failed: snapshot webui-" in log
    assert "database or disk is full" in log, log
    assert f"{new} does not start until this snapshot succeeds" in log
    assert "stand-in Open WebUI 2.0.0" not in log  # never migrated, never served
    engine.api.stop(created, timeout=5)
    # The data is as the old version left it: the new one never ran its migrations on it.
    engine.api.remove_container(created, force=True)
    reader = {
        **before["containers"]["open-webui-backup"],
        "name": "reader",
        "command": ["sleep", "60"],
    }
    support.create_container(engine.api, reader, engine.image_ids)
    versions = query(engine, "reader", LIVE, "SELECT version FROM standin_migrations")
    assert versions == [["1.0.0"]]
    remove_all(engine)
