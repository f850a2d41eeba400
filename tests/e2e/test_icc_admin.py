"""An ICC admin's first deployment with plain Pulumi, as the README's quick start gives it, then
`make` and bare `pulumi` on the same stack (issue 23).

In a fresh clone and a fresh home (`~/.kube/config` is the kwok cluster's kubeconfig; Pulumi's
state and plugins in that home's ~/.pulumi, where Pulumi.yaml's `file://~` puts them for a new
user), the README's "ICC admin: plain Pulumi" block runs line by line in one bash, with three
changes this tier needs, each matched against the README so that a changed quick start fails
here instead of going untested:

* `pulumi install` installs the providers from files instead (the Kubernetes provider built by
  scripts/e2e-tools.sh, the stand-in random provider in tests/e2e/standins): it would download
  them from GitHub, which this machine cannot reach; the virtualenv is the repository's;
* `--policy-pack policy` names the pack's executable launcher (tests/e2e/test_policy_engine.py
  explains why this tier's language host cannot start a pack folder), and `up` gets `--yes`;
* before `up`, `pulumi config set iccApiServer <kwok's API server>`: the stack refuses any cluster
  that is not the ICC, and the ICC is the kwok control plane here.

Then `make preview STACK=icc ARGS=--expect-no-changes` and bare `pulumi preview -s icc
--expect-no-changes` must pass, and `git status` shows only Pulumi.icc.yaml, changed by
`pulumi stack init` and `pulumi config set`.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from fresh_clone import Clone

from e2e_support import (
    K8S_SDK_VERSION,
    ROOT,
    claim_volumes,
    policy_launcher,
    stack_settings,
)

pytestmark = pytest.mark.e2e

README = ROOT / "README.md"
RANDOM_STANDIN = Path(__file__).resolve().parent / "standins" / "pulumi-resource-random"
RANDOM_SDK_VERSION = "4.21.4"  # pulumi-random in requirements.txt


def quick_start(title: str) -> list[str]:
    """The command lines of the README's first sh block under the heading `title`."""
    text = README.read_text()
    section = text[text.index(f"### {title}\n") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, f"no sh block under '### {title}' in README.md"
    return [line for line in block.group(1).splitlines() if line.strip()]


def replace_line(lines: list[str], start: str, new: list[str]) -> list[str]:
    found = [i for i, line in enumerate(lines) if line.startswith(start)]
    assert len(found) == 1, f"the README's ICC quick start no longer has one line `{start}...`"
    return lines[: found[0]] + new + lines[found[0] + 1 :]


def admin_script(lines: list[str], launcher: Path, bin_dir: Path, api_server: str) -> str:
    installs = [
        f"pulumi plugin install resource kubernetes {K8S_SDK_VERSION} "
        f"--file {shlex.quote(str(bin_dir / 'pulumi-resource-kubernetes'))}",
        f"pulumi plugin install resource random {RANDOM_SDK_VERSION} "
        f"--file {shlex.quote(str(RANDOM_STANDIN))}",
    ]
    lines = replace_line(lines, "pulumi install", installs)
    up = next(line for line in lines if line.startswith("pulumi up -s icc"))
    assert "--policy-pack policy" in up, up
    up = up.replace("--policy-pack policy", f"--policy-pack {shlex.quote(str(launcher))} --yes")
    lines = replace_line(
        lines, "pulumi up -s icc", [f"pulumi config set iccApiServer {api_server}", up]
    )
    return "set -euo pipefail\n" + "\n".join(lines) + "\n"


def readme_namespace(lines: list[str]) -> str:
    line = next(line for line in lines if line.startswith("pulumi config set namespace "))
    return line.split()[4]


@pytest.fixture
def admin(tmp_path, cluster, e2e_bin):
    clone = Clone(tmp_path, e2e_bin)
    clone.real_cli(e2e_bin)
    clone.env["PULUMI_IGNORE_AMBIENT_PLUGINS"] = "true"  # the providers the script installs only
    clone.env.pop("KUBECONFIG", None)
    # The kubeconfig "from the ICC login portal", saved where the README says.
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["current-context"] = cluster.context
    kube = clone.home / ".kube"
    kube.mkdir()
    (kube / "config").write_text(yaml.safe_dump(config))
    return clone


def bash(clone: Clone, script: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=clone.dir,
        env=clone.env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"{script}\n--- stdout ---\n{done.stdout[-6000:]}\n" + (
        f"--- stderr ---\n{done.stderr[-4000:]}"
    )
    return done


def test_the_readme_admin_sequence_then_make_and_bare_pulumi_agree(admin, cluster, e2e_bin):
    lines = quick_start("ICC admin: plain Pulumi")
    namespace = readme_namespace(lines)
    # What the ICC gives a user: the namespace; the volumes stand in for rook-ceph's provisioner.
    cluster.apply(
        [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}]
        + claim_volumes("icc", namespace)
    )
    launcher = policy_launcher(admin.home, admin.dir)
    api_server = stack_settings("icc", cluster)["iccApiServer"]  # kwok's, as every e2e stack

    done = bash(admin, admin_script(lines, launcher, e2e_bin, api_server))
    assert "port-forward" in done.stdout, done.stdout[-3000:]  # `pulumi stack output nextSteps`
    live = cluster.get("statefulsets", namespace)["items"]
    assert {s["metadata"]["name"] for s in live} >= {"ollama", "open-webui"}

    # The admin's first password, made by the program and read as the README says.
    password = bash(
        admin,
        "export PULUMI_CONFIG_PASSPHRASE_FILE=~/.icc-ollama/passphrase\n"
        "pulumi stack output --show-secrets webuiAdminPassword -s icc\n",
    ).stdout.strip()
    assert re.fullmatch(r"[A-Za-z0-9]{24}", password), "a generated 24-character password"

    # The same stack through make: nothing to change (make uses ~/.icc-ollama/passphrase, the
    # file the README's first line made).
    shown = admin.make(
        "preview", "STACK=icc", f"POLICY_PACK={launcher}", "ARGS=--expect-no-changes"
    )
    assert "unchanged" in shown.stdout, shown.stdout[-3000:]

    # And bare Pulumi once more, after make.
    bash(
        admin,
        "export PULUMI_CONFIG_PASSPHRASE_FILE=~/.icc-ollama/passphrase\n"
        "pulumi preview -s icc --expect-no-changes\n",
    )

    # Only what `pulumi stack init` and `pulumi config set` wrote.
    assert admin.status().split() == ["M", "Pulumi.icc.yaml"]
    stack_file = yaml.safe_load((admin.dir / "Pulumi.icc.yaml").read_text())
    assert "encryptionsalt" in stack_file
    assert stack_file["config"]["icc-ollama:namespace"] == namespace
