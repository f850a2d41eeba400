"""Contract with the pinned Open WebUI: every variable the program sets is read by that version's
code, the probe paths are routes, the admin bootstrap calls what that version defines, and the
behaviour the program's comments and the README rely on (sign-up, in-memory settings, the arena
model, the embedding model's updates, the static folder, the admin page for model access) is
still what that version does.

The backend is read from the `open-webui` package on PyPI (the same code the pinned image runs),
downloaded once into ~/.cache/icc-ollama-upstream (about 105 MB for 0.12.4; outside the
repository, read in place, never copied into it). Without network access the test is skipped and
says so.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from components.webui_env import (
    ADMIN_SCRIPT,
    SIGNUP_ENV,
    browser_origins,
    webui_env,
    webui_secret_env,
)
from harness import run_stack
from settings.base import Resources, Storage
from settings.webui import OpenAi, WebUi

pytestmark = pytest.mark.slow

CACHE = Path(
    os.environ.get("ICC_OLLAMA_UPSTREAM_CACHE", Path.home() / ".cache" / "icc-ollama-upstream")
)
# Set for the process, not for Open WebUI: where Python libraries put caches (non-root user).
OUTSIDE_THE_PACKAGE = {"HOME"}


def open_webui_version() -> str:
    image = WebUi.model_fields["image"].default
    return image.rsplit(":v", 1)[1]


@pytest.fixture(scope="module")
def wheel() -> Path:
    """The pinned version's wheel from PyPI (downloaded once)."""
    version = open_webui_version()
    wheel = CACHE / f"open_webui-{version}-py3-none-any.whl"
    if not wheel.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "-d",
                str(CACHE),
                f"open-webui=={version}",
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if result.returncode != 0 or not wheel.exists():
            reason = result.stderr.strip()[-300:]
            pytest.skip(
                f"could not download open-webui=={version} from PyPI, so the contract "
                f"with the pinned Open WebUI is NOT checked: {reason}"
            )
    return wheel


@pytest.fixture(scope="module")
def package(wheel) -> dict[str, str]:
    """The package's Python sources, path -> text (open_webui/... only)."""
    with zipfile.ZipFile(wheel) as archive:
        return {
            name: archive.read(name).decode("utf-8")
            for name in archive.namelist()
            if name.startswith("open_webui/")
            and name.endswith(".py")
            and "/migrations/" not in name
        }


def read_by_package(sources: dict[str, str], name: str) -> bool:
    pattern = re.compile(
        rf"""os\.(getenv|environ\.get)\(\s*['"]{name}['"]|"""
        rf"""os\.environ\[\s*['"]{name}['"]\s*\]"""
    )
    return any(pattern.search(text) for text in sources.values())


def every_env_name() -> set[str]:
    """Every variable the program can give Open WebUI, over the settings that add variables."""
    names: set[str] = set()
    amounts = {"cpu": "1", "memory": "1Gi"}
    for signup in SIGNUP_ENV:
        for auth, offline in ((True, True), (False, False)):
            webui = WebUi(
                resources=Resources(requests=amounts, limits=amounts),
                storage=Storage(size="1Gi"),
                signup=signup,
                auth=auth,
                offline=offline,
                openai=OpenAi(enabled=True),
            )
            names |= set(
                webui_env(
                    webui,
                    ("http://ollama:11434",),
                    "https://chat.example.org",
                    browser_origins(8080, "https://chat.example.org"),
                )
            )
    names |= set(webui_secret_env("k", "o", "p"))
    return names


def test_every_variable_the_program_sets_is_read_by_the_pinned_open_webui(package):
    names = every_env_name()
    assert {
        "ENABLE_SIGNUP",
        "WEBUI_ADMIN_EMAIL",
        "WEBUI_ADMIN_PASSWORD",
        "BYPASS_MODEL_ACCESS_CONTROL",
        "CORS_ALLOW_ORIGIN",
        "RAG_OLLAMA_BASE_URL",
        "ENABLE_EVALUATION_ARENA_MODELS",
        "RAG_EMBEDDING_MODEL_AUTO_UPDATE",
        "OFFLINE_MODE",
    } <= names
    unread = sorted(
        name for name in names - set(OUTSIDE_THE_PACKAGE) if not read_by_package(package, name)
    )
    assert unread == [], f"not read by open-webui {open_webui_version()}: {unread}"


