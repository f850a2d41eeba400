"""Backups of Open WebUI's database as every stack renders them: settings and refusals, the
Kubernetes pod (init container, sidecar, claim), the Docker containers and volume, the quota,
and scripts/backups.py's steps (kubectl and the Docker API replaced by recorders here; the
Docker Engine tier runs them for real, tests/e2e/test_docker_engine.py)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from decimal import Decimal

import kubernetes_validate
import pytest

from components import webui_backup as backup
from components.webui_env import DATA_DIR
from harness import ROOT, TEST_SECRETS, mock_image_id, run_stack, stack_config, unwrap_secrets
from settings import SettingsError, parse_settings
from settings.pods import release_pods
from settings.sidecars import BACKUP_RESOURCES

STATEFULSET = "kubernetes:apps/v1:StatefulSet"
CONFIGMAP = "kubernetes:core/v1:ConfigMap"
CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
SECRETS = frozenset(TEST_SECRETS)
STACKS = ["icc", "minikube", "docker"]


def parse(target: str, **extra):
    raw = {**stack_config(target), **TEST_SECRETS, **extra}
    if target == "icc":
        raw["namespace"] = "wabc123-default"
    return parse_settings(raw, SECRETS)


def render(target: str, monkeypatch=None, **extra):
    if target == "icc":
        extra.setdefault("namespace", "wabc123-default")
    return run_stack(target, monkeypatch, **extra)


def pod(run) -> dict:
    return run.one(STATEFULSET, "open-webui").inputs["spec"]["template"]["spec"]


def by_name(containers: list[dict]) -> dict[str, dict]:
    return {c["name"]: c for c in containers}


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"]}


def docker_containers(run) -> dict[str, dict]:
    return {r.inputs["name"]: unwrap_secrets(r.inputs) for r in run.of_type(CONTAINER)}


# --- settings ----------------------------------------------------------------------------------


def test_every_target_backs_up_by_default_with_its_own_schedule():
    icc, minikube, docker = (parse(target).webui.backup for target in STACKS)
    assert icc.enabled and minikube.enabled and docker.enabled
    assert (icc.schedule, icc.retention) == ("30 2 * * *", 14)
    assert (icc.storage.size, icc.storage.storage_class) == ("5Gi", "rook-ceph-block")
    for laptop in (minikube, docker):
        assert (laptop.schedule, laptop.retention, laptop.storage.size) == (
            "0 */6 * * *",
            12,
            "2Gi",
        )


def test_one_backup_setting_keeps_the_others():
    changed = parse("icc", webui='{"backup": {"storage": {"size": "20Gi"}}}').webui.backup
    assert changed.storage.storage_class == "rook-ceph-block" and changed.schedule == "30 2 * * *"


@pytest.mark.parametrize(
    "backup_block, key, words",
    [
        ({"schedule": "daily"}, "webui.backup.schedule", "needs five fields"),
        ({"schedule": "0 0 31 2 *"}, "webui.backup.schedule", "never matches a real date"),
        ({"schedule": "0 25 * * *"}, "webui.backup.schedule", "hour '25' is outside 0-23"),
        ({"retention": 0}, "webui.backup.retention", "greater than or equal to 1"),
        ({"retention": 5000}, "webui.backup.retention", "less than or equal to 1000"),
        ({"storage": {"size": "512"}}, "webui.backup.storage.size", "needs a byte unit"),
        ({"enabled": "sometimes"}, "webui.backup.enabled", "valid boolean"),
        ({"keep": 3}, "webui.backup.keep", "unknown setting"),
    ],
)
def test_wrong_backup_settings_name_their_key_and_fix(backup_block, key, words):
    with pytest.raises(SettingsError) as caught:
        parse("minikube", webui=json.dumps({"backup": backup_block}))
    message = str(caught.value)
    assert f"icc-ollama:{key}" in message and words in message, message
    assert "pulumi config" in message and "make " not in message
    if key == "webui.backup.schedule":
        assert "e.g. '30 2 * * *'" in message and "in UTC" in message


# --- Kubernetes: the pod ----------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_the_snapshot_runs_last_before_open_webui_and_the_schedule_beside_it(stack, request):
    run = request.getfixturevalue(stack)
    spec = pod(run)
    assert [c["name"] for c in spec["initContainers"]] == ["seed-static", "adopt-data", backup.INIT]
    assert [c["name"] for c in spec["containers"]] == ["open-webui", backup.SIDECAR]
    webui, sidecar = spec["containers"]
    init = spec["initContainers"][-1]
    settings = parse(stack).webui
    for container, mode in ((init, "prepare"), (sidecar, "schedule")):
        assert container["image"] == webui["image"] == settings.image  # nothing else to pull
        assert container["command"] == ["python3", "/opt/icc-ollama/webui-backup.py", mode]
        assert container["resources"] == BACKUP_RESOURCES
        assert container["securityContext"] == webui["securityContext"]
        assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
        assert {m["mountPath"]: m["name"] for m in container["volumeMounts"]} == {
            DATA_DIR: "data",
            "/backups": "backups",
            "/opt/icc-ollama": "backup-script",
            "/tmp": "tmp",
        }
        assert env_of(container) == {
            "ICC_BACKUP_DIR": "/backups",
            "ICC_DATA_DIR": DATA_DIR,
            "ICC_WEBUI_IMAGE": settings.image,
            "ICC_BACKUP_SCHEDULE": settings.backup.schedule,
            "ICC_BACKUP_RETENTION": str(settings.backup.retention),
            "ICC_BACKUP_READY_FILE": "/tmp/webui-backup-ready",
        }
    # The sidecar is ready once its loop could write the backup claim (a file in the pod's /tmp,
    # kept through its restarts: a failing snapshot never takes Open WebUI out of its Service)
    # and alive while the loop turns.
    assert sidecar["readinessProbe"]["exec"]["command"] == ["test", "-e", "/tmp/webui-backup-ready"]
    assert sidecar["livenessProbe"]["exec"]["command"] == [
        "python3",
        "/opt/icc-ollama/webui-backup.py",
        "alive",
    ]
    assert "startupProbe" not in sidecar
    # Open WebUI itself never sees the backups.
    assert "backups" not in {m["name"] for m in webui["volumeMounts"]}


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_backups_have_a_claim_of_their_own_kept_like_the_data(stack, request):
    run = request.getfixturevalue(stack)
    spec = run.one(STATEFULSET, "open-webui").inputs["spec"]
    claims = {t["metadata"]["name"]: t for t in spec["volumeClaimTemplates"]}
    assert list(claims) == ["data", "backups"]
    storage = parse(stack).webui.backup.storage
    backups = claims["backups"]["spec"]
    assert backups["accessModes"] == ["ReadWriteOnce"]
    assert backups["resources"]["requests"]["storage"] == storage.size
    assert backups.get("storageClassName") == storage.storage_class
    assert claims["backups"]["metadata"]["labels"]["app.kubernetes.io/component"] == "backup"
    # The same retention as the data claim: `pulumi destroy` keeps both.
    assert spec["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_the_script_comes_from_a_config_map_and_a_change_restarts_the_pod(stack, request):
    run = request.getfixturevalue(stack)
    scripts = run.one(CONFIGMAP, "open-webui-scripts").inputs
    assert scripts["metadata"]["name"] == "open-webui-scripts"
    assert scripts["data"] == {path.name: path.read_text() for path in backup.SCRIPTS}
    volume = next(v for v in pod(run)["volumes"] if v["name"] == "backup-script")
    assert volume["configMap"] == {"name": "open-webui-scripts", "defaultMode": 0o444}
    template = run.one(STATEFULSET, "open-webui").inputs["spec"]["template"]
    assert template["metadata"]["annotations"] == {
        "icc-ollama/webui-backup-sha256": backup.script_hash()
    }
    statefulset = run.urn_of(STATEFULSET, "open-webui")
    assert run.urn_of(CONFIGMAP, "open-webui-scripts") in run.dependencies[statefulset]


def test_a_new_image_reaches_the_snapshot_step_with_the_image_itself(monkeypatch):
    image = "ghcr.io/open-webui/open-webui:v9.9.9"
    spec = pod(render("minikube", monkeypatch, webui={"image": image}))
    for container in (spec["initContainers"][-1], spec["containers"][1]):
        assert container["image"] == image and env_of(container)["ICC_WEBUI_IMAGE"] == image


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_backups_off_means_no_sidecar_no_claim_no_script(stack, monkeypatch):
    run = render(stack, monkeypatch, webui={"backup": {"enabled": False}})
    spec = run.one(STATEFULSET, "open-webui").inputs["spec"]
    init = [c["name"] for c in spec["template"]["spec"]["initContainers"]]
    assert init == ["seed-static", "adopt-data"]
    assert [c["name"] for c in spec["template"]["spec"]["containers"]] == ["open-webui"]
    assert [t["metadata"]["name"] for t in spec["volumeClaimTemplates"]] == ["data"]
    assert "annotations" not in spec["template"]["metadata"]
    assert "open-webui-scripts" not in [r.name for r in run.of_type(CONFIGMAP)]
    assert "backups" not in run.exports["nextSteps"]


def test_the_quota_counts_the_sidecar_and_the_backup_claim():
    on = {b.name: b for b in release_pods(parse("icc"))}["Open WebUI"]
    off_settings = parse("icc", webui='{"backup": {"enabled": false}}')
    off = {b.name: b for b in release_pods(off_settings)}["Open WebUI"]
    assert on.requests["cpu"] - off.requests["cpu"] == Decimal("0.01")  # the sidecar's 10m
    assert on.limits["memory"] - off.limits["memory"] == 128 * 2**20
    assert on.requests["storage"] - off.requests["storage"] == 5 * 2**30  # its 5Gi claim


def test_a_quota_too_small_for_the_backup_claim_is_refused_with_the_fix():
    with pytest.raises(SettingsError) as caught:
        parse("icc", quota='{"storage": "26Gi"}')  # Ollama 20Gi + data 5Gi + backups 5Gi
    assert "1 Open WebUI pod × 10Gi = 30Gi of claims, more than quota.storage = 26Gi" in str(
        caught.value
    )
    # Without backups the same quota fits.
    parse("icc", quota='{"storage": "26Gi"}', webui='{"backup": {"enabled": false}}')


@pytest.mark.parametrize("stack", ["icc", "minikube", "docker"])
def test_next_steps_name_the_backup_command(stack, request, monkeypatch):
    run = render(stack, monkeypatch)
    assert run.exports["nextSteps"]["backups"] == (
        f".venv/bin/python scripts/backups.py {stack} list  "
        f"# then: .venv/bin/python scripts/backups.py {stack} restore <name>"
    )


# --- Docker -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def docker():
    return run_stack("docker")


def test_docker_runs_the_snapshot_before_open_webui_and_a_backup_container(docker):
    containers = docker_containers(docker)
    webui, scheduler = containers["open-webui"], containers["open-webui-backup"]
    settings = parse("docker").webui
    # The same image, by id, with both volumes; the schedule has no network at all.
    assert scheduler["image"] == webui["image"] == mock_image_id(settings.image)
    mounts = [(v["volumeName"], v["containerPath"]) for v in scheduler["volumes"]]
    assert mounts == [("open-webui-data", DATA_DIR), ("open-webui-backups", "/backups")]
    assert [(v["volumeName"], v["containerPath"]) for v in webui["volumes"]] == mounts
    assert scheduler["networkMode"] == "none"
    assert scheduler["command"] == ["python3", "/opt/icc-ollama/webui-backup.py", "schedule"]
    assert dict(e.split("=", 1) for e in scheduler["envs"]) == backup.backup_env(settings)
    assert scheduler["healthcheck"]["tests"] == ["CMD", "test", "-e", "/tmp/webui-backup-ready"]
    assert scheduler["wait"] is True and scheduler["restart"] == "unless-stopped"
    assert (scheduler["cpus"], scheduler["memory"]) == ("0.2", 128)
    uploads = {u["file"]: u["content"] for u in scheduler["uploads"]}
    assert uploads == {f"/opt/icc-ollama/{p.name}": p.read_text() for p in backup.SCRIPTS}
    assert {u["file"]: u["content"] for u in webui["uploads"]} == uploads
    # Open WebUI's own command: the pre-upgrade snapshot first, then the admin bootstrap.
    shell = webui["command"][2]
    assert shell.startswith("ICC_BACKUP_DIR=/backups ICC_DATA_DIR=/app/backend/data ")
    prepare, rest = shell.split(" && ", 1)
    assert prepare.endswith(" python3 /opt/icc-ollama/webui-backup.py prepare")
    assert f"ICC_WEBUI_IMAGE={settings.image} " in prepare
    assert rest.startswith('python3 -c "$1"')
    # Open WebUI's environment stays as it was: the script's variables live on its line only.
    assert not [e for e in webui["envs"] if e.startswith("ICC_")]


def test_the_backup_volume_is_kept_on_destroy_like_the_data(docker):
    assert docker.options_of(VOLUME, "local-webui-backups").retain_on_delete is True
    assert docker.one(VOLUME, "local-webui-backups").inputs["name"] == "open-webui-backups"


def test_docker_without_backups_has_neither_container_nor_volume(monkeypatch):
    run = render("docker", monkeypatch, webui={"backup": {"enabled": False}})
    assert "open-webui-backup" not in docker_containers(run)
    assert "open-webui-backups" not in {v.inputs["name"] for v in run.of_type(VOLUME)}
    assert "uploads" not in docker_containers(run)["open-webui"]


def test_the_prepare_line_survives_the_shell(docker):
    """The variables on Open WebUI's command line reach the script intact (a schedule holds
    spaces and stars)."""
    shell = docker_containers(docker)["open-webui"]["command"][2].split(" && ", 1)[0]
    probe = shell.replace("python3 /opt/icc-ollama/webui-backup.py prepare", "env")
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
    seen = dict(line.split("=", 1) for line in done.stdout.splitlines() if line.startswith("ICC_"))
    assert seen == backup.backup_env(parse("docker").webui)


# --- scripts/backups.py -----------------------------------------------------------------------


def load_script():
    spec = importlib.util.spec_from_file_location("backups_script", ROOT / "scripts/backups.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script():
    return load_script()


def rendered_statefulset(run) -> dict:
    return next(
        o for o in run.kubernetes_objects() if o["kind"] == "StatefulSet" and "webui" in str(o)
    )


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_the_one_off_pod_is_the_deployed_backup_container_with_both_claims(stack, request, script):
    sts = rendered_statefulset(request.getfixturevalue(stack))
    helper = script.helper_pod(sts, ["restore", "webui-x"], None)
    kubernetes_validate.validate(helper, "1.29", strict=True)
    spec = helper["spec"]
    (container,) = spec["containers"]
    sidecar = by_name(sts["spec"]["template"]["spec"]["containers"])["backup"]
    assert container == {
        **sidecar,
        "name": "restore",
        "command": ["python3", "/opt/icc-ollama/webui-backup.py", "restore", "webui-x"],
    }
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in spec["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claims == {
        "data": "data-open-webui-0",
        "backups": "backups-open-webui-0",
    }
    assert spec["securityContext"] == sts["spec"]["template"]["spec"]["securityContext"]
    assert spec["restartPolicy"] == "Never" and "nodeName" not in spec
    # Neither the StatefulSet nor the Service may take it for Open WebUI.
    selector = sts["spec"]["selector"]["matchLabels"]
    labels = helper["metadata"]["labels"]
    assert not all(labels.get(key) == value for key, value in selector.items())
    assert labels["app.kubernetes.io/part-of"] == "icc-ollama"  # default-deny selects it
    assert script.helper_pod(sts, ["list"], "node-7")["spec"]["nodeName"] == "node-7"


class FakeKubectl:
    """Answers the kubectl calls scripts/backups.py makes, and records them."""

    def __init__(self, sts: dict, helper_phase: str = "Succeeded"):
        self.sts, self.helper_phase = sts, helper_phase
        self.calls: list[list[str]] = []
        self.pod_exists, self.helper_exists = True, False

    def __call__(self, argv, input=None, capture_output=True, text=True):
        args = argv[argv.index("--namespace") + 2 :]
        self.calls.append(args)
        out = ""
        if args[:2] == ["get", "statefulset"]:
            out = json.dumps(self.sts)
        elif args[:3] == ["get", "pod", "open-webui-0"] and self.pod_exists:
            out = json.dumps(
                {
                    "spec": {"nodeName": "n1"},
                    "status": {
                        "containerStatuses": [
                            {"name": "open-webui", "state": {"running": {}}},
                            {"name": "backup", "state": {"running": {}}},
                        ]
                    },
                }
            )
        elif args[:3] == ["get", "pod", "open-webui-restore"] and self.helper_exists:
            out = json.dumps({"status": {"phase": self.helper_phase}})
        elif args[:1] == ["exec"]:
            out = "webui-20261201T023000Z-scheduled  2026-12-01 02:30:00 UTC  1.0 MiB\n"
        elif args[:2] == ["scale", "statefulset"] and args[-1] == "--replicas=0":
            self.pod_exists = False
        elif args[:1] == ["create"]:
            self.helper_exists = True
            self.created = json.loads(input)
        elif args[:1] == ["logs"]:
            out = "webui-backup: restored webui-20261201T023000Z-scheduled\n"
        return subprocess.CompletedProcess(argv, 0, out, "")


def kubectl_run(script, monkeypatch, fake, *args):
    monkeypatch.setattr(script.subprocess, "run", fake)
    monkeypatch.setattr(script.time, "sleep", lambda seconds: None)
    settings = parse("minikube")
    script.kubernetes(settings, *args)


def test_a_kubernetes_restore_stops_restores_and_starts_in_that_order(
    script, minikube, monkeypatch, capsys
):
    fake = FakeKubectl(rendered_statefulset(minikube))
    kubectl_run(script, monkeypatch, fake, "restore", "webui-20261201T023000Z-scheduled")
    steps = [c[:2] for c in fake.calls if c[0] in ("scale", "create", "rollout", "exec")]
    assert steps == [
        ["exec", "open-webui-0"],  # the listing: the name exists
        ["scale", "statefulset"],
        ["create", "-f"],
        ["scale", "statefulset"],
        ["rollout", "status"],
    ]
    scales = [c[-1] for c in fake.calls if c[0] == "scale"]
    assert scales == ["--replicas=0", "--replicas=1"]
    assert fake.created["spec"]["containers"][0]["command"][-2:] == [
        "restore",
        "webui-20261201T023000Z-scheduled",
    ]
    # The claims are free before the one-off pod is made: the pod was gone.
    created = next(i for i, c in enumerate(fake.calls) if c[0] == "create")
    assert ["get", "pod", "open-webui-0"] == fake.calls[created - 2][:3]
    out = capsys.readouterr().out
    assert "kubectl --context minikube --namespace icc-ollama scale statefulset open-webui" in out
    assert "restored webui-20261201T023000Z-scheduled" in out


def test_a_failed_restore_still_starts_open_webui_again(script, minikube, monkeypatch):
    fake = FakeKubectl(rendered_statefulset(minikube), helper_phase="Failed")
    with pytest.raises(script.Stop, match="pod open-webui-restore failed"):
        kubectl_run(script, monkeypatch, fake, "restore", "webui-20261201T023000Z-scheduled")
    assert [c[-1] for c in fake.calls if c[0] == "scale"] == ["--replicas=0", "--replicas=1"]
    assert ["delete", "pod", "open-webui-restore"] == [c for c in fake.calls if c[0] == "delete"][
        -1
    ][:3]


def test_an_unknown_snapshot_stops_before_open_webui_is_touched(script, minikube, monkeypatch):
    fake = FakeKubectl(rendered_statefulset(minikube))
    with pytest.raises(script.Stop, match="no snapshot webui-nope; there are:\nwebui-2026"):
        kubectl_run(script, monkeypatch, fake, "restore", "webui-nope")
    assert not [c for c in fake.calls if c[0] in ("scale", "create")]


def test_a_stack_without_backups_is_told_how_to_turn_them_on(script, monkeypatch):
    sts = rendered_statefulset(
        render("minikube", monkeypatch, webui={"backup": {"enabled": False}})
    )
    with pytest.raises(script.Stop, match="pulumi config set --path webui.backup.enabled true"):
        kubectl_run(script, monkeypatch, FakeKubectl(sts), "list", None)


def test_the_stack_settings_come_from_pulumi_config_without_secrets(script, monkeypatch):
    shown = {
        "icc-ollama:target": {"value": "icc", "secret": False},
        "icc-ollama:namespace": {"value": "wabc123-default", "secret": False},
        "icc-ollama:webuiSecretKey": {"secret": True},
        "icc-ollama:webui": {"value": '{"backup": {"retention": 3}}', "secret": False},
    }
    calls = []

    def fake(argv, **kwargs):
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 0, json.dumps(shown), "")

    monkeypatch.setattr(script.subprocess, "run", fake)
    settings = script.stack_settings("icc")
    assert calls == [["pulumi", "config", "--json", "--stack", "icc"]]
    assert settings.namespace == "wabc123-default" and settings.webui.backup.retention == 3
    shown["icc-ollama:webui"]["value"] = '{"backup": {"retention": 0}}'
    with pytest.raises(script.Stop, match="icc-ollama:webui.backup.retention"):
        script.stack_settings("icc")


class FakeContainer:
    def __init__(self, name: str, journal: list, status: str = "running"):
        self.name, self.status, self.journal = name, status, journal
        self.attrs = {"State": {"Health": {"Status": "healthy"}}}

    def exec_run(self, command):
        self.journal.append(("exec", self.name, command[2:]))
        return 0, b"webui-20261201T023000Z-scheduled  2026-12-01 02:30:00 UTC\n"

    def stop(self, timeout):
        self.journal.append(("stop", self.name))

    def start(self):
        self.journal.append(("start", self.name))

    def reload(self):
        pass


def test_a_docker_restore_stops_open_webui_around_the_restore(script, monkeypatch):
    journal: list = []
    containers = {
        "open-webui": FakeContainer("open-webui", journal),
        "open-webui-backup": FakeContainer("open-webui-backup", journal),
    }

    class Client:
        def __init__(self, **kwargs):
            self.containers = type("C", (), {"get": staticmethod(containers.__getitem__)})

        def close(self):
            pass

    import docker

    monkeypatch.setattr(docker, "DockerClient", Client)
    script.docker_target("unix:///x.sock", "restore", "webui-20261201T023000Z-scheduled")
    assert journal == [
        ("exec", "open-webui-backup", ["list"]),
        ("stop", "open-webui"),
        ("exec", "open-webui-backup", ["restore", "webui-20261201T023000Z-scheduled"]),
        ("start", "open-webui"),
    ]


# --- the policy pack sees the sidecar and the claim like any other ------------------------------


@pytest.mark.parametrize(
    "quota, backups, fits",
    [
        # icc: Ollama 4 CPU + loader 200m, Open WebUI 1 CPU + backup sidecar 200m = 5.4 CPU
        ({"limits": {"cpu": "5.4"}}, True, True),
        ({"limits": {"cpu": "5.3"}}, True, False),
        ({"limits": {"cpu": "5.3"}}, False, True),
        # claims: Ollama 20Gi, data 5Gi, backups 5Gi
        ({"storage": "30Gi"}, True, True),
        ({"storage": "29Gi"}, True, False),
        ({"storage": "25Gi"}, False, True),
    ],
)
def test_the_policy_packs_quota_rule_counts_the_backup_parts(quota, backups, fits, monkeypatch):
    sys.path.insert(0, str(ROOT / "policy"))
    import rules
    from facts import from_values
    from test_policy import as_resources

    run = render("icc", monkeypatch, webui={"backup": {"enabled": backups}})
    facts = from_values({"target": "icc", "namespace": "wabc123-default", "quota": quota}, "test")
    problems = rules.check_all(as_resources(run), facts)["quota-fits"]
    assert (problems == []) is fits, problems
