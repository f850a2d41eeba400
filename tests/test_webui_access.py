"""Who gets into Open WebUI, what they see, and how it runs: the same on every target and after
every restart (issue 10). The upstream behaviour behind each setting is cited in
components/webui.py.
"""

import os
import subprocess
import sys

import pytest

from components import webui_env as webui_module
from components.webui_env import ADMIN_SCRIPT, start_command
from harness import (
    GENERATED,
    TEST_ADMIN_PASSWORD,
    TEST_SECRETS,
    run_stack,
    stack_config,
    unwrap_secrets,
)
from settings import SettingsError, parse_settings

STATEFULSET = "kubernetes:apps/v1:StatefulSet"
CONTAINER = "docker:index/container:Container"
SECRETS = frozenset(TEST_SECRETS)
GENERATED_ADMIN_PASSWORD = GENERATED["webuiAdminPassword"]


def webui_pod(run) -> dict:
    return run.one(STATEFULSET, "open-webui").inputs["spec"]["template"]["spec"]


def webui_container(run) -> dict:
    return next(c for c in webui_pod(run)["containers"] if c["name"] == "open-webui")


def k8s_env(run) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in webui_container(run)["env"]}


def docker_webui(run) -> dict:
    return next(r.inputs for r in run.of_type(CONTAINER) if r.inputs.get("name") == "open-webui")


def docker_env(run) -> dict:
    return dict(e.split("=", 1) for e in unwrap_secrets(docker_webui(run)["envs"]))


def admin_start() -> list[str]:
    """What Open WebUI starts with while auth is on (the admin bootstrap, then start.sh)."""
    return start_command(parse("minikube").webui)


def parse(target: str, **extra):
    raw = {**stack_config(target), **TEST_SECRETS, **extra}
    if target == "icc":
        raw["namespace"] = "wabc123-default"
    return parse_settings(raw, SECRETS)


# --- sign-up: one setting, stable env values -----------------------------------------------


@pytest.mark.parametrize(
    "signup, enable, role",
    [("approval", "true", "pending"), ("open", "true", "user"), ("closed", "false", "pending")],
)
@pytest.mark.parametrize("stack", ["minikube", "docker"])
def test_signup_maps_to_stable_env_values(signup, enable, role, stack, monkeypatch):
    run = run_stack(stack, monkeypatch, webui={"signup": signup})
    env = docker_env(run) if stack == "docker" else k8s_env(run)
    assert (env["ENABLE_SIGNUP"], env["DEFAULT_USER_ROLE"]) == (enable, role)


def test_signup_defaults_to_approval_on_every_target():
    for target in ("icc", "minikube", "docker"):
        assert parse(target).webui.signup == "approval"


@pytest.mark.parametrize("old", ["enableSignup", "defaultUserRole"])
def test_retired_signup_keys_say_what_replaced_them(old):
    with pytest.raises(
        SettingsError,
        match=rf"icc-ollama:webui\.{old}: replaced by "
        r"webui\.signup \(approval \| open \| closed\)",
    ):
        parse("minikube", webui={old: "pending"})


# --- the admin account: from stack config, no "first sign-up wins" ---------------------------


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_admin_comes_from_config_and_its_password_from_the_secret(stack, request):
    run = request.getfixturevalue(stack)
    env = k8s_env(run)
    assert env["WEBUI_ADMIN_EMAIL"] == "admin@localhost"
    assert env["WEBUI_ADMIN_PASSWORD"] == {
        "secretKeyRef": {"name": "open-webui-secret", "key": "WEBUI_ADMIN_PASSWORD"}
    }
    secret = run.one("kubernetes:core/v1:Secret", "open-webui-secret").inputs
    assert unwrap_secrets(secret["stringData"])["WEBUI_ADMIN_PASSWORD"] == GENERATED_ADMIN_PASSWORD
    assert webui_container(run)["command"] == admin_start()