@pytest.mark.parametrize("stack", ["minikube", "icc"])
def test_the_rendered_container_sets_nothing_else(stack, package, monkeypatch):
    extra = {"namespace": "wabc123-default"} if stack == "icc" else {}
    run = run_stack(stack, monkeypatch, **extra)
    spec = run.one("kubernetes:apps/v1:StatefulSet", "open-webui").inputs["spec"]
    # Open WebUI's own container (its pod also runs the backup sidecar, which is not Open WebUI).
    containers = spec["template"]["spec"]["containers"]
    (container,) = [c for c in containers if c["name"] == "open-webui"]
    names = {entry["name"] for entry in container["env"]}
    assert names - OUTSIDE_THE_PACKAGE <= every_env_name()


def route_paths(sources: dict[str, str]) -> set[str]:
    return set(re.findall(r"""@app\.get\(\s*['"]([^'"]+)['"]""", sources["open_webui/main.py"]))


def test_probe_paths_are_routes_of_the_pinned_open_webui(package):
    assert {"/health", "/ready"} <= route_paths(package)


def test_the_admin_bootstrap_calls_what_the_pinned_open_webui_defines(package):
    auth, users = package["open_webui/utils/auth.py"], package["open_webui/models/users.py"]
    assert re.search(r"async def create_admin_user\(email: str, password: str, name: str", auth)
    # It does nothing while a user exists: running it at every start changes nothing later.
    assert re.search(r"if await Users\.has_users\(\):\s+log\.debug\([^)]*\)\s+return None", auth)
    assert "async def has_users(self" in users and re.search(r"^Users = ", users, re.M)
    assert "from open_webui.models.users import Users" in ADMIN_SCRIPT.read_text()


def test_the_servers_own_admin_path_still_closes_signup(package):
    # Why the bootstrap runs before the server (components/webui.py): the server's own path
    # turns sign-up off in memory. If a later version stops doing that, the bootstrap may go.
    main = package["open_webui/main.py"]
    assert re.search(
        r"if await create_admin_user\(WEBUI_ADMIN_EMAIL, WEBUI_ADMIN_PASSWORD, "
        r"WEBUI_ADMIN_NAME\):\s+#[^\n]*\s+await Config\.upsert\(\{'ui\.enable_signup'"
        r": False\}\)",
        main,
    )


def test_signup_values_are_what_the_pinned_open_webui_parses(package):
    config = package["open_webui/config.py"]
    assert "os.getenv('ENABLE_SIGNUP', 'True').lower() == 'true'" in config
    assert "DEFAULT_USER_ROLE = os.getenv('DEFAULT_USER_ROLE', 'pending')" in config
    roles = {env["DEFAULT_USER_ROLE"] for env in SIGNUP_ENV.values()}
    assert roles <= {"pending", "user"}


def test_persistent_config_off_keeps_saved_settings_in_memory(package):
    # What webui.persistentConfig: false and the admin bootstrap rely on: a setting saved while
    # ENABLE_PERSISTENT_CONFIG is false goes to the in-memory defaults, never the database.
    config, models_config = package["open_webui/config.py"], package["open_webui/models/config.py"]
    assert "os.getenv('ENABLE_PERSISTENT_CONFIG', 'True').lower() == 'true'" in config
    assert re.search(
        r"if Config\.persistent_enabled_for\(key\):\s+persistent_updates\[key\] = value\s+"
        r"else:\s+Config\.DEFAULTS\[key\] = value",
        models_config,
    )


def test_the_arena_model_is_listed_only_when_enabled(package):
    config, models = package["open_webui/config.py"], package["open_webui/utils/models.py"]
    assert re.search(
        r"ENABLE_EVALUATION_ARENA_MODELS = os\.getenv\(\s*'ENABLE_EVALUATION_ARENA_MODELS'", config
    )
    assert "'id': 'arena-model'" in config
    assert re.search(r"if config\.get\('evaluation\.arena\.enable'\):", models)


