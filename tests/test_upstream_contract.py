"""Contract with the pinned Open WebUI: every variable the program sets is read by that version's
code, the probe paths are routes, and the admin bootstrap calls what that version defines.

The backend is read from the `open-webui` package on PyPI (the same code the pinned image runs),
downloaded once into ~/.cache/icc-ollama-upstream (about 145 MB; outside the repository, read in
place, never copied into it). Without network access the test is skipped and says so.
"""

from __future__ import annotations

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
def package() -> dict[str, str]:
    """The package's Python sources, path -> text (open_webui/... only)."""
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
        for auth in (True, False):
            webui = WebUi(
                resources=Resources(requests=amounts, limits=amounts),
                storage=Storage(size="1Gi"),
                signup=signup,
                auth=auth,
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
