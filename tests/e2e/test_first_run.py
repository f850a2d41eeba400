"""A new user's first steps with the real Pulumi CLI 3.259.0, in a fresh clone and a fresh home,
with the commands the README gives (bare `pulumi`, and `make` on the same stack).

Values: the README's `pulumi config set` commands for a value with a leading `-`, a password
with `$`, `'` and a space, and a list reach both `pulumi config get` and the program's own
settings loader unchanged. The program here is a stand-in that runs the real settings loader
(settings.load_settings) and exports what it parsed: no cluster is needed for this part.
"""

import json
import subprocess

import pytest
from fresh_clone import Clone

from e2e_support import PASSPHRASE, missing_tools, tools_bin

pytestmark = pytest.mark.e2e
CLI_TOOLS = ("pulumi", "pulumi-language-python", "pulumi-language-python-exec")
PASSWORD = "Xy$Home-'Secret 12345"

SETTINGS_ONLY = '''"""Stand-in program (tests/e2e/test_first_run.py): the real settings loader."""
import pulumi

from settings import load_settings

settings = load_settings()
pulumi.export("keepAlive", settings.ollama.keep_alive)
pulumi.export("models", list(settings.ollama.models))
pulumi.export("namespace", settings.namespace)
pulumi.export("adminPassword", pulumi.Output.secret(
    settings.webui_admin_password.get_secret_value()))
'''


@pytest.fixture
def clone(tmp_path):
    bin_dir = tools_bin()
    missing = missing_tools(bin_dir, CLI_TOOLS)
    if missing:
        pytest.skip(f"missing in {bin_dir}: {', '.join(missing)}; run scripts/e2e-tools.sh")
    clone = Clone(tmp_path, bin_dir, replace={"__main__.py": SETTINGS_ONLY})
    clone.real_cli(bin_dir)
    clone.env["PULUMI_CONFIG_PASSPHRASE"] = PASSPHRASE
    return clone


def pulumi(clone: Clone, *args: str, input: str | None = None) -> str:
    done = subprocess.run(
        ["pulumi", *args],
        cwd=clone.dir,
        env=clone.env,
        input=input,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"pulumi {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout


def test_readme_config_commands_keep_every_value_intact(clone):
    pulumi(clone, "stack", "init", "minikube", "--secrets-provider", "passphrase")
    # The README's commands, as a user types them (a value starting with `-` after `--`; a
    # secret from standard input, so the shell never sees it).
    pulumi(clone, "config", "set", "--path", "ollama.keepAlive", "--", "-1")
    pulumi(clone, "config", "set", "--secret", "webuiAdminPassword", input=PASSWORD)
    pulumi(clone, "config", "set", "--path", "ollama.models[0]", "llama3.2:1b")
    pulumi(clone, "config", "set", "--path", "ollama.models[1]", "phi3:mini")

    assert pulumi(clone, "config", "get", "--path", "ollama.keepAlive").strip() == "-1"
    assert pulumi(clone, "config", "get", "webuiAdminPassword").rstrip("\n") == PASSWORD
    assert pulumi(clone, "config", "get", "--path", "ollama.models[1]").strip() == "phi3:mini"

    pulumi(clone, "up", "--yes", "--skip-preview")
    seen = json.loads(pulumi(clone, "stack", "output", "--json", "--show-secrets"))
    assert seen == {
        "keepAlive": "-1",
        "models": ["llama3.2:1b", "phi3:mini"],
        "namespace": "icc-ollama",
        "adminPassword": PASSWORD,
    }
    # Only what `pulumi stack init` and `pulumi config set` wrote, in the stack's own file.
    assert clone.status().split() == ["M", "Pulumi.minikube.yaml"]
    # A preview writes nothing, and make works on the same stack.
    before = (clone.dir / "Pulumi.minikube.yaml").read_bytes()
    pulumi(clone, "preview", "--expect-no-changes")
    assert (clone.dir / "Pulumi.minikube.yaml").read_bytes() == before