def test_docker_creates_the_admin_the_same_way(monkeypatch):
    run = run_stack("docker", monkeypatch, webui={"adminEmail": "chat-admin@haw-hamburg.de"})
    env = docker_env(run)
    assert env["WEBUI_ADMIN_EMAIL"] == "chat-admin@haw-hamburg.de"
    assert env["WEBUI_ADMIN_PASSWORD"] == GENERATED_ADMIN_PASSWORD
    # The same bootstrap, after the pre-upgrade snapshot step (tests/test_backups.py).
    bash, flag, shell, *script = docker_webui(run)["command"]
    assert [bash, flag, *script] == [admin_start()[0], admin_start()[1], *admin_start()[3:]]
    assert shell.endswith(f" prepare && {admin_start()[2]}")
    no_backups = run_stack(
        "docker", monkeypatch, webui={"adminEmail": "a@localhost", "backup": {"enabled": False}}
    )
    assert docker_webui(no_backups)["command"] == admin_start()


def test_without_logins_there_is_no_admin_bootstrap(monkeypatch):
    run = run_stack("docker", monkeypatch, webui={"auth": False})
    env = docker_env(run)
    assert "WEBUI_ADMIN_PASSWORD" not in env and "WEBUI_ADMIN_EMAIL" not in env
    assert "create_admin_user" not in " ".join(docker_webui(run)["command"])
    assert docker_webui(run)["command"][2].endswith(" prepare && exec bash start.sh")
    plain = run_stack("docker", monkeypatch, webui={"auth": False, "backup": {"enabled": False}})
    assert docker_webui(plain).get("command") is None


def test_a_chosen_admin_password_is_secret_and_not_weak():
    raw = {**stack_config("minikube"), **TEST_SECRETS}
    with pytest.raises(SettingsError, match="webuiAdminPassword: stored in plain text"):
        parse_settings(
            {**raw, "webuiAdminPassword": TEST_ADMIN_PASSWORD}, SECRETS - {"webuiAdminPassword"}
        )
    with pytest.raises(
        SettingsError,
        match="webuiAdminPassword.*at least 12 characters.*pulumi config rm webuiAdminPassword",
    ):
        parse_settings({**raw, "webuiAdminPassword": "short"}, SECRETS)


@pytest.mark.parametrize(
    "email, ok",
    [
        ("admin@localhost", True),
        ("chat@haw-hamburg.de", True),
        ("admin", False),
        ("admin@haw", False),
        ("Admin@localhost", False),
        ("a b@x.de", False),
    ],
)
def test_admin_email_follows_open_webuis_own_rule(email, ok):
    # Open WebUI 0.11.0's validate_email_format: name@localhost, or x@y.z; stored in lower case.
    if ok:
        assert parse("minikube", webui={"adminEmail": email}).webui.admin_email == email
    else:
        with pytest.raises(SettingsError, match="icc-ollama:webui.adminEmail"):
            parse("minikube", webui={"adminEmail": email})


# The bootstrap, run for real against a stand-in `open_webui` package with the same two calls
# (create_admin_user, Users.has_users) and a stand-in start.sh.
FAKE_USERS = """
import os
class _Users:
    async def has_users(self):
        return os.path.exists(os.environ["FAKE_DB"])
Users = _Users()
"""
FAKE_AUTH = """
import os
async def create_admin_user(email, password, name="Admin"):
    with open(os.environ["FAKE_CALLS"], "a") as calls:
        calls.write(f"create {email} {password} {name}\\n")
    if os.environ.get("FAKE_CREATE_FAILS") != "1":
        open(os.environ["FAKE_DB"], "w").write(email)
"""
FAKE_START = (
    'echo "server started; password in env: ${WEBUI_ADMIN_PASSWORD:-no}" >> "$FAKE_CALLS"\n'
)


@pytest.fixture
def image(tmp_path):
    package = tmp_path / "site" / "open_webui"
    (package / "models").mkdir(parents=True)
    (package / "utils").mkdir()
    for init in (package, package / "models", package / "utils"):
        (init / "__init__.py").write_text("")
    (package / "models" / "users.py").write_text(FAKE_USERS)
    (package / "utils" / "auth.py").write_text(FAKE_AUTH)
    backend = tmp_path / "backend"
    backend.mkdir()
    (backend / "start.sh").write_text(FAKE_START)
    python_bin = tmp_path / "bin"
    python_bin.mkdir()
    (python_bin / "python3").symlink_to(sys.executable)
    env = {
        "PATH": f"{python_bin}:{os.environ['PATH']}",
        "PYTHONPATH": str(tmp_path / "site"),
        "FAKE_DB": str(tmp_path / "db"),
        "FAKE_CALLS": str(tmp_path / "calls"),
        "WEBUI_ADMIN_EMAIL": "admin@localhost",
        "WEBUI_ADMIN_PASSWORD": TEST_ADMIN_PASSWORD,
    }
    return backend, env, tmp_path / "calls"


