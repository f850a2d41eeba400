"""`make up/preview/destroy` on a fresh clone: what make adds to the Pulumi commands a user would
type, and nothing more (tests/e2e/test_first_run.py runs the same with the real CLI).

`pulumi` here is a recorder on PATH: it logs its arguments and the passphrase settings it got, and
answers `pulumi stack --show-name` as if the stacks named in $FAKE_STACKS existed.
scripts/recover.py and scripts/docker_preflight.py are replaced by recorders too (their own
tests cover them); what matters here is that make runs them, in order, before the CLI.
"""

import json
import stat
import sys

import pytest
from fresh_clone import Clone

RECORDER = """#!{python}
import json, os, sys
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps({{"argv": ["{name}", *sys.argv[1:]], "env": {{
        key: os.environ.get(key) for key in
        ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")}}}}) + "\\n")
if sys.argv[1:2] == ["stack"] and "--show-name" in sys.argv:
    stack = sys.argv[sys.argv.index("--stack") + 1]
    sys.exit(0 if stack in os.environ.get("FAKE_STACKS", "").split() else 1)
"""


@pytest.fixture
def clone(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pulumi"
    fake.write_text(RECORDER.format(python=sys.executable, name="pulumi"))
    fake.chmod(0o755)
    clone = Clone(
        tmp_path,
        bin_dir,
        replace={
            f"scripts/{name}": RECORDER.format(python=sys.executable, name=name)
            for name in ("recover.py", "docker_preflight.py")
        },
    )
    clone.env["FAKE_LOG"] = str(tmp_path / "calls.jsonl")
    return clone


def calls(clone: Clone) -> list[dict]:
    log = clone.dir.parent / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_up_makes_the_passphrase_once_then_runs_what_a_user_types(clone):
    up = clone.make("up", "STACK=minikube", "ARGS=--yes --skip-preview")
    passphrase = clone.home / ".icc-ollama" / "passphrase"
    assert "Created the stack passphrase" in up.stdout
    assert stat.S_IMODE(passphrase.stat().st_mode) == 0o600
    assert [call["argv"] for call in calls(clone)] == [
        ["pulumi", "stack", "select", "--create", "minikube", "--secrets-provider", "passphrase"],
        ["recover.py", "minikube", "up"],
        ["docker_preflight.py", "minikube"],
        ["pulumi", "up", "--stack", "minikube", "--policy-pack", "policy"]
        + ["--yes", "--skip-preview"],
    ]
    assert {call["env"]["PULUMI_CONFIG_PASSPHRASE_FILE"] for call in calls(clone)} == {
        str(passphrase)
    }
    kept = passphrase.read_bytes()
    again = clone.make("up", "STACK=minikube")
    assert "Created" not in again.stdout and passphrase.read_bytes() == kept
    assert clone.status() == ""  # the recorder writes no stack file; make itself writes none


def test_a_passphrase_of_your_own_is_used_as_given(clone):
    clone.env["PULUMI_CONFIG_PASSPHRASE"] = "my own $pass 'phrase"
    clone.make("up", "STACK=docker")
    assert not (clone.home / ".icc-ollama").exists()
    for call in calls(clone):
        assert call["env"] == {
            "PULUMI_CONFIG_PASSPHRASE": "my own $pass 'phrase",
            "PULUMI_CONFIG_PASSPHRASE_FILE": None,
        }


def test_preview_of_a_stack_not_made_yet_says_how_and_writes_nothing(clone):
    preview = clone.make("preview", "STACK=icc", ok=False)
    assert preview.returncode != 0
    assert "No stack icc yet: `make up STACK=icc` creates it" in preview.stderr
    assert [call["argv"][:2] for call in calls(clone)] == [["pulumi", "stack"]]
    assert not (clone.home / ".icc-ollama").exists() and clone.status() == ""


def test_preview_and_destroy_of_an_existing_stack(clone):
    clone.env["FAKE_STACKS"] = "icc"
    clone.make("preview", "STACK=icc")
    clone.make("destroy", "STACK=icc", "ARGS=--yes")
    argv = [call["argv"] for call in calls(clone) if call["argv"][1] != "stack"]
    assert argv == [
        ["recover.py", "icc", "preview"],
        ["docker_preflight.py", "icc"],
        ["pulumi", "preview", "--stack", "icc", "--diff", "--policy-pack", "policy"],
        ["recover.py", "icc", "destroy"],
        ["pulumi", "destroy", "--stack", "icc", "--yes"],
    ]


def test_a_broken_stack_file_is_one_line_naming_file_and_line(clone):
    (clone.dir / "Pulumi.minikube.yaml").write_text("config:\n  icc-ollama:ollama: [\n")
    up = clone.make("up", "STACK=minikube", ok=False)
    assert up.returncode != 0 and "Traceback" not in up.stderr
    [line] = [line for line in up.stderr.splitlines() if "Pulumi.minikube.yaml" in line]
    assert line.startswith("Pulumi.minikube.yaml:3:1: not valid YAML"), line
    assert calls(clone) == [], "nothing may run on a broken file"


def test_without_the_cli_make_says_how_to_install_it(clone):
    (clone.dir.parent / "bin" / "pulumi").unlink()
    up = clone.make("up", "STACK=minikube", ok=False)
    assert "The Pulumi CLI is missing" in up.stderr and "get.pulumi.com" in up.stderr
