"""What Open WebUI is told, the same on every target: its environment, secrets, start command and
the login hint. Shared by components/webui.py (Kubernetes) and components/docker_stack.py.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from settings.webui import WebUi

PORT = 8080
DATA_DIR = "/app/backend/data"
# Creates the admin account before the server starts, then starts the image's own command
# (`bash start.sh` in /app/backend) without the password in its environment. Not left to the
# server's own headless-admin path on purpose: in Open WebUI 0.11.0, after its start-up creates
# the admin from WEBUI_ADMIN_EMAIL/WEBUI_ADMIN_PASSWORD it also sets `ui.enable_signup = False`,
# and with ENABLE_PERSISTENT_CONFIG=false its `Config.upsert` keeps that value in memory only:
# sign-up would be closed until the first restart and open after it. Its `create_admin_user`
# (open_webui.utils.auth) does nothing once any user exists, so this runs at every start and
# changes nothing after the first.
ADMIN_SCRIPT = Path(__file__).resolve().parents[1] / "payloads" / "webui-admin.py"
START_SHELL = 'python3 -c "$1" && unset WEBUI_ADMIN_PASSWORD && exec bash start.sh'

# What each `webui.signup` means: Open WebUI's ENABLE_SIGNUP and DEFAULT_USER_ROLE (0.11.0: the
# sign-up route gives a new account the role `ui.default_user_role`, except the very first user,
# who becomes admin).
SIGNUP_ENV = {
    "approval": {"ENABLE_SIGNUP": "true", "DEFAULT_USER_ROLE": "pending"},
    "open": {"ENABLE_SIGNUP": "true", "DEFAULT_USER_ROLE": "user"},
    "closed": {"ENABLE_SIGNUP": "false", "DEFAULT_USER_ROLE": "pending"},
}


def browser_origins(local_port: int, public_url: str | None = None) -> tuple[str, ...]:
    """Where browsers open Open WebUI: the local port-forward (or published port) and the
    public URL. Its socket.io server (Open WebUI 0.11.0) takes CORS_ALLOW_ORIGIN as its allowed
    origins and refuses the others once that is a list, so every address the README names is
    here."""
    origins = [f"http://localhost:{local_port}", f"http://127.0.0.1:{local_port}"]
    if public_url and public_url not in origins:
        origins.append(public_url)
    return tuple(origins)


def webui_env(
    webui: WebUi,
    ollama_urls: tuple[str, ...],
    public_url: str | None,
    origins: tuple[str, ...],
    rag_ollama_url: str | None = None,
) -> dict[str, str]:
    """Plain (non-secret) environment, shared by the Kubernetes and Docker targets."""
    env = {
        # Each replica is listed so Open WebUI sees which models each one holds.
        "OLLAMA_BASE_URLS": ";".join(ollama_urls),
        "ENABLE_OLLAMA_API": "true" if ollama_urls else "false",
        "WEBUI_AUTH": str(webui.auth).lower(),
        **SIGNUP_ENV[webui.signup],
        # Without it Open WebUI 0.11.0 lists a model to admins only until the admin sets its
        # access (its per-user model filter); `granted` keeps that per-model step.
        "BYPASS_MODEL_ACCESS_CONTROL": str(webui.model_access == "all").lower(),
        "ENABLE_PERSISTENT_CONFIG": str(webui.persistent_config).lower(),
        "ENABLE_OPENAI_API": str(webui.openai.enabled).lower(),
        # Open WebUI 0.11.0's default "*" lets any site use a signed-in browser's session.
        "CORS_ALLOW_ORIGIN": ";".join(origins),
        "UVICORN_WORKERS": "1",
    }
    if ollama_urls or rag_ollama_url:
        # Open WebUI 0.11.0 defaults it to its OLLAMA_BASE_URL, in the image
        # http://host.docker.internal:11434: wrong everywhere here once an admin switches
        # embeddings to Ollama.
        env["RAG_OLLAMA_BASE_URL"] = rag_ollama_url or ollama_urls[0]
    if webui.auth:
        env["WEBUI_ADMIN_EMAIL"] = webui.admin_email
    if webui.openai.enabled:
        env["OPENAI_API_BASE_URL"] = webui.openai.base_url
    if public_url:
        env["WEBUI_URL"] = public_url
    return env


def webui_secret_env(
    secret_key: pulumi.Input[str],
    openai_api_key: pulumi.Input[str] | None,
    admin_password: pulumi.Input[str] | None = None,
) -> dict[str, pulumi.Output[str]]:
    """Secret environment, shared by the Kubernetes and Docker targets; every value stays secret."""
    # The key comes from stack config, so it is the same on every update: users stay logged in.
    env = {"WEBUI_SECRET_KEY": pulumi.Output.secret(secret_key)}
    if admin_password is not None:
        env["WEBUI_ADMIN_PASSWORD"] = pulumi.Output.secret(admin_password)
    if openai_api_key is not None:
        env["OPENAI_API_KEY"] = pulumi.Output.secret(openai_api_key)
    return env


def start_command(webui: WebUi) -> list[str] | None:
    """The container command: the admin bootstrap first when there are logins, else the image's."""
    if not webui.auth:
        return None
    return ["bash", "-c", START_SHELL, "create-admin", ADMIN_SCRIPT.read_text()]


def login_hint(webui: WebUi, url: str, password_command: str) -> str:
    """How to sign in, for the `login` export: the admin's e-mail, where the password is, and
    what a student gets."""
    if not webui.auth:
        return f"open {url}; no login (webui.auth is false): everyone who reaches it is the admin"
    admin = (
        f"open {url}; admin: sign in as {webui.admin_email} with the initial password from "
        f"`{password_command}`"
    )
    students = {
        "approval": (
            "students: 'Sign up', then wait as pending until the admin approves them in "
            "Admin Panel > Users (role user)"
        ),
        "open": "students: 'Sign up' and chat at once (role user)",
        "closed": (
            "students: no sign-up; the admin adds each account in Admin Panel > Users > '+'"
        ),
    }[webui.signup]
    models = (
        "every user sees every model"
        if webui.model_access == "all"
        else "a model is visible to students only after the admin grants it in Workspace > Models"
    )
    return f"{admin}; {students}; {models}"