def start(image, **extra) -> subprocess.CompletedProcess:
    backend, env, _ = image
    return subprocess.run(
        admin_start(), cwd=backend, env={**env, **extra}, capture_output=True, text=True, timeout=60
    )


def test_bootstrap_creates_the_admin_once_then_starts_the_server_without_the_password(image):
    first, second = start(image), start(image)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "created the admin account admin@localhost" in first.stdout
    assert image[2].read_text().splitlines() == [
        f"create admin@localhost {TEST_ADMIN_PASSWORD} Admin",
        "server started; password in env: no",
        "server started; password in env: no",
    ]


def test_bootstrap_stops_the_start_when_no_admin_could_be_made(image):
    result = start(image, FAKE_CREATE_FAILS="1")
    assert result.returncode != 0
    assert "could not create the admin account admin@localhost" in result.stderr
    assert "server started" not in image[2].read_text()


def test_bootstrap_uses_only_names_the_pinned_open_webui_defines():
    # The names the stand-ins above replace; the contract test checks them in the real package.
    assert "from open_webui.models.users import Users" in ADMIN_SCRIPT.read_text()
    assert "from open_webui.utils.auth import create_admin_user" in ADMIN_SCRIPT.read_text()


# --- what a student sees ----------------------------------------------------------------------


@pytest.mark.parametrize("access, bypass", [("all", "true"), ("granted", "false")])
def test_model_access_is_a_setting(access, bypass, monkeypatch):
    run = run_stack("minikube", monkeypatch, webui={"modelAccess": access})
    assert k8s_env(run)["BYPASS_MODEL_ACCESS_CONTROL"] == bypass


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_every_student_sees_every_model_by_default(stack, request):
    assert k8s_env(request.getfixturevalue(stack))["BYPASS_MODEL_ACCESS_CONTROL"] == "true"


@pytest.mark.parametrize("stack", ["icc", "minikube", "docker"])
def test_students_see_no_evaluation_arena_model(stack, request, monkeypatch):
    # Open WebUI 0.11 adds an `arena-model` to every user's list unless this is false.
    run = run_stack(stack, monkeypatch) if stack == "docker" else request.getfixturevalue(stack)
    env = docker_env(run) if stack == "docker" else k8s_env(run)
    assert env["ENABLE_EVALUATION_ARENA_MODELS"] == "false"


def test_granted_access_names_the_admin_page_of_the_pinned_open_webui():
    settings = parse("minikube", webui={"modelAccess": "granted"})
    login = webui_module.login_hint(settings.webui, "http://localhost:8080", "cmd")
    assert login.endswith("only after the admin grants it in Admin Panel > Settings > Models")
    assert "Workspace" not in login


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_login_hint_says_how_to_sign_in_and_what_students_get(stack, request):
    login = request.getfixturevalue(stack).exports["nextSteps"]["login"]
    assert "sign in as admin@localhost" in login
    assert f"pulumi stack output --show-secrets webuiAdminPassword -s {stack}" in login
    assert "wait as pending until the admin approves them" in login
    assert "every user sees every model" in login
    assert "first account" not in login


def test_docker_login_hint_names_the_published_url(monkeypatch):
    login = run_stack("docker", monkeypatch).exports["nextSteps"]["login"]
    assert login.startswith("open http://127.0.0.1:3000; admin: sign in as admin@localhost")
    assert "pulumi stack output --show-secrets webuiAdminPassword -s docker" in login


@pytest.mark.parametrize(
    "signup, words", [("open", "chat at once"), ("closed", "the admin adds each account")]
)
def test_login_hint_follows_the_signup_setting(signup, words):
    settings = parse("minikube", webui={"signup": signup})
    assert words in webui_module.login_hint(settings.webui, "http://localhost:8080", "cmd")