def test_without_auto_update_a_start_uses_the_embedding_model_on_the_volume(package):
    # RAG_EMBEDDING_MODEL_AUTO_UPDATE=false: the model is looked up in SENTENCE_TRANSFORMERS_HOME
    # (under DATA_DIR in the image) with local_files_only, so a kept copy needs no model hub.
    config, retrieval = package["open_webui/config.py"], package["open_webui/retrieval/utils.py"]
    env = package["open_webui/env.py"]
    assert "os.getenv('RAG_EMBEDDING_MODEL_AUTO_UPDATE', 'True')" in config
    assert "os.getenv('RAG_RERANKING_MODEL_AUTO_UPDATE', 'True')" in config
    assert "cache_dir = os.getenv('SENTENCE_TRANSFORMERS_HOME')" in retrieval
    assert "local_files_only = not update_model" in retrieval
    # OFFLINE_MODE (webui.offline) turns the hub off for every library that asks it.
    assert re.search(r"if OFFLINE_MODE:\s+os\.environ\['HF_HUB_OFFLINE'\] = '1'", env)


def test_the_admin_bootstrap_runs_the_migrations_before_the_server(package):
    # Importing create_admin_user imports open_webui.config, which runs Alembic at import: the
    # admin bootstrap (components/webui_env.py) is the first process to migrate the database.
    assert "from open_webui.utils.access_control import" in package["open_webui/utils/auth.py"]
    access = package["open_webui/utils/access_control/__init__.py"]
    assert "from open_webui.config import" in access
    assert re.search(
        r"if ENABLE_DB_MIGRATIONS:\s+run_migrations\(\)", package["open_webui/config.py"]
    )


def test_the_static_directory_still_needs_the_seed(wheel, package):
    # At import the package re-copies the frontend build's static files into STATIC_DIR (and
    # raises without that folder); files only the package's own static folder has (swagger-ui)
    # come from the image, so the Kubernetes pods seed their emptyDir from it.
    assert (
        "raise RuntimeError(f'Static asset source directory not found"
        in (package["open_webui/config.py"])
    )
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    own = {
        n.removeprefix("open_webui/static/") for n in names if n.startswith("open_webui/static/")
    }
    build = {
        n.removeprefix("open_webui/frontend/static/")
        for n in names
        if n.startswith("open_webui/frontend/static/")
    }
    assert own - build, "every static file now comes from the frontend build: the seed may go"


def test_the_admin_email_rule_is_the_settings_rule(package):
    misc = package["open_webui/utils/misc.py"]
    assert re.search(
        r"def validate_email_format\(email: str\) -> bool:\s+if email\.endswith\('@localhost'\):"
        r"\s+return True\s+return bool\(re\.match\(r'\[\^@\]\+@\[\^@\]\+\\\.\[\^@\]\+', email\)\)",
        misc,
    )


def test_model_access_lives_on_the_admin_models_page(wheel):
    # The README sends admins to Admin Panel > Settings > Models to grant a model: that page's
    # component (from the frontend's source maps) has the per-model "Make Public" button and
    # the editor with "Access", and both save through the model access API.
    wanted = {
        "src/lib/components/admin/Settings/Models.svelte": (
            "Make Public",
            "updateModelAccessGrants",
        ),
        "src/lib/components/workspace/Models/ModelEditor.svelte": ("AccessButton",),
        "src/routes/(app)/admin/settings/[tab]/+page.svelte": (),
    }
    found: dict[str, str] = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if not (name.startswith("open_webui/frontend/") and name.endswith(".js.map")):
                continue
            text = archive.read(name).decode("utf-8")
            if not any(key.rsplit("/", 1)[-1] in text for key in wanted):
                continue
            source_map = json.loads(text)
            sources = source_map.get("sources", [])
            contents = source_map.get("sourcesContent") or [None] * len(sources)
            for source, content in zip(sources, contents, strict=True):
                for key in wanted:
                    if content and source.endswith(key):
                        found[key] = content
    assert set(found) == set(wanted), sorted(set(wanted) - set(found))
    for key, words in wanted.items():
        for word in words:
            assert word in found[key], (key, word)
