"""A new user's first run with the real Pulumi CLI 3.259.0: `make preview`, `make config-set`,
`make up` twice, `make config-get`, a lost own file, all in a fresh clone with HOME in a temp dir
and the default `file://~/.icc-ollama/state` backend.

No cluster: the clone's `__main__.py` is swapped for a program that only reads the stack's
settings and exports what it saw, so this checks the CLI behaviour scripts/up.sh relies on
(`stack init` in a scratch project, `--config-file` for config/preview/up, the passphrase salt in
the user's own file, the fallback to the state's salt), not the resources (test_engine.py).
"""

import os
import stat
import subprocess

import pytest
import yaml
from fresh_clone import Clone

from e2e_support import missing_tools, tools_bin

pytestmark = pytest.mark.e2e
CLI_TOOLS = ("pulumi", "pulumi-language-python", "pulumi-language-python-exec")

SETTINGS_ONLY = '''"""Stand-in program for tests/e2e/test_first_run.py: exports the settings."""
import pulumi

config = pulumi.Config()
pulumi.export("target", config.require("target"))
pulumi.export("namespace", config.get("namespace"))
pulumi.export("models", config.get_object("ollama", {}).get("models"))
pulumi.export("secrets", [key for key in ("webuiSecretKey", "webuiAdminPassword",
                                          "grafanaAdminPassword")
                          if config.get_secret(key) is not None])
pulumi.export("nextSteps", "make output STACK=" + pulumi.get_stack())
'''


@pytest.fixture
def clone(tmp_path):
    bin_dir = tools_bin()  # only the CLI and the Python language host: no cluster here
    missing = missing_tools(bin_dir, CLI_TOOLS)
    if missing:
        pytest.skip(f"missing in {bin_dir}: {', '.join(missing)}; run scripts/e2e-tools.sh")
    # No Docker Engine either: the pre-flight has its own tests (test_docker_engine.py).
    clone = Clone(
        tmp_path,
        bin_dir,
        replace={
            "__main__.py": SETTINGS_ONLY,
            "scripts/docker_preflight.py": "raise SystemExit(0)\n",
        },
    )
    # The stand-in language host (v3.79.0, see CONTRIBUTING.md) runs the first `python3` on PATH.
    clone.env["PATH"] = (
        f"{bin_dir}{os.pathsep}{clone.dir / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"
    )
    clone.env.update(
        PULUMI_SKIP_CONFIRMATIONS="true",
        NO_COLOR="1",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        # The stand-in program makes no resources for the ICC rules to check, and this tier's
        # language host cannot start the pack folder: test_policy_engine.py runs the pack.
        ICC_OLLAMA_POLICY_PACK="",
    )
    return clone


def outputs(clone: Clone, stack: str) -> dict:
    shown = subprocess.run(
        ["scripts/up.sh", stack, "output", "--json"],
        cwd=clone.dir,
        env=clone.env,
        capture_output=True,
        text=True,
        check=True,
    )
    return yaml.safe_load(shown.stdout)


def test_first_run_with_the_real_cli(clone):
    preview = clone.make("preview", "STACK=icc")
    assert "throw-away" in preview.stdout
    assert clone.status() == ""
    assert not (clone.home / ".icc-ollama").exists(), "a preview must create nothing"

    clone.make("config-set", "STACK=icc", "KEY=namespace", "VALUE=wabc123-default")
    home = clone.home / ".icc-ollama"
    assert stat.S_IMODE((home / "passphrase").stat().st_mode) == 0o600
    own = yaml.safe_load(clone.own("icc").read_text())
    assert own["encryptionsalt"].startswith("v1:")
    assert own["config"] == {"icc-ollama:namespace": "wabc123-default"}

    clone.make("up", "STACK=icc")
    assert clone.status() == ""
    seen = outputs(clone, "icc")
    assert seen["target"] == "icc" and seen["models"] == ["llama3.2:1b", "phi3"]
    assert seen["namespace"] == "wabc123-default"
    assert seen["secrets"] == ["webuiSecretKey", "webuiAdminPassword"]  # monitoring is off
    password = clone.make("config-get", "STACK=icc", "KEY=webuiAdminPassword").stdout.strip()
    assert len(password) >= 24

    kept = (home / "passphrase").read_bytes(), clone.own("icc").read_bytes()
    again = clone.make("up", "STACK=icc")
    assert "Generated" not in again.stdout
    assert ((home / "passphrase").read_bytes(), clone.own("icc").read_bytes()) == kept

    clone.make("config-set", "STACK=icc", "KEY=monitoring.enabled", "VALUE=true")
    before = clone.own("icc").read_bytes()
    preview = clone.make("preview", "STACK=icc")
    assert "throw-away grafanaAdminPassword" in preview.stdout
    assert clone.own("icc").read_bytes() == before
    clone.make("up", "STACK=icc")
    assert "grafanaAdminPassword" in outputs(clone, "icc")["secrets"]

    bare = subprocess.run(
        ["bash", "-c", ". scripts/env.sh && pulumi stack output --show-secrets -s icc namespace"],
        cwd=clone.dir,
        env=clone.env,
        capture_output=True,
        text=True,
    )
    assert bare.stdout.strip() == "wabc123-default", bare.stderr
    assert clone.status() == ""


def test_lost_own_file_gets_the_salt_back_from_the_state(clone):
    clone.make("up", "STACK=docker")
    salt = yaml.safe_load(clone.own("docker").read_text())["encryptionsalt"]
    os.remove(clone.own("docker"))
    clone.make("up", "STACK=docker")  # new secrets, but the stack's own salt (FALLBACK_TO_STATE)
    assert yaml.safe_load(clone.own("docker").read_text())["encryptionsalt"] == salt
    assert clone.status() == ""