# --- CORS, embeddings, probes -------------------------------------------------------------------


def test_cors_allows_the_port_forward_only_without_an_ingress(minikube):
    assert k8s_env(minikube)["CORS_ALLOW_ORIGIN"] == "http://localhost:8080;http://127.0.0.1:8080"


def test_cors_allows_the_ingress_url(monkeypatch):
    run = run_stack("minikube", monkeypatch, ingress={"enabled": True}, webui={"localPort": 8181})
    assert k8s_env(run)["CORS_ALLOW_ORIGIN"].split(";") == [
        "http://localhost:8181",
        "http://127.0.0.1:8181",
        "http://open-webui.minikube.local",
    ]


def test_docker_cors_allows_the_published_url(monkeypatch):
    run = run_stack("docker", monkeypatch, docker={"webuiPort": 3300})
    assert docker_env(run)["CORS_ALLOW_ORIGIN"] == "http://localhost:3300;http://127.0.0.1:3300"


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_embeddings_use_the_ollama_service(stack, request):
    run = request.getfixturevalue(stack)
    namespace = run.exports["namespace"]
    assert (
        k8s_env(run)["RAG_OLLAMA_BASE_URL"] == f"http://ollama.{namespace}.svc.cluster.local:11434"
    )


def test_docker_embeddings_use_the_ollama_container(monkeypatch):
    assert (
        docker_env(run_stack("docker", monkeypatch))["RAG_OLLAMA_BASE_URL"] == "http://ollama:11434"
    )


@pytest.mark.parametrize("stack", ["minikube", "docker"])
def test_a_start_asks_the_model_hub_only_for_a_missing_embedding_model(stack, monkeypatch):
    run = run_stack(stack, monkeypatch)
    env = docker_env(run) if stack == "docker" else k8s_env(run)
    assert env["RAG_EMBEDDING_MODEL_AUTO_UPDATE"] == "false"
    assert env["RAG_RERANKING_MODEL_AUTO_UPDATE"] == "false"
    assert "OFFLINE_MODE" not in env


@pytest.mark.parametrize("stack", ["minikube", "docker"])
def test_offline_asks_no_model_hub_at_all(stack, monkeypatch):
    run = run_stack(stack, monkeypatch, webui={"offline": True})
    env = docker_env(run) if stack == "docker" else k8s_env(run)
    assert env["OFFLINE_MODE"] == "true"


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_readiness_waits_for_startup_and_database(stack, request):
    container = webui_container(request.getfixturevalue(stack))
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8080}
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"


# --- non-root with a read-only root ---------------------------------------------------------------


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_open_webui_runs_as_non_root_with_group_zero(stack, request):
    pod = webui_pod(request.getfixturevalue(stack))
    context = pod["securityContext"]
    assert context["runAsNonRoot"] is True and context["runAsUser"] == 10001
    assert context["runAsGroup"] == 0 and context["fsGroup"] == 10001
    assert (
        webui_container(request.getfixturevalue(stack))["securityContext"]["readOnlyRootFilesystem"]
        is True
    )


def test_every_directory_open_webui_writes_is_a_volume(minikube):
    pod = webui_pod(minikube)
    mounts = {m["mountPath"]: m["name"] for m in webui_container(minikube)["volumeMounts"]}
    assert mounts == {
        "/app/backend/data": "data",
        "/app/backend/open_webui/static": "static",
        "/tmp": "tmp",
    }
    volumes = {v["name"]: v for v in pod["volumes"]}
    # data (and backups) are claim templates; the backup script comes from a ConfigMap.
    assert set(volumes) == {"static", "tmp", "backup-script"}
    assert volumes.pop("backup-script")["configMap"]["name"] == "open-webui-scripts"
    assert all("sizeLimit" in v["emptyDir"] for v in volumes.values())
    assert k8s_env(minikube)["HOME"] == "/tmp"


def test_the_static_directory_is_seeded_from_the_image(minikube):
    seed = webui_pod(minikube)["initContainers"][0]
    assert seed["image"] == webui_container(minikube)["image"]
    assert seed["command"] == ["cp", "-R", "/app/backend/open_webui/static/.", "/seed"]
    assert seed["volumeMounts"] == [{"name": "static", "mountPath": "/seed"}]
